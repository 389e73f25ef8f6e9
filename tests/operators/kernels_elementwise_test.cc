// Element-wise, broadcast and reduction CPU kernels vs float64 references (float16, float32,
// float64), gradients vs finite differences, req=kAddTo.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "loom/core/half.h"
#include "operators/cpu/common.h"
#include "operators/cpu/elementwise.h"
#include "operators/cpu/reduce.h"
#include "operators/cpu/reference/elementwise.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

// Inputs inside each unary operation's domain, away from kinks.
std::vector<double> UnaryInputs(UnaryOp op, size_t n, std::mt19937_64& rng) {
  switch (op) {
    case UnaryOp::kSqrt:
    case UnaryOp::kRsqrt:
    case UnaryOp::kLog:
      return RandomVector(n, rng, 0.3, 3.0);
    case UnaryOp::kAbs:
    case UnaryOp::kRelu:
      return test::RandomAwayFromZero(n, rng, 0.05, -3, 3);
    default:
      return RandomVector(n, rng, -4.0, 4.0);
  }
}

template <typename T>
double Tolerance() {
  if constexpr (std::is_same_v<T, Half>) return 4e-3;
  if constexpr (std::is_same_v<T, float>) return 2e-6;
  return 1e-13;
}

// Values as T and back (what the kernel actually sees).
template <typename T>
std::vector<double> Rounded(const std::vector<double>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    r[i] = static_cast<double>(AccT<T>(T(static_cast<AccT<T>>(v[i]))));
  return r;
}

template <typename T>
std::vector<T> AsT(const std::vector<double>& v) {
  std::vector<T> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = T(static_cast<AccT<T>>(v[i]));
  return r;
}

template <typename T>
std::vector<double> AsDouble(const std::vector<T>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = static_cast<double>(AccT<T>(v[i]));
  return r;
}

template <typename T>
void CheckUnary(UnaryOp op) {
  SCOPED_TRACE(std::string(ToString(op)) + " " + ToString(detail::DTypeOf<T>()));
  std::mt19937_64 rng(static_cast<uint64_t>(op) + 1);
  const Shape s{3, 37};  // odd sizes exercise the vector loops' tails
  const auto x = Rounded<T>(UnaryInputs(op, s.Size(), rng));
  const auto dy = Rounded<T>(RandomVector(s.Size(), rng));
  std::vector<double> y_ref(x.size()), dx_ref(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y_ref[i] = reference::Unary(op, x[i]);
    dx_ref[i] = dy[i] * reference::UnaryDerivative(op, x[i]);
  }
  auto xt = AsT<T>(x), dyt = AsT<T>(dy);
  std::vector<T> y(x.size()), dx(x.size());
  UnaryForward(op, View(xt, s), View(y, s), OpReq::kWriteTo);
  UnaryBackward(op, View(dyt, s), View(xt, s), View(y, s), View(dx, s), OpReq::kWriteTo);
  const double tol = Tolerance<T>();
  ExpectAllNear(AsDouble(y), y_ref, tol, tol, "out");
  // The backward works from the rounded output; allow for that rounding.
  ExpectAllNear(AsDouble(dx), dx_ref, 4 * tol, 4 * tol, "data_grad");
}

TEST(KernelsElementwise, UnaryMatchesReferenceInAllFloatTypes) {
  for (int i = 0; i < static_cast<int>(UnaryOp::kCount); ++i) {
    CheckUnary<Half>(static_cast<UnaryOp>(i));
    CheckUnary<float>(static_cast<UnaryOp>(i));
    CheckUnary<double>(static_cast<UnaryOp>(i));
  }
}

TEST(KernelsElementwise, FastFloatExpAndTanhAreAccurateOverTheirRange) {
  std::vector<float> x, y(2001), t(2001);
  for (int i = 0; i <= 2000; ++i) x.push_back(-100.f + 0.1f * i);
  UnaryForward(UnaryOp::kExp, View(x, Shape{2001}), View(y, Shape{2001}), OpReq::kWriteTo);
  UnaryForward(UnaryOp::kTanh, View(x, Shape{2001}), View(t, Shape{2001}), OpReq::kWriteTo);
  for (int i = 0; i <= 2000; ++i) {
    const double e = std::exp(static_cast<double>(x[i]));
    if (x[i] > -87.f && x[i] < 88.f) {
      EXPECT_NEAR(y[i], e, 4e-7 * e) << "exp(" << x[i] << ")";
    }
    EXPECT_NEAR(t[i], std::tanh(static_cast<double>(x[i])), 3e-7) << "tanh(" << x[i] << ")";
  }
  std::vector<float> nan{std::nanf("")}, out(1);
  UnaryForward(UnaryOp::kExp, View(nan, Shape{1}), View(out, Shape{1}), OpReq::kWriteTo);
  EXPECT_TRUE(std::isnan(out[0]));
  UnaryForward(UnaryOp::kRelu, View(nan, Shape{1}), View(out, Shape{1}), OpReq::kWriteTo);
  EXPECT_TRUE(std::isnan(out[0]));
}

TEST(KernelsElementwise, UnaryGradientsMatchFiniteDifferences) {
  for (int i = 0; i < static_cast<int>(UnaryOp::kCount); ++i) {
    const UnaryOp op = static_cast<UnaryOp>(i);
    SCOPED_TRACE(ToString(op));
    std::mt19937_64 rng(i + 50);
    const Shape s{2, 5};
    auto x = UnaryInputs(op, 10, rng), head = RandomVector(10, rng);
    auto forward = [&] {
      std::vector<double> y(10);
      UnaryForward(op, View(x, s), View(y, s), OpReq::kWriteTo);
      return y;
    };
    std::vector<double> y = forward(), dx(10);
    UnaryBackward(op, View(head, s), View(x, s), View(y, s), View(dx, s), OpReq::kWriteTo);
    test::ExpectGradientNear("x", forward, x, head, dx);
  }
}

TEST(KernelsElementwise, UnaryInPlaceAndAddTo) {
  std::vector<float> x{-1, 2, -3, 4}, y{10, 10, 10, 10};
  UnaryForward(UnaryOp::kRelu, View(x, Shape{4}), View(y, Shape{4}), OpReq::kAddTo);
  EXPECT_EQ(y, (std::vector<float>{10, 12, 10, 14}));
  UnaryForward(UnaryOp::kSquare, View(x, Shape{4}), View(x, Shape{4}), OpReq::kWriteInplace);
  EXPECT_EQ(x, (std::vector<float>{1, 4, 9, 16}));
}

std::vector<double> BinaryInputs(BinaryOp op, size_t n, std::mt19937_64& rng) {
  if (op == BinaryOp::kPower || op == BinaryOp::kDiv) return RandomVector(n, rng, 0.5, 2.0);
  return RandomVector(n, rng, -2.0, 2.0);
}

TEST(KernelsElementwise, BinaryAndBroadcastMatchReference) {
  struct Shapes {
    Shape a, b, out;
  };
  const std::vector<Shapes> cases = {{Shape{3, 4}, Shape{3, 4}, Shape{3, 4}},
                                     {Shape{3, 4}, Shape{1, 4}, Shape{3, 4}},
                                     {Shape{3, 1}, Shape{1, 4}, Shape{3, 4}},
                                     {Shape{2, 3, 4}, Shape{3, 1}, Shape{2, 3, 4}},
                                     {Shape{4}, Shape{2, 3, 4}, Shape{2, 3, 4}},
                                     {Shape{2, 1, 5}, Shape{1}, Shape{2, 1, 5}},
                                     {Shape{1, 3, 1, 2}, Shape{2, 1, 4, 1}, Shape{2, 3, 4, 2}}};
  for (int o = 0; o < static_cast<int>(BinaryOp::kCount); ++o) {
    const BinaryOp op = static_cast<BinaryOp>(o);
    for (const auto& c : cases) {
      SCOPED_TRACE(std::string(ToString(op)) + " " + c.a.ToString() + " " + c.b.ToString());
      std::mt19937_64 rng(o * 10 + 3);
      auto a = BinaryInputs(op, c.a.Size(), rng), b = BinaryInputs(op, c.b.Size(), rng);
      std::vector<double> ref(c.out.Size());
      reference::BroadcastBinary(op, c.a, c.b, c.out, a.data(), b.data(), ref.data());
      std::vector<double> y(c.out.Size());
      BroadcastForward(op, View(a, c.a), View(b, c.b), View(y, c.out), OpReq::kWriteTo);
      ExpectAllNear(y, ref, 1e-14, 1e-14, "float64 out");
      auto af = test::Convert<float>(a), bf = test::Convert<float>(b);
      std::vector<float> yf(c.out.Size());
      BroadcastForward(op, View(af, c.a), View(bf, c.b), View(yf, c.out), OpReq::kWriteTo);
      ExpectAllNear(yf, ref, 1e-5, 1e-5, "float32 out");
      // Gradients against finite differences.
      auto head = RandomVector(c.out.Size(), rng);
      auto forward = [&] {
        std::vector<double> out(c.out.Size());
        BroadcastForward(op, View(a, c.a), View(b, c.b), View(out, c.out), OpReq::kWriteTo);
        return out;
      };
      std::vector<double> da(a.size()), db(b.size());
      BroadcastBackward(op, View(head, c.out), View(a, c.a), View(b, c.b), View(da, c.a),
                        OpReq::kWriteTo, View(db, c.b), OpReq::kWriteTo);
      test::ExpectGradientNear("lhs", forward, a, head, da);
      test::ExpectGradientNear("rhs", forward, b, head, db);
    }
  }
}

TEST(KernelsElementwise, BroadcastBackwardAddTo) {
  std::mt19937_64 rng(4);
  const Shape as{3, 1}, bs{1, 4}, out{3, 4};
  auto a = RandomVector(3, rng), b = RandomVector(4, rng), dy = RandomVector(12, rng);
  for (BinaryOp op : {BinaryOp::kAdd, BinaryOp::kMul}) {
    test::ExpectAddToAccumulates<double>(
        [&](OpReq req, std::vector<std::vector<double>>& o) {
          BroadcastForward(op, View(a, as), View(b, bs), View(o[0], out), req);
          BroadcastBackward(op, View(dy, out), View(a, as), View(b, bs), View(o[1], as), req,
                            View(o[2], bs), req);
        },
        {12, 3, 4});
  }
}

TEST(KernelsElementwise, BroadcastShapeMismatchIsShapeError) {
  std::vector<float> a(6), b(4), y(12);
  EXPECT_THROW(BroadcastForward(BinaryOp::kAdd, View(a, Shape{2, 3}), View(b, Shape{4}),
                                View(y, Shape{3, 4}), OpReq::kWriteTo),
               ShapeError);
}

TEST(KernelsElementwise, ScalarOpsMatchReferenceAndFiniteDifferences) {
  for (int o = 0; o < static_cast<int>(ScalarOp::kCount); ++o) {
    const ScalarOp op = static_cast<ScalarOp>(o);
    SCOPED_TRACE(ToString(op));
    std::mt19937_64 rng(o + 7);
    const double s = 1.7;
    const Shape shape{2, 9};
    auto x = RandomVector(18, rng, 0.4, 2.5), head = RandomVector(18, rng);
    std::vector<double> ref(18);
    for (size_t i = 0; i < 18; ++i) ref[i] = reference::Scalar(op, x[i], s);
    auto forward = [&] {
      std::vector<double> y(18);
      ScalarForward(op, View(x, shape), s, View(y, shape), OpReq::kWriteTo);
      return y;
    };
    ExpectAllNear(forward(), ref, 1e-14, 1e-14, "out");
    std::vector<double> dx(18);
    ScalarBackward(op, View(head, shape), View(x, shape), s, View(dx, shape), OpReq::kWriteTo);
    test::ExpectGradientNear("x", forward, x, head, dx);
  }
}

TEST(KernelsElementwise, ClipAndWhere) {
  std::vector<float> x{-2, -0.5f, 0, 0.5f, 2, 1}, y(6), dy{1, 2, 3, 4, 5, 6}, dx(6);
  const Shape s{2, 3};
  ClipForward(View(x, s), -1, 1, View(y, s), OpReq::kWriteTo);
  EXPECT_EQ(y, (std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1}));
  ClipBackward(View(dy, s), View(x, s), -1, 1, View(dx, s), OpReq::kWriteTo);
  EXPECT_EQ(dx, (std::vector<float>{0, 2, 3, 4, 0, 6}));

  std::vector<float> cond{1, 0, 1, 0, 0, 1}, other{10, 20, 30, 40, 50, 60}, out(6);
  WhereForward(View(cond, s), View(x, s), View(other, s), View(out, s), OpReq::kWriteTo);
  EXPECT_EQ(out, (std::vector<float>{-2, 20, 0, 40, 50, 1}));
  std::vector<int32_t> rows{0, 1};
  WhereForward(View(rows, Shape{2}), View(x, s), View(other, s), View(out, s), OpReq::kWriteTo);
  EXPECT_EQ(out, (std::vector<float>{10, 20, 30, 0.5f, 2, 1}));
  std::vector<float> gx(6), gy(6, 1.f);
  WhereBackward(View(dy, s), View(cond, s), View(gx, s), OpReq::kWriteTo, View(gy, s),
                OpReq::kAddTo);
  EXPECT_EQ(gx, (std::vector<float>{1, 0, 3, 0, 0, 6}));
  EXPECT_EQ(gy, (std::vector<float>{1, 3, 1, 5, 6, 1}));
  std::vector<float> bad(3);
  EXPECT_THROW(
      WhereForward(View(bad, Shape{3}), View(x, s), View(other, s), View(out, s), OpReq::kWriteTo),
      ShapeError);
}

TEST(KernelsElementwise, ClipAndWhereGradientsMatchFiniteDifferences) {
  std::mt19937_64 rng(12);
  const Shape s{3, 4};
  auto x = RandomVector(12, rng, -2, 2), other = RandomVector(12, rng),
       head = RandomVector(12, rng);
  for (double& v : x) {
    if (std::abs(std::abs(v) - 1) < 0.05) v += 0.1;  // away from the clip bounds
  }
  auto clip = [&] {
    std::vector<double> y(12);
    ClipForward(View(x, s), -1, 1, View(y, s), OpReq::kWriteTo);
    return y;
  };
  std::vector<double> dx(12);
  ClipBackward(View(head, s), View(x, s), -1, 1, View(dx, s), OpReq::kWriteTo);
  test::ExpectGradientNear("x", clip, x, head, dx);
  std::vector<double> cond{1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0};
  auto where = [&] {
    std::vector<double> y(12);
    WhereForward(View(cond, s), View(x, s), View(other, s), View(y, s), OpReq::kWriteTo);
    return y;
  };
  std::vector<double> gx(12), gy(12);
  WhereBackward(View(head, s), View(cond, s), View(gx, s), OpReq::kWriteTo, View(gy, s),
                OpReq::kWriteTo);
  test::ExpectGradientNear("x", where, x, head, gx);
  test::ExpectGradientNear("y", where, other, head, gy);
}

TEST(KernelsReduce, ResolveAxes) {
  EXPECT_EQ(ResolveReduceAxes(3, {}, false, "sum"), (std::vector<int>{0, 1, 2}));
  const int neg[] = {-1};
  EXPECT_EQ(ResolveReduceAxes(3, neg, false, "sum"), (std::vector<int>{2}));
  EXPECT_EQ(ResolveReduceAxes(3, neg, true, "sum"), (std::vector<int>{0, 1}));
  const int bad[] = {3};
  EXPECT_THROW(ResolveReduceAxes(3, bad, false, "sum"), Error);
  const int twice[] = {1, -2};
  EXPECT_THROW(ResolveReduceAxes(3, twice, false, "sum"), Error);
}

TEST(KernelsReduce, MatchesReferenceAndFiniteDifferences) {
  const Shape xs{3, 4, 5};
  const std::vector<std::vector<int>> axis_sets = {{0},    {1},    {2},      {0, 1},
                                                   {1, 2}, {0, 2}, {0, 1, 2}};
  for (int o = 0; o < static_cast<int>(ReduceOp::kCount); ++o) {
    const ReduceOp op = static_cast<ReduceOp>(o);
    for (const auto& axes : axis_sets) {
      SCOPED_TRACE(std::string(ToString(op)) + " over " +
                   Shape(std::vector<int64_t>(axes.begin(), axes.end())).ToString());
      std::mt19937_64 rng(o * 31 + axes.size());
      auto x = RandomVector(xs.Size(), rng, 0.5, 1.5);
      Shape kept = xs;
      for (int a : axes) kept[a] = 1;
      std::vector<double> ref(kept.Size()), y(kept.Size());
      reference::Reduce(op, xs, axes, x.data(), ref.data());
      ReduceForward(op, View(x, xs), axes, View(y, kept), OpReq::kWriteTo);
      ExpectAllNear(y, ref, 1e-13, 1e-13, "float64 out");
      auto xf = test::Convert<float>(x);
      std::vector<float> yf(kept.Size());
      ReduceForward(op, View(xf, xs), axes, View(yf, kept), OpReq::kWriteTo);
      ExpectAllNear(yf, ref, 2e-5, 2e-5, "float32 out");
      auto xh = AsT<Half>(x);
      std::vector<Half> yh(kept.Size());
      ReduceForward(op, View(xh, xs), axes, View(yh, kept), OpReq::kWriteTo);
      ExpectAllNear(AsDouble(yh), ref, op == ReduceOp::kProd ? 3e-2 : 4e-3, 4e-3, "float16 out");

      auto head = RandomVector(kept.Size(), rng);
      auto forward = [&] {
        std::vector<double> out(kept.Size());
        ReduceForward(op, View(x, xs), axes, View(out, kept), OpReq::kWriteTo);
        return out;
      };
      std::vector<double> dx(x.size());
      ReduceBackward(op, View(head, kept), View(x, xs), View(y, kept), axes, View(dx, xs),
                     OpReq::kWriteTo);
      test::ExpectGradientNear("x", forward, x, head, dx);
    }
  }
}

TEST(KernelsReduce, BroadcastToAndSumToShapeAreTransposes) {
  std::vector<double> src{1, 2, 3}, full(12), back(3, 100.0);
  BroadcastTo(View(src, Shape{3, 1}), View(full, Shape{2, 3, 2}), OpReq::kWriteTo);
  EXPECT_EQ(full, (std::vector<double>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  SumToShape(View(full, Shape{2, 3, 2}), View(back, Shape{3, 1}), OpReq::kAddTo);
  EXPECT_EQ(back, (std::vector<double>{104, 108, 112}));
}

TEST(KernelsReduce, ArgMaxArgMin) {
  std::vector<float> x{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 9}, out(4), flat(1);
  ArgReduce(true, View(x, Shape{3, 4}), 0, View(out, Shape{4}), OpReq::kWriteTo);
  EXPECT_EQ(out, (std::vector<float>{1, 1, 2, 2}));
  std::vector<float> rows(3);
  ArgReduce(false, View(x, Shape{3, 4}), -1, View(rows, Shape{3}), OpReq::kWriteTo);
  EXPECT_EQ(rows, (std::vector<float>{1, 2, 1}));
  ArgReduce(true, View(x, Shape{3, 4}), std::nullopt, View(flat, Shape{1}), OpReq::kWriteTo);
  EXPECT_EQ(flat[0], 5);  // first of the two 9s
  std::vector<int32_t> as_int(4);
  ArgReduce(true, View(x, Shape{3, 4}), 0, View(as_int, Shape{4}), OpReq::kWriteTo);
  EXPECT_EQ(as_int, (std::vector<int32_t>{1, 1, 2, 2}));
}

}  // namespace
}  // namespace loom::cpu
