// Dropout CPU kernels: identity at inference, the keep rate and scale in training, shared draws
// along axes, the gradient through the mask.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "loom/core/half.h"
#include "operators/cpu/dropout.h"

namespace loom::cpu {
namespace {

using test::View;

DropoutParams Params(double p, bool always = false, std::vector<int> axes = {}) {
  DropoutParams d;
  d.p = p;
  d.always = always;
  d.axes = std::move(axes);
  return d;
}

TEST(KernelsDropout, IdentityAtInference) {
  std::vector<float> x{1, 2, 3, 4}, y(4), mask(4, -7.f), dx(4);
  OpContext ctx;  // is_train = false, no generator needed
  DropoutForward(Params(0.5), ctx, View(x, Shape{4}), View(y, Shape{4}), OpReq::kWriteTo,
                 View(mask, Shape{4}));
  EXPECT_EQ(y, x);
  EXPECT_EQ(mask, std::vector<float>(4, -7.f));
  DropoutBackward(Params(0.5), false, View(x, Shape{4}), View(mask, Shape{4}), View(dx, Shape{4}),
                  OpReq::kWriteTo);
  EXPECT_EQ(dx, x);
}

TEST(KernelsDropout, TrainingKeepsAboutOneMinusPAndScales) {
  std::mt19937_64 gen(42);
  OpContext ctx;
  ctx.is_train = true;
  ctx.rng = &gen;
  const int n = 100000;
  std::vector<float> x(n, 2.f), y(n), mask(n), dy(n, 1.f), dx(n);
  DropoutForward(Params(0.3), ctx, View(x, Shape{n}), View(y, Shape{n}), OpReq::kWriteTo,
                 View(mask, Shape{n}));
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    if (mask[i] != 0) {
      ++kept;
      EXPECT_FLOAT_EQ(mask[i], 1 / 0.7f);
      EXPECT_FLOAT_EQ(y[i], 2 / 0.7f);
    } else {
      EXPECT_EQ(y[i], 0.f);
    }
  }
  EXPECT_NEAR(kept / double(n), 0.7, 0.01);
  DropoutBackward(Params(0.3), true, View(dy, Shape{n}), View(mask, Shape{n}), View(dx, Shape{n}),
                  OpReq::kWriteTo);
  EXPECT_EQ(dx, mask);
}

TEST(KernelsDropout, GradientMatchesFiniteDifferencesForFixedDraws) {
  std::mt19937_64 init(2);
  auto x = test::RandomVector(40, init), head = test::RandomVector(40, init);
  std::vector<double> mask(40);
  auto forward = [&] {
    std::mt19937_64 gen(17);  // the same mask every call
    OpContext ctx;
    ctx.is_train = true;
    ctx.rng = &gen;
    std::vector<double> y(40);
    DropoutForward(Params(0.4), ctx, View(x, Shape{4, 10}), View(y, Shape{4, 10}), OpReq::kWriteTo,
                   View(mask, Shape{4, 10}));
    return y;
  };
  forward();
  std::vector<double> dx(40);
  DropoutBackward(Params(0.4), true, View(head, Shape{4, 10}), View(mask, Shape{4, 10}),
                  View(dx, Shape{4, 10}), OpReq::kWriteTo);
  test::ExpectGradientNear("data", forward, x, head, dx);
}

TEST(KernelsDropout, AxesShareOneDrawAndAlwaysDropsAtInference) {
  std::mt19937_64 gen(1);
  OpContext ctx;
  ctx.rng = &gen;  // inference, but mode='always'
  std::vector<double> x(4 * 50, 1.0), y(200), mask(200);
  DropoutForward(Params(0.5, true, {1}), ctx, View(x, Shape{4, 50}), View(y, Shape{4, 50}),
                 OpReq::kWriteTo, View(mask, Shape{4, 50}));
  for (int r = 0; r < 4; ++r) {
    for (int c = 1; c < 50; ++c) EXPECT_EQ(mask[r * 50 + c], mask[r * 50]);
  }
}

TEST(KernelsDropout, Float16AndSameDrawsForSameSeed) {
  auto run = [](uint64_t seed) {
    std::mt19937_64 gen(seed);
    OpContext ctx;
    ctx.is_train = true;
    ctx.rng = &gen;
    std::vector<Half> x(64, Half(1.f)), y(64), mask(64);
    DropoutForward(Params(0.5), ctx, View(x, Shape{64}), View(y, Shape{64}), OpReq::kWriteTo,
                   View(mask, Shape{64}));
    std::vector<float> out;
    for (Half h : y) out.push_back(h);
    return out;
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
  for (float v : run(3)) EXPECT_TRUE(v == 0.f || v == 2.f);
}

}  // namespace
}  // namespace loom::cpu
