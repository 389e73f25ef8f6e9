// Optimizer::State / LoadState: named state arrays and the update count let a run stop and
// continue with bitwise the results of a run that never stopped; bad state is a CheckpointError.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "loom/scheduler/error.h"
#include "loom/train/optimizer.h"

namespace loom::train {
namespace {

proto::Optimizer Config(const std::string& name) {
  proto::Optimizer cfg;
  cfg.set_name(name);
  cfg.set_lr(0.05f);
  cfg.set_momentum(name == "sgd" || name == "nag" ? 0.9f : 0.0f);
  cfg.set_wd(1e-3f);
  cfg.set_clip_gradient(0.8f);
  // A schedule whose rate changes during the run (and Adam's bias correction depends on the
  // count), so a wrong update count after resuming would show.
  cfg.mutable_lr_schedule()->set_type("factor");
  cfg.mutable_lr_schedule()->set_step(3);
  cfg.mutable_lr_schedule()->set_factor(0.7f);
  cfg.mutable_lr_schedule()->set_warmup_steps(2);
  cfg.mutable_lr_schedule()->set_warmup_begin_lr(0.01f);
  return cfg;
}

struct Model {
  NDArray weight;  // (64, 33) float32
  NDArray bias;    // (64) float32
};

Model InitialModel() {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0, 1);
  std::vector<float> w(64 * 33), b(64);
  for (float& v : w) v = dist(rng);
  for (float& v : b) v = dist(rng);
  return {NDArray::FromHost<float>(w, {64, 33}), NDArray::FromHost<float>(b, {64})};
}

// Gradients of step `step` (deterministic).
std::pair<NDArray, NDArray> Grads(int step) {
  std::mt19937 rng(100 + step);
  std::normal_distribution<float> dist(0, 1);
  std::vector<float> w(64 * 33), b(64);
  for (float& v : w) v = dist(rng);
  for (float& v : b) v = dist(rng);
  return {NDArray::FromHost<float>(w, {64, 33}), NDArray::FromHost<float>(b, {64})};
}

std::unique_ptr<Optimizer> MakeOptimizer(const std::string& name) {
  auto opt = Optimizer::Create(Config(name), 1.0f / 16);
  opt->SetParam(0, "fc1_weight", 1.0f, 1.0f);
  opt->SetParam(1, "fc1_bias", 2.0f, 0.0f);
  return opt;
}

void Steps(Optimizer* opt, Model* model, int first, int last) {
  for (int step = first; step < last; ++step) {
    auto [gw, gb] = Grads(step);
    opt->BeginStep();
    opt->Update(0, model->weight, gw);
    opt->Update(1, model->bias, gb);
  }
}

NDArray Copy(const NDArray& a) { return NDArray::FromHost<float>(a.ToVector<float>(), a.shape()); }

bool BitwiseEqual(const NDArray& a, const NDArray& b) {
  const auto x = a.ToVector<float>(), y = b.ToVector<float>();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

class OptimStateTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimStateTest, ResumeIsBitwiseEqualToAnUninterruptedRun) {
  const std::string name = GetParam();
  Model straight = InitialModel();
  auto opt_a = MakeOptimizer(name);
  Steps(opt_a.get(), &straight, 0, 10);

  Model first = InitialModel();
  auto opt_b = MakeOptimizer(name);
  Steps(opt_b.get(), &first, 0, 4);
  const std::map<std::string, NDArray> saved = opt_b->State();
  const int64_t saved_update = opt_b->num_update();
  Model resumed{Copy(first.weight), Copy(first.bias)};
  opt_b.reset();

  auto opt_c = MakeOptimizer(name);
  opt_c->LoadState(saved, saved_update);
  EXPECT_EQ(opt_c->num_update(), 4);
  Steps(opt_c.get(), &resumed, 4, 10);

  EXPECT_TRUE(BitwiseEqual(straight.weight, resumed.weight)) << name;
  EXPECT_TRUE(BitwiseEqual(straight.bias, resumed.bias)) << name;
  const auto state_a = opt_a->State(), state_c = opt_c->State();
  ASSERT_EQ(state_a.size(), state_c.size());
  for (const auto& [key, array] : state_a) {
    EXPECT_TRUE(BitwiseEqual(array, state_c.at(key))) << name << " " << key;
  }
}

TEST_P(OptimStateTest, StateKeysAreParameterSlashSlot) {
  const std::string name = GetParam();
  Model model = InitialModel();
  auto opt = MakeOptimizer(name);
  Steps(opt.get(), &model, 0, 1);
  std::vector<std::string> keys;
  for (const auto& [key, array] : opt->State()) {
    keys.push_back(key);
    EXPECT_EQ(array.dtype(), DType::kFloat32);
  }
  std::vector<std::string> want;
  for (const char* param : {"fc1_bias", "fc1_weight"}) {
    for (const std::string& slot : opt->slots()) want.push_back(std::string(param) + "/" + slot);
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys, want);
}

INSTANTIATE_TEST_SUITE_P(Optim, OptimStateTest,
                         ::testing::Values("sgd", "nag", "adam", "adamw", "rmsprop", "adagrad"),
                         [](const auto& info) { return info.param; });

TEST(OptimStateSlotsTest, SlotNames) {
  auto slots = [](const std::string& name, float momentum) {
    proto::Optimizer cfg;
    cfg.set_name(name);
    cfg.set_momentum(momentum);
    return Optimizer::Create(cfg, 1.0f)->slots();
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(slots("sgd", 0), V{});
  EXPECT_EQ(slots("sgd", 0.9f), V{"momentum"});
  EXPECT_EQ(slots("nag", 0.9f), V{"momentum"});
  EXPECT_EQ(slots("adam", 0), (V{"mean", "var"}));
  EXPECT_EQ(slots("adamw", 0), (V{"mean", "var"}));
  EXPECT_EQ(slots("rmsprop", 0), V{"n"});
  EXPECT_EQ(slots("adagrad", 0), V{"history"});
}

TEST(OptimStateSlotsTest, StateIsACopy) {
  Model model = InitialModel();
  auto opt = MakeOptimizer("adam");
  Steps(opt.get(), &model, 0, 1);
  const auto before = opt->State();
  const std::vector<float> mean = before.at("fc1_bias/mean").ToVector<float>();
  Steps(opt.get(), &model, 1, 2);
  EXPECT_EQ(before.at("fc1_bias/mean").ToVector<float>(), mean);
  EXPECT_NE(opt->State().at("fc1_bias/mean").ToVector<float>(), mean);
}

TEST(OptimStateErrorTest, UnknownParameterOrSlotIsACheckpointError) {
  Model model = InitialModel();
  auto opt = MakeOptimizer("adam");
  Steps(opt.get(), &model, 0, 1);
  auto state = opt->State();

  auto other = MakeOptimizer("adam");
  auto unknown = state;
  unknown["fc2_weight/mean"] = NDArray::Zeros({3});
  try {
    other->LoadState(unknown, 1);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("fc2_weight/mean"), std::string::npos) << e.what();
  }

  auto sgd = MakeOptimizer("sgd");
  try {
    sgd->LoadState(state, 1);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("slot"), std::string::npos) << e.what();
  }

  auto missing = state;
  missing.erase("fc1_weight/var");
  try {
    other->LoadState(missing, 1);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("fc1_weight/var"), std::string::npos) << e.what();
  }
}

TEST(OptimStateErrorTest, WrongShapeIsReportedAtTheNextUpdate) {
  auto opt = MakeOptimizer("rmsprop");
  opt->LoadState({{"fc1_bias/n", NDArray::Zeros({3})}}, 5);
  Model model = InitialModel();
  opt->BeginStep();
  try {
    opt->Update(1, model.bias, NDArray::Zeros({64}));
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("fc1_bias/n"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(64)"), std::string::npos) << e.what();
  }
}

TEST(OptimStateErrorTest, LoadStateBeforeAnyUpdateRoundTrips) {
  Model model = InitialModel();
  auto opt = MakeOptimizer("nag");
  Steps(opt.get(), &model, 0, 2);
  const auto state = opt->State();
  auto fresh = MakeOptimizer("nag");
  fresh->LoadState(state, 2);
  const auto again = fresh->State();
  ASSERT_EQ(again.size(), state.size());
  for (const auto& [key, array] : state) EXPECT_TRUE(BitwiseEqual(array, again.at(key))) << key;
}

}  // namespace
}  // namespace loom::train
