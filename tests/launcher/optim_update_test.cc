// Optimizer update rules: the first updates of every optimizer against hand-computed values and
// against an independent scalar reference of MXNet 1.9.1's rules (written here in double, in
// textbook form), lr_mult/wd_mult, rescale_grad, clip_gradient, float32 and float64, large
// (parallel) tensors, asynchronous updates, errors, and convergence on a quadratic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "loom/scheduler/error.h"
#include "loom/train/optimizer.h"

namespace loom::train {
namespace {

// Hyper-parameters of the scalar reference (clip < 0: off).
struct Hyper {
  double lr = 0.01;
  double wd = 0;
  double rescale = 1;
  double clip = -1;
  double momentum = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double rho = 0.9;
};

double ClipRef(double x, double c) { return c < 0 ? x : std::min(std::max(x, -c), c); }

// One element's state in the reference.
struct RefState {
  double a = 0;  // momentum / mean / n / history
  double b = 0;  // var
};

// MXNet's rules, written in textbook form (t = the update count, from 1).
void RefStep(const std::string& name, const Hyper& h, int t, double g, double* w, RefState* s) {
  if (name == "sgd") {
    // v = momentum * v - lr * (wd * w + clip(rescale * g)); w += v
    s->a = h.momentum * s->a - h.lr * (h.wd * *w + ClipRef(h.rescale * g, h.clip));
    *w += s->a;
  } else if (name == "nag" && h.momentum == 0) {
    *w = *w - h.lr * (h.wd * *w + ClipRef(h.rescale * g, h.clip));
  } else if (name == "nag") {
    // m' = momentum * m; w1 = w + momentum * m' - (1 + momentum) * lr * (gc + wd * w);
    // m = m' - lr * (gc + wd * w1)  (MXNet's in-place kernel sees the new weight there)
    const double gc = ClipRef(h.rescale * g, h.clip);
    const double m = h.momentum * s->a;
    const double w1 = *w + h.momentum * m - (1 + h.momentum) * h.lr * (gc + h.wd * *w);
    s->a = m - h.lr * (gc + h.wd * w1);
    *w = w1;
  } else if (name == "adam") {
    const double gr = ClipRef(h.rescale * g + h.wd * *w, h.clip);
    s->a = h.beta1 * s->a + (1 - h.beta1) * gr;
    s->b = h.beta2 * s->b + (1 - h.beta2) * gr * gr;
    // MXNet hands the bias-corrected rate to its kernel as a float parameter.
    const double lr_t =
        static_cast<float>(h.lr * std::sqrt(1 - std::pow(h.beta2, t)) / (1 - std::pow(h.beta1, t)));
    *w -= lr_t * s->a / (std::sqrt(s->b) + h.eps);
  } else if (name == "adamw") {
    const double gr = ClipRef(h.rescale * g, h.clip);
    s->a = h.beta1 * s->a + (1 - h.beta1) * gr;
    s->b = h.beta2 * s->b + (1 - h.beta2) * gr * gr;
    const double eta =
        static_cast<float>(h.lr * std::sqrt(1 - std::pow(h.beta2, t)) / (1 - std::pow(h.beta1, t)));
    *w -= eta * (s->a / (std::sqrt(s->b) + h.eps) + h.wd * *w);
  } else if (name == "rmsprop") {
    const double gr = ClipRef(h.rescale * g + h.wd * *w, h.clip);
    s->a = h.rho * s->a + (1 - h.rho) * gr * gr;
    *w -= h.lr * gr / std::sqrt(s->a + h.eps);
  } else if (name == "adagrad") {
    const double gr = ClipRef(h.rescale * g, h.clip);
    s->a += gr * gr;
    *w -= h.lr * (gr / std::sqrt(s->a + h.eps) + h.wd * *w);
  } else {
    ADD_FAILURE() << "no reference for " << name;
  }
}

proto::Optimizer Config(const std::string& name, const Hyper& h) {
  proto::Optimizer cfg;
  cfg.set_name(name);
  cfg.set_lr(static_cast<float>(h.lr));
  cfg.set_wd(static_cast<float>(h.wd));
  cfg.set_rescale_grad(static_cast<float>(h.rescale));
  cfg.set_clip_gradient(static_cast<float>(h.clip));
  cfg.set_momentum(static_cast<float>(h.momentum));
  cfg.set_beta1(static_cast<float>(h.beta1));
  cfg.set_beta2(static_cast<float>(h.beta2));
  cfg.set_epsilon(static_cast<float>(h.eps));
  cfg.set_rho(static_cast<float>(h.rho));
  return cfg;
}

// Runs one parameter through grads.size() steps; returns the weights after each step.
template <typename T>
std::vector<std::vector<T>> RunSteps(Optimizer* opt, const std::vector<T>& w0,
                                     const std::vector<std::vector<T>>& grads) {
  const Shape shape{static_cast<int64_t>(w0.size())};
  NDArray w = NDArray::FromHost<T>(w0, shape);
  std::vector<std::vector<T>> out;
  for (const auto& g : grads) {
    opt->BeginStep();
    opt->Update(0, w, NDArray::FromHost<T>(g, shape));
    out.push_back(w.ToVector<T>());
  }
  return out;
}

std::vector<std::vector<double>> Reference(const std::string& name, const Hyper& h,
                                           const std::vector<double>& w0,
                                           const std::vector<std::vector<double>>& grads) {
  std::vector<double> w = w0;
  std::vector<RefState> state(w0.size());
  std::vector<std::vector<double>> out;
  for (size_t t = 0; t < grads.size(); ++t) {
    for (size_t i = 0; i < w.size(); ++i) {
      RefStep(name, h, static_cast<int>(t + 1), grads[t][i], &w[i], &state[i]);
    }
    out.push_back(w);
  }
  return out;
}

// Hyper-parameters that are exact in float (dyadic), so float64 runs match the double reference
// to rounding; clipping bites for some of the gradients below.
Hyper Dyadic(const std::string& name) {
  Hyper h;
  h.lr = 0.125;
  h.wd = 0.25;
  h.rescale = 0.5;
  h.clip = 0.75;
  h.momentum = name == "sgd" || name == "nag" ? 0.5 : 0;
  h.beta1 = 0.5;
  h.beta2 = 0.75;
  h.eps = 1.0 / 1024;
  h.rho = 0.75;
  return h;
}

const std::vector<double> kW0 = {1.0, -0.5, 0.25, 2.0, -3.0};
const std::vector<std::vector<double>> kGrads = {{0.5, -1.0, 3.0, 0.0, -4.0},
                                                 {1.5, 0.25, -2.0, 1.0, 0.5},
                                                 {-0.75, 2.5, 0.125, -1.0, 1.0},
                                                 {0.3, -0.2, 0.1, 2.0, -2.0}};

class OptimRuleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimRuleTest, Float64MatchesScalarReference) {
  const std::string name = GetParam();
  const Hyper h = Dyadic(name);
  auto opt = Optimizer::Create(Config(name, h), 1.0f);
  const auto got = RunSteps<double>(opt.get(), kW0, kGrads);
  const auto want = Reference(name, h, kW0, kGrads);
  for (size_t t = 0; t < want.size(); ++t) {
    for (size_t i = 0; i < kW0.size(); ++i) {
      EXPECT_NEAR(got[t][i], want[t][i], 1e-12) << name << " step " << t + 1 << " element " << i;
    }
  }
}

TEST_P(OptimRuleTest, Float32MatchesScalarReferenceWithoutClipping) {
  const std::string name = GetParam();
  Hyper h = Dyadic(name);
  h.clip = -1;
  auto opt = Optimizer::Create(Config(name, h), 1.0f);
  std::vector<float> w0(kW0.begin(), kW0.end());
  std::vector<std::vector<float>> grads;
  for (const auto& g : kGrads) grads.emplace_back(g.begin(), g.end());
  const auto got = RunSteps<float>(opt.get(), w0, grads);
  const auto want = Reference(name, h, kW0, kGrads);
  for (size_t t = 0; t < want.size(); ++t) {
    for (size_t i = 0; i < kW0.size(); ++i) {
      EXPECT_NEAR(got[t][i], want[t][i], 2e-6 * (1 + std::abs(want[t][i])))
          << name << " step " << t + 1 << " element " << i;
    }
  }
}

// 100000 elements: the update runs in parallel chunks; each element still follows the rule.
TEST_P(OptimRuleTest, LargeTensorMatchesReference) {
  const std::string name = GetParam();
  const Hyper h = Dyadic(name);
  const int64_t n = 100000;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> dist(-2, 2);
  std::vector<double> w0(n);
  for (double& v : w0) v = dist(rng);
  std::vector<std::vector<double>> grads(3, std::vector<double>(n));
  for (auto& g : grads) {
    for (double& v : g) v = dist(rng);
  }
  auto opt = Optimizer::Create(Config(name, h), 1.0f);
  const auto got = RunSteps<double>(opt.get(), w0, grads);
  const auto want = Reference(name, h, w0, grads);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(got[2][i] - want[2][i]));
  EXPECT_LT(worst, 1e-12) << name;
}

TEST_P(OptimRuleTest, LrMultAndWdMultScaleThisParameterOnly) {
  const std::string name = GetParam();
  const Hyper h = Dyadic(name);
  auto opt = Optimizer::Create(Config(name, h), 1.0f);
  opt->SetParam(0, "fc1_weight", 2.0f, 0.5f);
  opt->SetParam(1, "fc1_bias", 1.0f, 0.0f);
  NDArray w0 = NDArray::FromHost<double>(kW0, {5});
  NDArray w1 = NDArray::FromHost<double>(kW0, {5});
  for (const auto& g : kGrads) {
    opt->BeginStep();
    NDArray grad = NDArray::FromHost<double>(g, {5});
    opt->Update(0, w0, grad);
    opt->Update(1, w1, grad);
  }
  Hyper h0 = h;
  h0.lr *= 2;
  h0.wd *= 0.5;
  Hyper h1 = h;
  h1.wd = 0;
  const auto want0 = Reference(name, h0, kW0, kGrads).back();
  const auto want1 = Reference(name, h1, kW0, kGrads).back();
  const auto got0 = w0.ToVector<double>(), got1 = w1.ToVector<double>();
  for (size_t i = 0; i < kW0.size(); ++i) {
    EXPECT_NEAR(got0[i], want0[i], 1e-12) << name << " element " << i;
    EXPECT_NEAR(got1[i], want1[i], 1e-12) << name << " element " << i;
  }
}

// An optimizer minimising f(w) = 1/2 sum a_i (w_i - c_i)^2 reaches c.
TEST_P(OptimRuleTest, MinimisesAQuadratic) {
  const std::string name = GetParam();
  proto::Optimizer cfg;
  cfg.set_name(name);
  cfg.set_lr(name == "sgd" || name == "nag" ? 0.1f : name == "adagrad" ? 0.5f : 0.05f);
  cfg.set_momentum(name == "sgd" || name == "nag" ? 0.9f : 0.0f);
  cfg.mutable_lr_schedule()->set_type("cosine");
  cfg.mutable_lr_schedule()->set_max_update(1500);
  auto opt = Optimizer::Create(cfg, 1.0f);
  const std::vector<double> a = {1.0, 2.0, 0.5, 4.0}, c = {3.0, -1.0, 0.5, 2.0};
  NDArray w = NDArray::FromHost<double>({0.0, 0.0, 0.0, 0.0}, {4});
  for (int step = 0; step < 1500; ++step) {
    const std::vector<double> wv = w.ToVector<double>();
    std::vector<double> g(4);
    for (int i = 0; i < 4; ++i) g[i] = a[i] * (wv[i] - c[i]);
    opt->BeginStep();
    opt->Update(0, w, NDArray::FromHost<double>(g, {4}));
  }
  const std::vector<double> wv = w.ToVector<double>();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(wv[i], c[i], 1e-3) << name << " element " << i;
}

INSTANTIATE_TEST_SUITE_P(Optim, OptimRuleTest,
                         ::testing::Values("sgd", "nag", "adam", "adamw", "rmsprop", "adagrad"),
                         [](const auto& info) { return info.param; });

// First updates computed by hand, float32 as in training.
TEST(OptimHandComputedTest, SgdMomentumWeightDecayRescale) {
  proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_lr(0.1f);
  cfg.set_momentum(0.9f);
  cfg.set_wd(0.01f);
  auto opt = Optimizer::Create(cfg, /*default_rescale_grad=*/0.5f);
  // v1 = -0.1 * (0.01 * 1 + 0.5 * 2) = -0.101, w1 = 0.899
  // v2 = 0.9 * -0.101 - 0.1 * (0.01 * 0.899 + 1) = -0.191799, w2 = 0.707201
  const auto w = RunSteps<float>(opt.get(), {1.0f}, {{2.0f}, {2.0f}});
  EXPECT_NEAR(w[0][0], 0.899f, 1e-6);
  EXPECT_NEAR(w[1][0], 0.707201f, 1e-6);
  EXPECT_NEAR(opt->State().at("param 0/momentum").ToVector<float>()[0], -0.191799f, 1e-6);
}

TEST(OptimHandComputedTest, PlainSgdKeepsNoState) {
  proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_lr(0.5f);
  auto opt = Optimizer::Create(cfg, 1.0f);
  const auto w = RunSteps<float>(opt.get(), {1.0f, 2.0f}, {{1.0f, -2.0f}});
  EXPECT_FLOAT_EQ(w[0][0], 0.5f);
  EXPECT_FLOAT_EQ(w[0][1], 3.0f);
  EXPECT_TRUE(opt->State().empty());
  EXPECT_TRUE(opt->slots().empty());
}

TEST(OptimHandComputedTest, Nag) {
  proto::Optimizer cfg;
  cfg.set_name("nag");
  cfg.set_lr(0.1f);
  cfg.set_momentum(0.9f);
  auto opt = Optimizer::Create(cfg, 1.0f);
  // w1 = 1 - 1.9 * 0.1 * 1 = 0.81, m1 = -0.1;
  // m' = -0.09, w2 = 0.81 + 0.9 * -0.09 - 1.9 * 0.1 = 0.539, m2 = -0.19
  const auto w = RunSteps<float>(opt.get(), {1.0f}, {{1.0f}, {1.0f}});
  EXPECT_NEAR(w[0][0], 0.81f, 1e-6);
  EXPECT_NEAR(w[1][0], 0.539f, 1e-6);
  EXPECT_NEAR(opt->State().at("param 0/momentum").ToVector<float>()[0], -0.19f, 1e-6);
}

TEST(OptimHandComputedTest, AdamFirstStepMovesByTheLearningRate) {
  proto::Optimizer cfg;
  cfg.set_name("adam");
  cfg.set_lr(0.01f);
  auto opt = Optimizer::Create(cfg, 1.0f);
  // t = 1: m = 0.1 g, v = 0.001 g^2, lr_t = 0.01 * sqrt(0.001) / 0.1, so the step is
  // lr_t * 0.1 g / (sqrt(0.001) |g| + 1e-8) = 0.01 * sign(g) up to epsilon.
  const auto w = RunSteps<float>(opt.get(), {1.0f, 1.0f}, {{0.5f, -3.0f}});
  EXPECT_NEAR(w[0][0], 0.99f, 1e-6);
  EXPECT_NEAR(w[0][1], 1.01f, 1e-6);
  const auto state = opt->State();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_NEAR(state.at("param 0/mean").ToVector<float>()[0], 0.05f, 1e-7);
  // (1 - beta2) in float, as MXNet's kernel computes it: (1.f - 0.999f) * 9
  EXPECT_FLOAT_EQ(state.at("param 0/var").ToVector<float>()[1], (1.0f - 0.999f) * 3.0f * 3.0f);
}

TEST(OptimHandComputedTest, AdamWDecaysTheWeightDecoupled) {
  proto::Optimizer cfg;
  cfg.set_name("adamw");
  cfg.set_lr(0.01f);
  cfg.set_wd(0.1f);
  auto opt = Optimizer::Create(cfg, 1.0f);
  // eta = 0.01 * sqrt(0.001) / 0.1; w = 2 - eta * (0.1 g / (sqrt(0.001) |g| + 1e-8) + 0.1 * 2)
  const double eta = 0.01 * std::sqrt(0.001) / 0.1;
  const auto w = RunSteps<float>(opt.get(), {2.0f}, {{4.0f}});
  EXPECT_NEAR(w[0][0], 2.0 - eta * (0.1 / std::sqrt(0.001) + 0.2), 1e-6);
}

TEST(OptimHandComputedTest, RmsProp) {
  proto::Optimizer cfg;
  cfg.set_name("rmsprop");
  cfg.set_lr(0.01f);
  auto opt = Optimizer::Create(cfg, 1.0f);
  // n = 0.1 * 1, w = 1 - 0.01 * 1 / sqrt(0.1 + 1e-8) = 0.968377...
  const auto w = RunSteps<float>(opt.get(), {1.0f}, {{1.0f}});
  EXPECT_NEAR(w[0][0], 1.0 - 0.01 / std::sqrt(0.1 + 1e-8), 1e-6);
  EXPECT_NEAR(opt->State().at("param 0/n").ToVector<float>()[0], 0.1f, 1e-7);
}

TEST(OptimHandComputedTest, AdaGrad) {
  proto::Optimizer cfg;
  cfg.set_name("adagrad");
  cfg.set_lr(0.1f);
  cfg.set_epsilon(1e-7f);
  auto opt = Optimizer::Create(cfg, 1.0f);
  // h = 4, w = 1 - 0.1 * 2 / sqrt(4 + 1e-7); then h = 8, w -= 0.1 * 2 / sqrt(8 + 1e-7)
  const auto w = RunSteps<float>(opt.get(), {1.0f}, {{2.0f}, {2.0f}});
  EXPECT_NEAR(w[0][0], 0.9, 1e-6);
  EXPECT_NEAR(w[1][0], 0.9 - 0.2 / std::sqrt(8.0), 1e-6);
  EXPECT_FLOAT_EQ(opt->State().at("param 0/history").ToVector<float>()[0], 8.0f);
}

TEST(OptimClipTest, ClipGradientBoundsTheRescaledGradient) {
  proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_lr(1.0f);
  cfg.set_rescale_grad(0.5f);
  cfg.set_clip_gradient(1.0f);
  auto opt = Optimizer::Create(cfg, 0.25f);  // the configured rescale_grad wins
  // rescaled: 0.5 * {10, -10, 1, NaN} -> clipped {1, -1, 0.5, NaN}
  const auto w = RunSteps<float>(opt.get(), {0.0f, 0.0f, 0.0f, 0.0f}, {{10.0f, -10.0f, 1.0f, NAN}});
  EXPECT_FLOAT_EQ(w[0][0], -1.0f);
  EXPECT_FLOAT_EQ(w[0][1], 1.0f);
  EXPECT_FLOAT_EQ(w[0][2], -0.5f);
  EXPECT_TRUE(std::isnan(w[0][3]));
}

TEST(OptimClipTest, NonPositiveClipGradientIsOff) {
  proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_lr(1.0f);
  cfg.set_clip_gradient(0.0f);
  auto opt = Optimizer::Create(cfg, 0.25f);  // no rescale_grad configured: the default
  const auto w = RunSteps<float>(opt.get(), {0.0f}, {{10.0f}});
  EXPECT_FLOAT_EQ(w[0][0], -2.5f);
}

TEST(OptimClipTest, AdamClipsAfterAddingWeightDecayAdamWBefore) {
  // Adam (as MXNet's adam_update): clip(rescale * g + wd * w); AdamW: clip(rescale * g).
  for (const std::string name : {"adam", "adamw"}) {
    Hyper h;
    h.lr = 0.125;
    h.wd = 4;
    h.clip = 1;
    h.beta1 = 0.5;
    h.beta2 = 0.75;
    h.eps = 1.0 / 1024;
    auto opt = Optimizer::Create(Config(name, h), 1.0f);
    const auto got = RunSteps<double>(opt.get(), {1.0}, {{0.5}});
    const auto want = Reference(name, h, {1.0}, {{0.5}});
    EXPECT_NEAR(got[0][0], want[0][0], 1e-9) << name;
  }
}

TEST(OptimScheduleTest, UpdatesUseTheScheduledRate) {
  proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_lr(1.0f);
  cfg.mutable_lr_schedule()->set_type("factor");
  cfg.mutable_lr_schedule()->set_step(2);
  cfg.mutable_lr_schedule()->set_factor(0.5f);
  auto opt = Optimizer::Create(cfg, 1.0f);
  EXPECT_EQ(opt->num_update(), 0);
  EXPECT_FLOAT_EQ(opt->learning_rate(), 1.0f);
  // Updates 1, 2 at rate 1; 3, 4 at 0.5; 5 at 0.25 (a gradient of 1 moves w by the rate).
  const auto w = RunSteps<float>(opt.get(), {0.0f}, {{1.0f}, {1.0f}, {1.0f}, {1.0f}, {1.0f}});
  EXPECT_FLOAT_EQ(w[0][0], -1.0f);
  EXPECT_FLOAT_EQ(w[1][0], -2.0f);
  EXPECT_FLOAT_EQ(w[2][0], -2.5f);
  EXPECT_FLOAT_EQ(w[3][0], -3.0f);
  EXPECT_FLOAT_EQ(w[4][0], -3.25f);
  EXPECT_EQ(opt->num_update(), 5);
  EXPECT_FLOAT_EQ(opt->learning_rate(), 0.25f);
}

TEST(OptimAsyncTest, UpdateIsPushedBehindPendingWritesToTheGradient) {
  if (Engine::Get().kind() == "naive") GTEST_SKIP() << "the naive engine runs pushes inline";
  proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_lr(1.0f);
  auto opt = Optimizer::Create(cfg, 1.0f);
  NDArray w = NDArray::FromHost<float>({1.0f}, {1});
  NDArray g = NDArray::FromHost<float>({0.0f}, {1});
  w.WaitToRead();
  g.WaitToRead();
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  float* g_data = g.data<float>();
  // A writer of the gradient that holds until the gate opens, then writes 2.
  Engine::Get().Push(
      [open, g_data](RunContext) {
        open.wait();
        g_data[0] = 2.0f;
      },
      g.ctx(), {}, {g.var()}, 0, "gate");
  const uint64_t version = w.version();
  opt->BeginStep();
  opt->Update(0, w, g);  // returns at once: the update waits for the writer in the engine
  EXPECT_EQ(w.version(), version);
  gate.set_value();
  EXPECT_FLOAT_EQ(w.ToVector<float>()[0], -1.0f);  // 1 - 1 * 2: it read the written gradient
}

TEST(OptimParamsTest, MultsFromAttributesFollowMXNet) {
  EXPECT_FLOAT_EQ(MultsFromAttrs("fc1_weight", {}).wd_mult, 1.0f);
  EXPECT_FLOAT_EQ(MultsFromAttrs("bn_gamma", {}).wd_mult, 1.0f);
  EXPECT_FLOAT_EQ(MultsFromAttrs("fc1_bias", {}).wd_mult, 0.0f);
  EXPECT_FLOAT_EQ(MultsFromAttrs("bn_beta", {}).wd_mult, 0.0f);
  EXPECT_FLOAT_EQ(MultsFromAttrs("fc1_bias", {}).lr_mult, 1.0f);
  const ParamMults m =
      MultsFromAttrs("fc1_weight", {{"__lr_mult__", "1.2"}, {"__wd_mult__", "0.3"}});
  EXPECT_FLOAT_EQ(m.lr_mult, 1.2f);
  EXPECT_FLOAT_EQ(m.wd_mult, 0.3f);
  EXPECT_FLOAT_EQ(MultsFromAttrs("fc1_bias", {{"wd_mult", "2"}}).wd_mult, 2.0f);
  try {
    MultsFromAttrs("fc1_weight", {{"__lr_mult__", "fast"}});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("fc1_weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fast"), std::string::npos) << e.what();
  }
}

TEST(OptimErrorTest, UnknownOptimizerNamesTheKey) {
  proto::Optimizer cfg;
  cfg.set_name("lbfgs");
  try {
    Optimizer::Create(cfg, 1.0f);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer.name"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("lbfgs"), std::string::npos) << e.what();
  }
}

TEST(OptimErrorTest, InvalidHyperParametersAreConfigErrors) {
  proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_momentum(1.5f);
  EXPECT_THROW(Optimizer::Create(cfg, 1.0f), ConfigError);
  cfg.set_momentum(0);
  cfg.set_lr(-1);
  EXPECT_THROW(Optimizer::Create(cfg, 1.0f), ConfigError);
  cfg.set_lr(0.1f);
  cfg.set_name("adam");
  cfg.set_beta2(1.0f);
  EXPECT_THROW(Optimizer::Create(cfg, 1.0f), ConfigError);
}

TEST(OptimErrorTest, MismatchedArraysNameTheParameter) {
  proto::Optimizer cfg;
  cfg.set_name("adam");
  auto opt = Optimizer::Create(cfg, 1.0f);
  opt->SetParam(0, "fc1_weight", 1, 1);
  NDArray w = NDArray::Zeros({2, 3});
  EXPECT_THROW(opt->Update(0, w, NDArray::Zeros({2, 3})), Error);  // no BeginStep yet
  opt->BeginStep();
  try {
    opt->Update(0, w, NDArray::Zeros({3, 2}));
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("fc1_weight"), std::string::npos) << e.what();
  }
  EXPECT_THROW(opt->Update(0, w, NDArray::Zeros({2, 3}, Context::CPU(), DType::kFloat64)),
               DTypeError);
  NDArray wi = NDArray::Zeros({2}, Context::CPU(), DType::kInt32);
  EXPECT_THROW(opt->Update(0, wi, NDArray::Zeros({2}, Context::CPU(), DType::kInt32)), DTypeError);
}

TEST(OptimErrorTest, AWeightThatChangesShapeAfterItsStateExistsIsRejected) {
  proto::Optimizer cfg;
  cfg.set_name("rmsprop");
  auto opt = Optimizer::Create(cfg, 1.0f);
  opt->SetParam(0, "fc1_weight", 1, 1);
  opt->BeginStep();
  opt->Update(0, NDArray::Zeros({4}), NDArray::Zeros({4}));
  try {
    opt->Update(0, NDArray::Zeros({8}), NDArray::Zeros({8}));
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("fc1_weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(8)"), std::string::npos) << e.what();
  }
}

TEST(OptimErrorTest, DuplicateParameterNamesAreRejected) {
  proto::Optimizer cfg;
  auto opt = Optimizer::Create(cfg, 1.0f);
  opt->SetParam(0, "w", 1, 1);
  EXPECT_THROW(opt->SetParam(1, "w", 1, 1), Error);
  opt->SetParam(0, "w", 2, 1);  // re-declaring the same index is fine
}

}  // namespace
}  // namespace loom::train
