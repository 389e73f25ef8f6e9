// BatchNorm CPU kernels vs the float64 reference and finite differences: training and inference,
// fix_gamma, use_global_stats, channel axes, the moving-average update.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "operators/cpu/batch_norm.h"
#include "operators/cpu/reference/batch_norm.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

BatchNormParams Params(bool fix_gamma, bool global, int axis) {
  BatchNormParams p;
  p.fix_gamma = fix_gamma;
  p.use_global_stats = global;
  p.axis = axis;
  p.eps = 1e-3;
  p.momentum = 0.9;
  return p;
}

struct Case {
  Shape data;
  BatchNormParams p;
  bool is_train;
};

std::vector<Case> Cases() {
  return {{Shape{4, 3, 2, 2}, Params(false, false, 1), true},
          {Shape{4, 3, 2, 2}, Params(true, false, 1), true},
          {Shape{5, 3}, Params(false, false, 1), true},
          {Shape{2, 3, 4}, Params(false, false, -1), true},
          {Shape{3, 2, 5}, Params(false, true, 1), true},
          {Shape{4, 3, 2}, Params(false, false, 1), false}};
}

int64_t Channels(const Case& c) {
  return c.data[c.p.axis < 0 ? c.p.axis + c.data.ndim() : c.p.axis];
}

template <typename T>
void ExpectMatchesReference(const Case& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t ch = Channels(c);
  const Shape cs{ch};
  auto x = RandomVector(c.data.Size(), rng, -1, 3), gamma = RandomVector(ch, rng, 0.5, 1.5),
       beta = RandomVector(ch, rng), mm = RandomVector(ch, rng), mv = RandomVector(ch, rng, 0.5, 2),
       dy = RandomVector(c.data.Size(), rng);
  std::vector<double> y_ref(x.size()), mean_ref(ch), var_ref(ch), mm_ref = mm, mv_ref = mv;
  reference::BatchNormForward(c.p, c.is_train, c.data, x.data(), gamma.data(), beta.data(),
                              mm_ref.data(), mv_ref.data(), y_ref.data(), mean_ref.data(),
                              var_ref.data());
  std::vector<double> dx_ref(x.size()), dg_ref(ch), db_ref(ch);
  reference::BatchNormBackward(c.p, c.is_train, c.data, dy.data(), x.data(), gamma.data(),
                               mean_ref.data(), var_ref.data(), dx_ref.data(), dg_ref.data(),
                               db_ref.data());

  auto xt = test::Convert<T>(x), gt = test::Convert<T>(gamma), bt = test::Convert<T>(beta),
       mmt = test::Convert<T>(mm), mvt = test::Convert<T>(mv), dyt = test::Convert<T>(dy);
  std::vector<T> y(x.size()), mean(ch), var(ch), dx(x.size()), dg(ch), db(ch);
  BatchNormForward(c.p, c.is_train, View(xt, c.data), View(gt, cs), View(bt, cs), View(mmt, cs),
                   View(mvt, cs), View(y, c.data), OpReq::kWriteTo, View(mean, cs), View(var, cs));
  BatchNormBackward(c.p, c.is_train, View(dyt, c.data), View(xt, c.data), View(gt, cs),
                    View(mean, cs), View(var, cs), View(dx, c.data), OpReq::kWriteTo, View(dg, cs),
                    OpReq::kWriteTo, View(db, cs), OpReq::kWriteTo);
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  ExpectAllNear(y, y_ref, tol, tol, "out");
  ExpectAllNear(mean, mean_ref, tol, tol, "mean");
  ExpectAllNear(var, var_ref, tol, tol, "var");
  ExpectAllNear(mmt, mm_ref, tol, tol, "moving_mean");
  ExpectAllNear(mvt, mv_ref, tol, tol, "moving_var");
  ExpectAllNear(dx, dx_ref, 10 * tol, 10 * tol, "data_grad");
  ExpectAllNear(dg, dg_ref, 10 * tol, 10 * tol, "gamma_grad");
  ExpectAllNear(db, db_ref, 10 * tol, 10 * tol, "beta_grad");
}

TEST(KernelsBatchNorm, MatchesReference) {
  uint64_t seed = 1;
  for (const Case& c : Cases()) {
    SCOPED_TRACE("data " + c.data.ToString() + " axis " + std::to_string(c.p.axis) +
                 (c.p.fix_gamma ? " fix_gamma" : "") + (c.p.use_global_stats ? " global" : "") +
                 (c.is_train ? " train" : " inference"));
    ExpectMatchesReference<float>(c, seed);
    ExpectMatchesReference<double>(c, seed++);
  }
}

TEST(KernelsBatchNorm, GradientsMatchFiniteDifferences) {
  std::mt19937_64 rng(7);
  for (const Case& c : Cases()) {
    SCOPED_TRACE("data " + c.data.ToString());
    const int64_t ch = Channels(c);
    const Shape cs{ch};
    auto x = RandomVector(c.data.Size(), rng, -1, 3), gamma = RandomVector(ch, rng, 0.5, 1.5),
         beta = RandomVector(ch, rng), head = RandomVector(c.data.Size(), rng);
    const auto mm0 = RandomVector(ch, rng), mv0 = RandomVector(ch, rng, 0.5, 2);
    std::vector<double> mean(ch), var(ch);
    auto forward = [&] {
      std::vector<double> y(x.size()), mm = mm0, mv = mv0;
      BatchNormForward(c.p, c.is_train, View(x, c.data), View(gamma, cs), View(beta, cs),
                       View(mm, cs), View(mv, cs), View(y, c.data), OpReq::kWriteTo, View(mean, cs),
                       View(var, cs));
      return y;
    };
    forward();
    std::vector<double> dx(x.size()), dg(ch), db(ch);
    BatchNormBackward(c.p, c.is_train, View(head, c.data), View(x, c.data), View(gamma, cs),
                      View(mean, cs), View(var, cs), View(dx, c.data), OpReq::kWriteTo,
                      View(dg, cs), OpReq::kWriteTo, View(db, cs), OpReq::kWriteTo);
    test::ExpectGradientNear("data", forward, x, head, dx, 1e-6, 1e-5, 1e-5);
    test::ExpectGradientNear("gamma", forward, gamma, head, dg);
    test::ExpectGradientNear("beta", forward, beta, head, db);
  }
}

TEST(KernelsBatchNorm, FixGammaIgnoresGammaAndZeroesItsGradient) {
  std::vector<double> x{1, 2, 3, 4, 5, 6}, gamma{7, 9}, beta{0, 1}, mm{0, 0}, mv{1, 1}, y(6),
      mean(2), var(2), dy(6, 1.0), dx(6), dg{5, 5}, db(2);
  const Shape s{3, 2}, cs{2};
  BatchNormParams p;  // fix_gamma by default, eps 1e-3, momentum 0.9
  BatchNormForward(p, true, View(x, s), View(gamma, cs), View(beta, cs), View(mm, cs), View(mv, cs),
                   View(y, s), OpReq::kWriteTo, View(mean, cs), View(var, cs));
  // Channel 0 holds 1, 3, 5: mean 3, variance 8/3.
  EXPECT_DOUBLE_EQ(mean[0], 3);
  EXPECT_DOUBLE_EQ(var[0], 8.0 / 3);
  EXPECT_NEAR(y[0], -2 / std::sqrt(8.0 / 3 + 1e-3), 1e-12);
  EXPECT_NEAR(mm[0], 0.1 * 3, 1e-15);
  EXPECT_NEAR(mv[0], 0.9 + 0.1 * 8.0 / 3, 1e-15);
  BatchNormBackward(p, true, View(dy, s), View(x, s), View(gamma, cs), View(mean, cs),
                    View(var, cs), View(dx, s), OpReq::kWriteTo, View(dg, cs), OpReq::kAddTo,
                    View(db, cs), OpReq::kWriteTo);
  EXPECT_EQ(dg, (std::vector<double>{5, 5}));  // adds zero
  EXPECT_EQ(db, (std::vector<double>{3, 3}));
}

TEST(KernelsBatchNorm, InferenceUsesMovingStatisticsAndLeavesThem) {
  std::vector<double> x{1, 2, 3, 4}, gamma{2}, beta{1}, mm{1}, mv{3}, y(4), mean(1), var(1);
  const Shape s{4, 1}, cs{1};
  BatchNormParams p;
  p.fix_gamma = false;
  BatchNormForward(p, false, View(x, s), View(gamma, cs), View(beta, cs), View(mm, cs),
                   View(mv, cs), View(y, s), OpReq::kWriteTo, View(mean, cs), View(var, cs));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], 2 * (x[i] - 1) / std::sqrt(3 + 1e-3) + 1, 1e-12);
  EXPECT_EQ(mm[0], 1);
  EXPECT_EQ(mv[0], 3);
}

TEST(KernelsBatchNorm, AddToAccumulates) {
  const Case c = Cases()[0];
  std::mt19937_64 rng(9);
  const Shape cs{3};
  auto x = RandomVector(48, rng), gamma = RandomVector(3, rng), beta = RandomVector(3, rng),
       dy = RandomVector(48, rng);
  test::ExpectAddToAccumulates<double>(
      [&](OpReq req, std::vector<std::vector<double>>& o) {
        std::vector<double> mm(3, 0.0), mv(3, 1.0), mean(3), var(3);
        BatchNormForward(c.p, true, View(x, c.data), View(gamma, cs), View(beta, cs), View(mm, cs),
                         View(mv, cs), View(o[0], c.data), req, View(mean, cs), View(var, cs));
        BatchNormBackward(c.p, true, View(dy, c.data), View(x, c.data), View(gamma, cs),
                          View(mean, cs), View(var, cs), View(o[1], c.data), req, View(o[2], cs),
                          req, View(o[3], cs), req);
      },
      {48, 48, 3, 3});
}

}  // namespace
}  // namespace loom::cpu
