// Activation and LeakyReLU CPU kernels vs float64 references and finite differences.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "operators/cpu/activation.h"
#include "operators/cpu/reference/elementwise.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

TEST(KernelsActivation, EveryActTypeMatchesReferenceAndFiniteDifferences) {
  const ActType types[] = {ActType::kRelu, ActType::kSigmoid, ActType::kTanh, ActType::kSoftrelu,
                           ActType::kSoftsign};
  for (ActType t : types) {
    const UnaryOp op = ActivationUnaryOp(t);
    SCOPED_TRACE(ToString(op));
    std::mt19937_64 rng(static_cast<int>(t) + 1);
    const Shape s{4, 6};
    auto x = test::RandomAwayFromZero(24, rng, 0.05, -3, 3), head = RandomVector(24, rng);
    std::vector<double> ref(24);
    for (size_t i = 0; i < 24; ++i) ref[i] = reference::Unary(op, x[i]);
    auto forward = [&] {
      std::vector<double> y(24);
      ActivationForward(t, View(x, s), View(y, s), OpReq::kWriteTo);
      return y;
    };
    std::vector<double> y = forward(), dx(24);
    ExpectAllNear(y, ref, 1e-14, 1e-14, "out");
    ActivationBackward(t, View(head, s), View(x, s), View(y, s), View(dx, s), OpReq::kWriteTo);
    test::ExpectGradientNear("x", forward, x, head, dx);
    auto xf = test::Convert<float>(x);
    std::vector<float> yf(24);
    ActivationForward(t, View(xf, s), View(yf, s), OpReq::kWriteTo);
    ExpectAllNear(yf, ref, 2e-6, 2e-6, "float32 out");
  }
}

LeakyReLUParams Leaky(LeakyType type, double slope = 0.25) {
  LeakyReLUParams p;
  p.type = type;
  p.slope = slope;
  return p;
}

TEST(KernelsLeakyReLU, EveryTypeMatchesReferenceAndFiniteDifferences) {
  const Shape s{2, 3, 4};
  for (LeakyType type : {LeakyType::kLeaky, LeakyType::kPrelu, LeakyType::kRrelu, LeakyType::kElu,
                         LeakyType::kSelu, LeakyType::kGelu}) {
    SCOPED_TRACE(static_cast<int>(type));
    const LeakyReLUParams p = Leaky(type, 0.3);
    std::mt19937_64 rng(static_cast<int>(type) + 9);
    auto x = test::RandomAwayFromZero(24, rng, 0.05, -2, 2), head = RandomVector(24, rng);
    auto gamma = RandomVector(3, rng, 0.1, 0.5);
    const TensorView gamma_view = View(gamma, Shape{3});
    const OpContext ctx;  // inference: rrelu uses the mean slope
    std::vector<double> ref(24);
    for (size_t i = 0; i < 24; ++i) ref[i] = reference::LeakyReLU(p, x[i], gamma[(i / 4) % 3]);
    auto forward = [&] {
      std::vector<double> y(24);
      LeakyReLUForward(p, ctx, View(x, s), &gamma_view, View(y, s), OpReq::kWriteTo, nullptr);
      return y;
    };
    ExpectAllNear(forward(), ref, 1e-14, 1e-14, "out");
    std::vector<double> dx(24), dgamma(3);
    TensorView dgamma_view = View(dgamma, Shape{3});
    LeakyReLUBackward(p, View(head, s), View(x, s), &gamma_view, nullptr, View(dx, s),
                      OpReq::kWriteTo, &dgamma_view, OpReq::kWriteTo);
    test::ExpectGradientNear("x", forward, x, head, dx);
    if (type == LeakyType::kPrelu) test::ExpectGradientNear("gamma", forward, gamma, head, dgamma);
  }
}

TEST(KernelsLeakyReLU, PreluWithOneSlopeAndAddTo) {
  std::vector<double> x{-1, 2, -3, 4}, gamma{0.5}, y{1, 1, 1, 1}, dy{1, 1, 1, 1}, dx(4), dgamma{10};
  const TensorView g = View(gamma, Shape{1});
  TensorView dg = View(dgamma, Shape{1});
  const LeakyReLUParams p = Leaky(LeakyType::kPrelu);
  LeakyReLUForward(p, OpContext{}, View(x, Shape{2, 2}), &g, View(y, Shape{2, 2}), OpReq::kAddTo,
                   nullptr);
  EXPECT_EQ(y, (std::vector<double>{0.5, 3, -0.5, 5}));
  LeakyReLUBackward(p, View(dy, Shape{2, 2}), View(x, Shape{2, 2}), &g, nullptr,
                    View(dx, Shape{2, 2}), OpReq::kWriteTo, &dg, OpReq::kAddTo);
  EXPECT_EQ(dx, (std::vector<double>{0.5, 1, 0.5, 1}));
  EXPECT_EQ(dgamma[0], 10 - 1 - 3);
}

TEST(KernelsLeakyReLU, RreluTrainingDrawsSlopesIntoTheMask) {
  std::mt19937_64 gen(1);
  OpContext ctx;
  ctx.is_train = true;
  ctx.rng = &gen;
  LeakyReLUParams p = Leaky(LeakyType::kRrelu);
  std::vector<float> x(100, -1.f), y(100), mask(100), dy(100, 2.f), dx(100);
  const TensorView m = View(mask, Shape{100});
  LeakyReLUForward(p, ctx, View(x, Shape{100}), nullptr, View(y, Shape{100}), OpReq::kWriteTo, &m);
  for (int i = 0; i < 100; ++i) {
    EXPECT_GE(mask[i], p.lower_bound);
    EXPECT_LE(mask[i], p.upper_bound);
    EXPECT_FLOAT_EQ(y[i], -mask[i]);
  }
  LeakyReLUBackward(p, View(dy, Shape{100}), View(x, Shape{100}), nullptr, &m, View(dx, Shape{100}),
                    OpReq::kWriteTo, nullptr, OpReq::kNull);
  for (int i = 0; i < 100; ++i) EXPECT_FLOAT_EQ(dx[i], 2 * mask[i]);
}

TEST(KernelsLeakyReLU, PreluNeedsGammaOfChannels) {
  std::vector<float> x(24), y(24), gamma(4);
  const TensorView g = View(gamma, Shape{4});
  EXPECT_THROW(LeakyReLUForward(Leaky(LeakyType::kPrelu), OpContext{}, View(x, Shape{2, 3, 4}), &g,
                                View(y, Shape{2, 3, 4}), OpReq::kWriteTo, nullptr),
               ShapeError);
}

}  // namespace
}  // namespace loom::cpu
