// Pooling CPU kernels vs the naive reference, gradients vs finite differences, req=kAddTo,
// output sizes of the three conventions.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "operators/cpu/pooling.h"
#include "operators/cpu/reference/pooling.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

struct Case {
  Shape data;
  PoolingParams p;
  PoolingConvention convention = PoolingConvention::kValid;
};

PoolingParams P(PoolType type, std::vector<int64_t> kernel, std::vector<int64_t> stride = {},
                std::vector<int64_t> pad = {}, bool count_include_pad = true) {
  PoolingParams p;
  p.type = type;
  p.kernel = std::move(kernel);
  p.stride = std::move(stride);
  p.pad = std::move(pad);
  p.count_include_pad = count_include_pad;
  return p;
}

PoolingParams Global(PoolType type) {
  PoolingParams p;
  p.type = type;
  p.global_pool = true;
  return p;
}

std::vector<Case> Cases() {
  return {{Shape{2, 3, 6, 6}, P(PoolType::kMax, {2, 2}, {2, 2})},
          {Shape{1, 2, 7, 5}, P(PoolType::kAvg, {3, 3}, {2, 2}, {1, 1})},
          {Shape{1, 2, 7, 5}, P(PoolType::kAvg, {3, 3}, {2, 2}, {1, 1}, false)},
          {Shape{2, 2, 7, 7}, P(PoolType::kMax, {3, 3}, {2, 2}), PoolingConvention::kFull},
          {Shape{2, 2, 6, 7}, P(PoolType::kAvg, {2, 3}, {2, 2}, {0, 1}), PoolingConvention::kFull},
          {Shape{2, 3, 9}, P(PoolType::kSum, {3}, {2}, {1})},
          {Shape{1, 2, 4, 5, 6}, P(PoolType::kMax, {2, 2, 3}, {2, 1, 2}, {0, 1, 1})},
          {Shape{2, 3, 4, 5}, Global(PoolType::kAvg)},
          {Shape{2, 3, 4, 5}, Global(PoolType::kMax)},
          {Shape{2, 1, 7, 6}, P(PoolType::kMax, {3, 3}, {2, 2}), PoolingConvention::kSame}};
}

Shape OutShape(const Case& c) {
  std::vector<int64_t> dims{c.data[0], c.data[1]};
  for (int i = 2; i < c.data.ndim(); ++i) {
    if (c.p.global_pool) {
      dims.push_back(1);
    } else {
      const int a = i - 2;
      dims.push_back(PoolingOutputSize(c.data[i], c.p.kernel[a],
                                       c.p.stride.empty() ? 1 : c.p.stride[a],
                                       c.p.pad.empty() ? 0 : c.p.pad[a], c.convention));
    }
  }
  return Shape(dims);
}

TEST(KernelsPooling, OutputSizeConventions) {
  EXPECT_EQ(PoolingOutputSize(7, 3, 2, 0, PoolingConvention::kValid), 3);
  EXPECT_EQ(PoolingOutputSize(7, 3, 2, 0, PoolingConvention::kFull), 3);
  EXPECT_EQ(PoolingOutputSize(8, 3, 2, 0, PoolingConvention::kValid), 3);
  EXPECT_EQ(PoolingOutputSize(8, 3, 2, 0, PoolingConvention::kFull), 4);
  EXPECT_EQ(PoolingOutputSize(6, 3, 1, 1, PoolingConvention::kSame), 8);
  EXPECT_EQ(PoolingOutputSize(7, 2, 2, 0, PoolingConvention::kSame), 4);
}

TEST(KernelsPooling, HandComputedMaxAndAvg) {
  // 1x1x2x4 input, 2x2 windows with stride 2.
  std::vector<double> x{1, 5, 2, 0, 3, 4, 8, -1}, y(2), dy{10, 20}, dx(8);
  const Shape xs{1, 1, 2, 4}, ys{1, 1, 1, 2};
  PoolingForward(P(PoolType::kMax, {2, 2}, {2, 2}), View(x, xs), View(y, ys), OpReq::kWriteTo);
  EXPECT_EQ(y, (std::vector<double>{5, 8}));
  PoolingBackward(P(PoolType::kMax, {2, 2}, {2, 2}), View(dy, ys), View(x, xs), View(dx, xs),
                  OpReq::kWriteTo);
  EXPECT_EQ(dx, (std::vector<double>{0, 10, 0, 0, 0, 0, 20, 0}));
  PoolingForward(P(PoolType::kAvg, {2, 2}, {2, 2}), View(x, xs), View(y, ys), OpReq::kWriteTo);
  EXPECT_EQ(y, (std::vector<double>{13.0 / 4, 9.0 / 4}));
}

template <typename T>
void ExpectMatchesReference() {
  std::mt19937_64 rng(1);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  for (const Case& c : Cases()) {
    SCOPED_TRACE("data " + c.data.ToString());
    const Shape ys = OutShape(c);
    auto x = RandomVector(c.data.Size(), rng), dy = RandomVector(ys.Size(), rng);
    std::vector<double> y_ref(ys.Size()), dx_ref(x.size());
    reference::PoolingForward(c.p, c.data, ys, x.data(), y_ref.data());
    reference::PoolingBackward(c.p, c.data, ys, dy.data(), x.data(), dx_ref.data());
    auto xt = test::Convert<T>(x), dyt = test::Convert<T>(dy);
    std::vector<T> y(ys.Size()), dx(x.size());
    PoolingForward(c.p, View(xt, c.data), View(y, ys), OpReq::kWriteTo);
    PoolingBackward(c.p, View(dyt, ys), View(xt, c.data), View(dx, c.data), OpReq::kWriteTo);
    ExpectAllNear(y, y_ref, tol, tol, "out");
    ExpectAllNear(dx, dx_ref, tol, tol, "data_grad");
  }
}

TEST(KernelsPooling, MatchesReferenceFloat32AndFloat64) {
  ExpectMatchesReference<float>();
  ExpectMatchesReference<double>();
}

TEST(KernelsPooling, GradientsMatchFiniteDifferences) {
  std::mt19937_64 rng(2);
  for (const Case& c : Cases()) {
    SCOPED_TRACE("data " + c.data.ToString());
    const Shape ys = OutShape(c);
    auto x = RandomVector(c.data.Size(), rng), head = RandomVector(ys.Size(), rng);
    auto forward = [&] {
      std::vector<double> y(ys.Size());
      PoolingForward(c.p, View(x, c.data), View(y, ys), OpReq::kWriteTo);
      return y;
    };
    std::vector<double> dx(x.size());
    PoolingBackward(c.p, View(head, ys), View(x, c.data), View(dx, c.data), OpReq::kWriteTo);
    test::ExpectGradientNear("data", forward, x, head, dx);
  }
}

TEST(KernelsPooling, AddToAccumulates) {
  std::mt19937_64 rng(3);
  for (const Case& c : {Cases()[0], Cases()[1]}) {
    const Shape ys = OutShape(c);
    auto x = RandomVector(c.data.Size(), rng), dy = RandomVector(ys.Size(), rng);
    test::ExpectAddToAccumulates<double>(
        [&](OpReq req, std::vector<std::vector<double>>& o) {
          PoolingForward(c.p, View(x, c.data), View(o[0], ys), req);
          PoolingBackward(c.p, View(dy, ys), View(x, c.data), View(o[1], c.data), req);
        },
        {static_cast<size_t>(ys.Size()), x.size()});
  }
}

TEST(KernelsPooling, WrongOutputShapeIsShapeError) {
  std::vector<float> x(16), y(4);
  EXPECT_THROW(PoolingForward(P(PoolType::kMax, {2, 2}, {2, 2}), View(x, Shape{1, 1, 4, 4}),
                              View(y, Shape{1, 2, 2, 1}), OpReq::kWriteTo),
               ShapeError);
  EXPECT_THROW(PoolingForward(P(PoolType::kMax, {2}, {2}), View(x, Shape{1, 1, 4, 4}),
                              View(y, Shape{1, 1, 2, 2}), OpReq::kWriteTo),
               ShapeError);
}

}  // namespace
}  // namespace loom::cpu
