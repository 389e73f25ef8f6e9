// Module over several devices of one process (MXNet's DataParallelExecutorGroup): 20 SGD steps
// with momentum and weight decay on cpu(0),cpu(1) equal one device with the same whole batch
// (even and uneven splits), the device copies stay bitwise equal, outputs are gathered into the
// whole batch, Predict matches, and the refused setups are ConfigErrors that say why.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "loom/comm/kvstore.h"
#include "loom/train/models.h"
#include "loom/train/module.h"

namespace loom::train {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kFeatures = 12;
constexpr int kClasses = 4;

Symbol Mlp() {
  proto::Model m;
  m.set_builtin("mlp");
  m.add_hidden(16);
  m.add_hidden(8);
  m.set_num_classes(kClasses);
  return BuildModel(m, Shape{kFeatures});
}

proto::Optimizer SgdMomentumWd() {
  proto::Optimizer o;
  o.set_name("sgd");
  o.set_lr(0.2f);
  o.set_momentum(0.9f);
  o.set_wd(1e-3f);
  return o;
}

// Random features N(0, 1) and labels drawn independently of them: the loss keeps large gradients
// for all 20 steps, which is what the comparison needs.
std::vector<DataBatch> Batches(int64_t batch, int count) {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> label(0, kClasses - 1);
  std::vector<DataBatch> out;
  for (int b = 0; b < count; ++b) {
    std::vector<float> x(static_cast<size_t>(batch * kFeatures));
    std::vector<float> y(static_cast<size_t>(batch));
    for (float& v : x) v = normal(rng);
    for (float& v : y) v = static_cast<float>(label(rng));
    DataBatch db;
    db.data = {NDArray::FromHost<float>(x, Shape{batch, kFeatures})};
    db.label = {NDArray::FromHost<float>(y, Shape{batch})};
    out.push_back(std::move(db));
  }
  return out;
}

std::unique_ptr<Module> Trained(std::vector<Context> contexts, int64_t batch, int steps) {
  auto mod = std::make_unique<Module>(Mlp(), std::vector<std::string>{"data"},
                                      std::vector<std::string>{"softmax_label"}, contexts);
  mod->Bind({{"data", Shape{batch, kFeatures}}}, {{"softmax_label", Shape{batch}}});
  mod->InitParams(*Initializer::Create(proto::Initializer()), /*seed=*/5);
  mod->InitOptimizer(SgdMomentumWd());
  for (const DataBatch& b : Batches(batch, steps)) {
    mod->Forward(b, true);
    mod->Backward();
    mod->Update();
  }
  return mod;
}

// max |a - b| / max |b| over a parameter's elements.
double RelativeDifference(const NDArray& a, const NDArray& b) {
  const std::vector<float> x = a.ToVector<float>(), y = b.ToVector<float>();
  EXPECT_EQ(x.size(), y.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(x[i]) - y[i]));
    scale = std::max(scale, std::abs(static_cast<double>(y[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

void ExpectSameTraining(int64_t batch) {
  constexpr int kSteps = 20;
  auto one = Trained({Context::CPU(0)}, batch, kSteps);
  auto two = Trained({Context::CPU(0), Context::CPU(1)}, batch, kSteps);
  const auto [one_args, one_aux] = one->GetParams();
  const auto [two_args, two_aux] = two->GetParams();
  ASSERT_EQ(one_args.size(), 6u);  // three FullyConnected layers' weight and bias
  ASSERT_EQ(two_args.size(), one_args.size());
  for (const auto& [name, reference] : one_args) {
    EXPECT_LT(RelativeDifference(two_args.at(name), reference), 1e-5) << name;
    // The parameters moved: the comparison is not between two untouched initialisations.
    const std::vector<float> init =
        Trained({Context::CPU(0)}, batch, 0)->GetParams().first.at(name).ToVector<float>();
    EXPECT_GT(RelativeDifference(reference, NDArray::FromHost<float>(init, reference.shape())),
              1e-3)
        << name;
    // Both devices' copies are bitwise equal.
    const NDArray copy1 = two->executor(1).arg_dict().at(name);
    EXPECT_EQ(copy1.ctx(), Context::CPU(1));
    EXPECT_EQ(two->executor(0).arg_dict().at(name).ToVector<float>(), copy1.ToVector<float>())
        << name;
  }
  // The optimizer state is keyed as for one device (one momentum per parameter).
  std::vector<std::string> one_keys, two_keys;
  for (const auto& [key, a] : one->optimizer().State()) one_keys.push_back(key);
  for (const auto& [key, a] : two->optimizer().State()) two_keys.push_back(key);
  EXPECT_EQ(two_keys, one_keys);
  EXPECT_EQ(one_keys.size(), 6u);
  EXPECT_EQ(two->optimizer().num_update(), kSteps);
}

TEST(ModuleMultiDevice, TwoDevicesTrainAsOneWithTheSameBatch) { ExpectSameTraining(32); }

TEST(ModuleMultiDevice, UnevenSplitTrainsAsOneWithTheSameBatch) { ExpectSameTraining(33); }

TEST(ModuleMultiDevice, OutputsAreGatheredIntoTheWholeBatch) {
  auto one = Trained({Context::CPU(0)}, 33, 3);
  auto two = Trained({Context::CPU(0), Context::CPU(1)}, 33, 3);
  EXPECT_EQ(two->batch_size(), 33);
  // Each device was bound for its slice: 16 rows, then 17.
  EXPECT_EQ(two->executor(0).arg_dict().at("data").shape(), (Shape{16, kFeatures}));
  EXPECT_EQ(two->executor(1).arg_dict().at("data").shape(), (Shape{17, kFeatures}));
  two->SetParams(one->GetParams().first, one->GetParams().second);
  const DataBatch batch = Batches(33, 1).front();
  one->Forward(batch, false);
  two->Forward(batch, false);
  const NDArray& a = one->GetOutputs().front();
  const NDArray& b = two->GetOutputs().front();
  ASSERT_EQ(b.shape(), (Shape{33, kClasses}));
  EXPECT_TRUE(b.ctx().is_host());
  EXPECT_LT(RelativeDifference(b, a), 1e-6);

  // Predict and Score over batches of another size (each device reshapes for its slice).
  auto ds = std::make_shared<Dataset>(
      MakeSynthetic(50, Shape{kFeatures}, kClasses, /*seed=*/1, /*stream=*/2));
  BatchOptions o;
  o.batch_size = 20;  // 20, 20 and 10 + 10 padding rows
  auto data = CreateDatasetIter(ds, o);
  const NDArray p1 = one->Predict(*data);
  const NDArray p2 = two->Predict(*data);
  ASSERT_EQ(p2.shape(), (Shape{50, kClasses}));
  EXPECT_LT(RelativeDifference(p2, p1), 1e-6);
  const double acc1 = one->Score(*data, {"accuracy"}).front().second;
  EXPECT_DOUBLE_EQ(two->Score(*data, {"accuracy"}).front().second, acc1);
}

TEST(ModuleMultiDevice, Group2CtxWithSeveralDevicesIsAConfigError) {
  try {
    Module mod(Mlp(), {"data"}, {"softmax_label"}, {Context::CPU(0), Context::CPU(1)},
               {{"group1", Context::CPU(1)}});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.message(), HasSubstr("trainer.group2ctx: a model split over devices (group2ctx) "
                                       "cannot also be replicated over several devices "
                                       "(trainer.context 'cpu(0),cpu(1)')"));
  }
}

TEST(ModuleMultiDevice, BatchSmallerThanTheDeviceCountIsAnError) {
  const std::vector<Context> three = {Context::CPU(0), Context::CPU(1), Context::CPU(2)};
  Module mod(Mlp(), {"data"}, {"softmax_label"}, three);
  try {
    mod.Bind({{"data", Shape{2, kFeatures}}}, {{"softmax_label", Shape{2}}});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.message(), HasSubstr("a batch of 2 rows cannot be split over the 3 devices"));
  }
  // Bound for 6 rows, a later batch of 2 (e.g. a small evaluation batch) cannot run either.
  mod.Bind({{"data", Shape{6, kFeatures}}}, {{"softmax_label", Shape{6}}});
  mod.InitParams(*Initializer::Create(proto::Initializer()), /*seed=*/5);
  try {
    mod.Forward(Batches(2, 1).front(), false);
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.message(), HasSubstr("a batch of 2 rows cannot be split over 3 devices"));
  }
}

// Several devices with a kvstore of its own (what a multi-process job hands the module): the
// store sums over the devices (and, under mpirun, the processes); in one process that equals the
// module's own device sums. Parameters are taken from "rank 0" by SyncParams on every device.
TEST(ModuleMultiDevice, SeveralDevicesWithAKVStoreTrainAsWithout) {
  constexpr int64_t kBatch = 32;
  constexpr int kSteps = 10;
  auto own = Trained({Context::CPU(0), Context::CPU(1)}, kBatch, kSteps);
  Module mod(Mlp(), {"data"}, {"softmax_label"}, {Context::CPU(0), Context::CPU(1)});
  mod.SetKVStore(comm::KVStore::Create("dist_sync"));
  mod.Bind({{"data", Shape{kBatch, kFeatures}}}, {{"softmax_label", Shape{kBatch}}});
  mod.InitParams(*Initializer::Create(proto::Initializer()), /*seed=*/5);
  mod.SyncParams();
  mod.InitOptimizer(SgdMomentumWd());
  for (const DataBatch& b : Batches(kBatch, kSteps)) {
    mod.Forward(b, true);
    mod.Backward();
    mod.Update();
  }
  for (const auto& [name, reference] : own->GetParams().first) {
    EXPECT_LT(RelativeDifference(mod.GetParams().first.at(name), reference), 1e-6) << name;
    EXPECT_EQ(mod.executor(0).arg_dict().at(name).ToVector<float>(),
              mod.executor(1).arg_dict().at(name).ToVector<float>())
        << name;
  }
}

}  // namespace
}  // namespace loom::train
