// Training on gpu(0) against the same on the CPU: every optimizer's fused update, a Module's SGD
// steps through the GPU executor, and a whole synthetic experiment with trainer.context=gpu(0)
// (checkpoint and resume included). Skipped, with the reason, where there is no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "loom/core/device_info.h"
#include "loom/core/storage.h"
#include "loom/train/checkpoint.h"
#include "loom/train/config.h"
#include "loom/train/models.h"
#include "loom/train/module.h"
#include "loom/train/optimizer.h"
#include "loom/train/trainer.h"

namespace loom::train {
namespace {

namespace fs = std::filesystem;

class GpuTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string reason = NoGpuReason(); !reason.empty()) GTEST_SKIP() << reason;
  }
};

void ExpectClose(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int misses = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > rtol * (1 + std::abs(want[i])) && misses++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: gpu " << got[i] << " cpu " << want[i];
    }
  }
}

std::vector<double> Doubles(const NDArray& a) {
  const NDArray host = a.ctx().is_host() ? a : a.CopyTo(Context::CPU());
  return host.AsType(DType::kFloat64).ToVector<double>();
}

struct RuleCase {
  std::string name;
  DType dtype;
};

class GpuOptimizerTest : public GpuTrainTest, public ::testing::WithParamInterface<RuleCase> {};

// Three updates with momentum/state, weight decay, rescaling and clipping on both devices.
TEST_P(GpuOptimizerTest, UpdatesMatchTheCpu) {
  const RuleCase& rc = GetParam();
  proto::Optimizer cfg;
  cfg.set_name(rc.name);
  cfg.set_lr(0.05f);
  cfg.set_wd(0.01f);
  cfg.set_momentum(0.9f);
  cfg.set_clip_gradient(0.8f);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> d(-1, 1);
  const int64_t n = 10007;  // not a multiple of the block size
  std::vector<double> w0(n);
  for (double& v : w0) v = d(rng);
  auto cpu = Optimizer::Create(cfg, 0.5f);
  auto gpu = Optimizer::Create(cfg, 0.5f);
  NDArray wc = NDArray::FromHost(w0, Shape{n}).AsType(rc.dtype);
  NDArray wg = wc.CopyTo(Context::GPU(0));
  for (int step = 0; step < 3; ++step) {
    std::vector<double> g(n);
    for (double& v : g) v = 2 * d(rng);
    NDArray gc = NDArray::FromHost(g, Shape{n}).AsType(rc.dtype);
    NDArray gg = gc.CopyTo(Context::GPU(0));
    cpu->BeginStep();
    gpu->BeginStep();
    cpu->Update(0, wc, gc);
    gpu->Update(0, wg, gg);
  }
  // nvcc contracts a*b+c into one rounding (FMA) where the CPU rounds twice: a few ulps apart.
  ExpectClose(Doubles(wg), Doubles(wc), rc.dtype == DType::kFloat64 ? 1e-12 : 1e-5,
              rc.name + " weight");
}

INSTANTIATE_TEST_SUITE_P(
    Rules, GpuOptimizerTest,
    ::testing::Values(RuleCase{"sgd", DType::kFloat32}, RuleCase{"sgd", DType::kFloat64},
                      RuleCase{"nag", DType::kFloat32}, RuleCase{"adam", DType::kFloat32},
                      RuleCase{"adam", DType::kFloat64}, RuleCase{"adamw", DType::kFloat32},
                      RuleCase{"rmsprop", DType::kFloat32}, RuleCase{"adagrad", DType::kFloat32}),
    [](const ::testing::TestParamInfo<RuleCase>& info) {
      return info.param.name + "_" + ToString(info.param.dtype);
    });

// Ten SGD steps of MXNet's LeNet on `contexts` from the parameters initialised with seed 11 (drawn
// on the host, the same for every device), on fixed random batches of 16 images.
std::unique_ptr<Module> TrainLeNet(const std::vector<Context>& contexts) {
  proto::Model m;
  m.set_builtin("lenet");
  m.set_num_classes(10);
  auto mod = std::make_unique<Module>(BuildModel(m, Shape{1, 28, 28}),
                                      std::vector<std::string>{"data"},
                                      std::vector<std::string>{"softmax_label"}, contexts);
  mod->Bind({{"data", Shape{16, 1, 28, 28}}}, {{"softmax_label", Shape{16}}});
  mod->InitParams(*Initializer::Create(proto::Initializer()), 11);
  proto::Optimizer sgd;
  sgd.set_name("sgd");
  sgd.set_lr(0.05f);
  sgd.set_momentum(0.9f);
  mod->InitOptimizer(sgd);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> pixel(0, 1);
  std::uniform_int_distribution<int> cls(0, 9);
  for (int step = 0; step < 10; ++step) {
    std::vector<float> x(16 * 28 * 28), y(16);
    for (float& v : x) v = pixel(rng);
    for (float& v : y) v = static_cast<float>(cls(rng));
    DataBatch batch;
    batch.data = {NDArray::FromHost<float>(x, {16, 1, 28, 28})};
    batch.label = {NDArray::FromHost<float>(y, {16})};
    mod->Forward(batch, true);
    mod->Backward();
    mod->Update();
  }
  return mod;
}

void ExpectSameParams(const Module& got, const Module& want, double rtol) {
  const auto [got_args, got_aux] = got.GetParams();
  const auto [want_args, want_aux] = want.GetParams();
  for (const auto& [name, value] : want_args) {
    ExpectClose(Doubles(got_args.at(name)), Doubles(value), rtol, name);
  }
  for (const auto& [name, value] : want_aux) {
    ExpectClose(Doubles(got_aux.at(name)), Doubles(value), rtol, name);
  }
}

// MXNet's LeNet (convolution, tanh, pooling, fully connected, softmax) trained 10 SGD steps from
// the same parameters on cpu(0) and gpu(0).
TEST_F(GpuTrainTest, ModuleStepsMatchTheCpu) {
  ExpectSameParams(*TrainLeNet({Context::GPU(0)}), *TrainLeNet({Context::CPU()}), 1e-3);
}

// Data parallel over two GPUs in one process (batch split, gradients summed with the device
// kvstore) ends where one GPU does.
TEST_F(GpuTrainTest, TwoGpusInOneProcessTrainLikeOne) {
  if (NumGpus() < 2) GTEST_SKIP() << "needs 2 GPUs, this machine has " << NumGpus();
  ExpectSameParams(*TrainLeNet({Context::GPU(0), Context::GPU(1)}), *TrainLeNet({Context::GPU(0)}),
                   1e-4);
}

// trainer.context=gpu(0) end to end: it learns the synthetic task, and a resumed run ends where
// an uninterrupted one does.
TEST_F(GpuTrainTest, SyntheticExperimentOnGpuLearnsAndResumes) {
  const fs::path root = fs::temp_directory_path() / ("loom_gpu_train_" + std::to_string(getpid()));
  fs::remove_all(root);
  auto experiment = [&](const std::string& run, int epochs) {
    proto::Experiment e = ParseExperiment(R"yaml(
name: synthetic_gpu
model: {builtin: mlp, hidden: [32], num_classes: 4}
data:
  train: {source: synthetic, split: train, num_samples: 256, shape: [40], num_classes: 4, seed: 3}
  val: {source: synthetic, split: test, num_samples: 128, shape: [40], num_classes: 4, seed: 3}
  batch_size: 32
optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
trainer: {epochs: 2, seed: 7, context: "gpu(0)", metrics: [accuracy]}
checkpoint: {every_epochs: 1}
logging: {progress: none}
)yaml",
                                          "synthetic_gpu.yaml");
    e.mutable_trainer()->set_epochs(epochs);
    e.mutable_logging()->set_run_dir((root / run).string());
    return e;
  };
  std::ostringstream out, err;
  RunOptions options;
  RunReport full;
  options.report = &full;
  ASSERT_EQ(RunExperiment(experiment("full", 2), out, err, options), 0) << err.str();
  double val_accuracy = 0;
  for (const auto& [k, v] : full.final_metrics) {
    if (k == "val_accuracy") val_accuracy = v;
  }
  EXPECT_GT(val_accuracy, 0.9) << out.str();

  RunReport first;
  options.report = &first;
  ASSERT_EQ(RunExperiment(experiment("resumed", 1), out, err, options), 0) << err.str();
  proto::Experiment more = experiment("resumed", 2);
  more.mutable_checkpoint()->set_resume("auto");
  RunReport second;
  options.report = &second;
  ASSERT_EQ(RunExperiment(more, out, err, options), 0) << err.str();
  const proto::CheckpointFile a = LoadCheckpoint(full.checkpoints.back());
  const proto::CheckpointFile b = LoadCheckpoint(second.checkpoints.back());
  ASSERT_EQ(a.arg_params_size(), b.arg_params_size());
  for (int i = 0; i < a.arg_params_size(); ++i) {
    EXPECT_EQ(a.arg_params(i).data(), b.arg_params(i).data()) << a.arg_params(i).name();
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace loom::train
