// BatchNorm, Dropout, LRN, L2Normalization and InstanceNorm through the executor (mxnet-facts.md
// §9): BatchNorm's fix_gamma (gamma taken as 1, zero gradient), use_global_stats, and moving
// statistics updated by momentum only while training; Dropout as the identity at inference and
// 1/(1-p) scaling while training; outputs against references, gradients against finite
// differences in float64.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"
#include "operators/cpu/normalization.h"
#include "operators/cpu/reference/batch_norm.h"
#include "operators/cpu/reference/misc.h"
#include "operators/cpu/reference/normalization.h"

namespace loom {
namespace {

using nn_test::CheckGradients;
using nn_test::Get;
using nn_test::GradientCase;
using nn_test::Op;
using nn_test::Set;

TEST(NnBatchNorm, TrainingMatchesReferenceAndFiniteDifferences) {
  for (const char* axis : {"1", "-1"}) {
    for (const char* fix_gamma : {"False", "True"}) {
      SCOPED_TRACE(std::string("axis ") + axis + ", fix_gamma " + fix_gamma);
      Symbol bn = Op("BatchNorm", {{"fix_gamma", fix_gamma}, {"axis", axis}, {"eps", "0.001"}});
      GradientCase c{bn, {{"op_data", {3, 2, 4}}}};
      c.values["op_gamma"] = axis == std::string("1") ? std::vector<double>{1.5, -0.5}
                                                      : std::vector<double>{1.5, -0.5, 2, 0.7};
      c.values["op_moving_var"] = std::vector<double>(c.values["op_gamma"].size(), 1.0);
      const auto out = CheckGradients(c);
      nn_test::Bound b = nn_test::BindCase(c, "null");
      cpu::BatchNormParams p{.fix_gamma = fix_gamma == std::string("True"),
                             .axis = std::stoi(axis)};
      const size_t channels = c.values["op_gamma"].size();
      std::vector<double> mm = b.args.at("op_moving_mean"), mv = b.args.at("op_moving_var");
      std::vector<double> ref(out[0].size()), mean(channels), var(channels);
      cpu::reference::BatchNormForward(p, true, {3, 2, 4}, b.args.at("op_data").data(),
                                       b.args.at("op_gamma").data(), b.args.at("op_beta").data(),
                                       mm.data(), mv.data(), ref.data(), mean.data(), var.data());
      test::ExpectAllNear(out[0], ref, 1e-12, 1e-12, "output");
    }
  }
}

// fix_gamma: gamma is taken as 1 whatever its value and its gradient is zero.
TEST(NnBatchNorm, FixGammaIgnoresGammaAndGivesItNoGradient) {
  Symbol bn = Op("BatchNorm", {});  // fix_gamma=True is MXNet's default
  GradientCase c{bn, {{"op_data", {4, 2}}}};
  c.values = {{"op_data", {1, 2, 3, 4, 5, 6, 7, 8}},
              {"op_gamma", {5, -3}},
              {"op_beta", {0, 1}},
              {"op_moving_mean", {0, 0}},
              {"op_moving_var", {1, 1}}};
  nn_test::Bound b = nn_test::BindCase(c, "write");
  b.exe.Forward(true);
  b.exe.Backward({NDArray::Ones({4, 2}, Context::CPU(), DType::kFloat64)});
  // Column 0 is (1, 3, 5, 7): mean 4, variance 5.
  const std::vector<double> y = Get(b.exe.outputs()[0]);
  EXPECT_NEAR(y[0], -3 / std::sqrt(5 + 1e-3), 1e-12);
  EXPECT_NEAR(y[1], -3 / std::sqrt(5 + 1e-3) + 1, 1e-12);
  EXPECT_EQ(Get(b.exe.grad_dict().at("op_gamma")), (std::vector<double>{0, 0}));
  EXPECT_EQ(Get(b.exe.grad_dict().at("op_beta")), (std::vector<double>{4, 4}));
}

// Moving statistics: updated with momentum by training forward passes only (biased batch
// variance, as MXNet), used by inference and by use_global_stats.
TEST(NnBatchNorm, MovingStatisticsFollowMomentumOnlyWhileTraining) {
  Symbol bn = Op("BatchNorm", {{"momentum", "0.75"}, {"fix_gamma", "False"}});
  GradientCase c{bn, {{"op_data", {4, 1}}}};
  c.values = {{"op_data", {1, 3, 5, 7}},
              {"op_gamma", {2}},
              {"op_beta", {0.5}},
              {"op_moving_mean", {1}},
              {"op_moving_var", {2}}};
  nn_test::Bound b = nn_test::BindCase(c, "write");
  const NDArray& mm = b.exe.aux_dict().at("op_moving_mean");
  const NDArray& mv = b.exe.aux_dict().at("op_moving_var");
  b.exe.Forward(false);
  EXPECT_NEAR(Get(b.exe.outputs()[0])[0], 2 * (1 - 1) / std::sqrt(2 + 1e-3) + 0.5, 1e-12);
  EXPECT_EQ(Get(mm), (std::vector<double>{1}));
  EXPECT_EQ(Get(mv), (std::vector<double>{2}));
  b.exe.Forward(true);
  EXPECT_NEAR(Get(mm)[0], 0.75 * 1 + 0.25 * 4, 1e-12);
  EXPECT_NEAR(Get(mv)[0], 0.75 * 2 + 0.25 * 5, 1e-12);
  b.exe.Forward(true);
  EXPECT_NEAR(Get(mm)[0], 0.75 * 1.75 + 0.25 * 4, 1e-12);
  b.exe.Forward(false);
  EXPECT_NEAR(Get(mm)[0], 0.75 * 1.75 + 0.25 * 4, 1e-12) << "inference leaves them alone";
}

TEST(NnBatchNorm, UseGlobalStatsNormalisesWithTheMovingStatistics) {
  Symbol bn = Op("BatchNorm", {{"use_global_stats", "True"}, {"fix_gamma", "False"}});
  GradientCase c{bn, {{"op_data", {3, 2, 2}}}};
  c.values = {{"op_moving_mean", {0.5, -1}}, {"op_moving_var", {4, 0.25}}};
  const auto out = CheckGradients(c);
  nn_test::Bound b = nn_test::BindCase(c, "write");
  b.exe.Forward(true);
  EXPECT_EQ(Get(b.exe.aux_dict().at("op_moving_mean")), (std::vector<double>{0.5, -1}));
  const std::vector<double>& x = b.args.at("op_data");
  const std::vector<double>& gamma = b.args.at("op_gamma");
  const std::vector<double>& beta = b.args.at("op_beta");
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t ch = (i / 2) % 2;
    const double m = ch == 0 ? 0.5 : -1, v = ch == 0 ? 4 : 0.25;
    EXPECT_NEAR(out[0][i], gamma[ch] * (x[i] - m) / std::sqrt(v + 1e-3) + beta[ch], 1e-12);
  }
}

TEST(NnDropout, IdentityAtInferenceAndScaledMaskWhileTraining) {
  Symbol drop = Op("Dropout", {{"p", "0.5"}});
  GradientCase c{drop, {{"op_data", {100, 100}}}};
  c.lo = 1;
  c.hi = 2;
  nn_test::Bound b = nn_test::BindCase(c, "write");
  const std::vector<double>& x = b.args.at("op_data");
  b.exe.Forward(false);
  EXPECT_EQ(Get(b.exe.outputs()[0]), x) << "is_train=false: identity";
  b.exe.Forward(true);
  const std::vector<double> y = Get(b.exe.outputs()[0]);
  size_t dropped = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (y[i] == 0) {
      ++dropped;
    } else {
      ASSERT_DOUBLE_EQ(y[i], 2 * x[i]) << "kept elements are scaled by 1/(1-p)";
    }
  }
  EXPECT_NEAR(static_cast<double>(dropped) / x.size(), 0.5, 0.03);
  std::mt19937_64 rng(9);
  const std::vector<double> head = test::RandomVector(x.size(), rng);
  b.exe.Backward({NDArray::FromHost<double>(head, {100, 100})});
  const std::vector<double> dx = Get(b.exe.grad_dict().at("op_data"));
  for (size_t i = 0; i < x.size(); ++i) ASSERT_DOUBLE_EQ(dx[i], y[i] == 0 ? 0 : 2 * head[i]);
}

TEST(NnDropout, AlwaysModeAxesAndZeroProbability) {
  // mode='always' drops at inference too; axes=(1,) shares one draw along axis 1.
  Symbol drop = Op("Dropout", {{"p", "0.4"}, {"mode", "always"}, {"axes", "(1,)"}});
  Executor exe = Executor::SimpleBind(drop, Context::CPU(), {{"op_data", {50, 4}}},
                                      {{"op_data", DType::kFloat64}}, "null");
  Set(exe.arg_dict().at("op_data"), std::vector<double>(200, 1.0));
  exe.Forward(false);
  const std::vector<double> y = Get(exe.outputs()[0]);
  size_t dropped_rows = 0;
  for (size_t r = 0; r < 50; ++r) {
    for (size_t k = 1; k < 4; ++k) ASSERT_EQ(y[r * 4 + k], y[r * 4]) << "row " << r;
    EXPECT_TRUE(y[r * 4] == 0 ||
                std::abs(y[r * 4] - 1 / (1 - double{0.4f})) < 1e-12);  // p is a float
    dropped_rows += y[r * 4] == 0;
  }
  EXPECT_GT(dropped_rows, 5u);
  EXPECT_LT(dropped_rows, 45u);
  // p = 0 is the identity while training, and so is its gradient.
  GradientCase c{Op("Dropout", {{"p", "0"}}), {{"op_data", {3, 4}}}};
  nn_test::Bound b = nn_test::BindCase(c, "write");
  EXPECT_EQ(CheckGradients(c)[0], b.args.at("op_data"));
}

TEST(NnLRN, MatchesReferenceAndFiniteDifferences) {
  Symbol lrn = Op("LRN", {{"nsize", "3"}, {"alpha", "0.1"}, {"beta", "0.75"}, {"knorm", "1"}});
  GradientCase c{lrn, {{"op_data", {2, 4, 2, 2}}}};
  const auto out = CheckGradients(c);
  nn_test::Bound b = nn_test::BindCase(c, "null");
  cpu::LRNParams p{.alpha = 0.1, .beta = 0.75, .knorm = 1, .nsize = 3};
  test::ExpectAllNear(out[0], cpu::reference::Lrn(p, b.args.at("op_data"), {2, 4, 2, 2}), 1e-6,
                      1e-7, "LRN output");
}

TEST(NnL2Normalization, EveryModeMatchesReferenceAndFiniteDifferences) {
  const std::pair<const char*, cpu::L2NormMode> modes[] = {{"instance", cpu::L2NormMode::kInstance},
                                                           {"channel", cpu::L2NormMode::kChannel},
                                                           {"spatial", cpu::L2NormMode::kSpatial}};
  for (const auto& [name, mode] : modes) {
    SCOPED_TRACE(name);
    Symbol l2 = Op("L2Normalization", {{"mode", name}, {"eps", "1e-3"}});
    GradientCase c{l2, {{"op_data", {2, 3, 2, 2}}}};
    const auto out = CheckGradients(c);
    nn_test::Bound b = nn_test::BindCase(c, "null");
    std::vector<double> ref, norm;
    cpu::reference::L2Normalization(mode, 1e-3f, {2, 3, 2, 2}, b.args.at("op_data"), &ref, &norm);
    test::ExpectAllNear(out[0], ref, 1e-12, 1e-12, "output");
  }
}

// InstanceNorm is float32-only (MXNet's type rule): the executor runs it in float32 against the
// reference; the kernel's gradients are checked in float64 directly.
TEST(NnInstanceNorm, Float32MatchesReferenceAndKernelGradientsMatchFiniteDifferences) {
  const Shape s{2, 3, 4};
  Symbol in = Op("InstanceNorm", {{"eps", "0.01"}});
  Executor exe = Executor::SimpleBind(in, Context::CPU(), {{"op_data", s}});
  std::mt19937_64 rng(4);
  const std::vector<double> x = test::RandomVector(24, rng), gamma{1, -2, 0.5}, beta{0, 1, -1};
  Set(exe.arg_dict().at("op_data"), x);
  Set(exe.arg_dict().at("op_gamma"), gamma);
  Set(exe.arg_dict().at("op_beta"), beta);
  exe.Forward(true);
  std::vector<double> ref, mean, var;
  cpu::reference::InstanceNorm(0.01, s, x, gamma, beta, &ref, &mean, &var);
  test::ExpectAllNear(Get(exe.outputs()[0]), ref, 1e-5, 1e-5, "float32 output");
  exe.Backward({NDArray::Ones(s)});
  EXPECT_EQ(exe.grad_dict().at("op_gamma").shape(), (Shape{3}));

  std::vector<double> xv = x, g = gamma, bt = beta, head = test::RandomVector(24, rng);
  std::vector<double> m(6), v(6);
  auto forward = [&] {
    std::vector<double> y(24);
    cpu::InstanceNormForward(0.01, test::View(xv, s), test::View(g, {3}), test::View(bt, {3}),
                             test::View(y, s), OpReq::kWriteTo, test::View(m, {2, 3}),
                             test::View(v, {2, 3}));
    return y;
  };
  test::ExpectAllNear(forward(), ref, 1e-12, 1e-12, "float64 output");
  std::vector<double> dx(24), dg(3), db(3);
  cpu::InstanceNormBackward(0.01, test::View(head, s), test::View(xv, s), test::View(g, {3}),
                            test::View(m, {2, 3}), test::View(v, {2, 3}), test::View(dx, s),
                            OpReq::kWriteTo, test::View(dg, {3}), OpReq::kWriteTo,
                            test::View(db, {3}), OpReq::kWriteTo);
  test::ExpectGradientNear("data", forward, xv, head, dx);
  test::ExpectGradientNear("gamma", forward, g, head, dg);
  test::ExpectGradientNear("beta", forward, bt, head, db);
}

}  // namespace
}  // namespace loom
