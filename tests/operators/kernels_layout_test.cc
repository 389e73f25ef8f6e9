// transpose / SwapAxis, Concat, SliceChannel, slice / slice_axis / Crop CPU kernels vs
// coordinate-based references; each backward checked as the forward's transpose (the adjoint
// identity <dy, F x> = <F^T dy, x>) and with kAddTo.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "loom/core/half.h"
#include "operators/cpu/layout.h"
#include "operators/cpu/reference/misc.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(KernelsLayout, TransposeMatchesReferenceAndIsAdjoint) {
  std::mt19937_64 rng(1);
  const Shape xs{2, 3, 4, 5};
  const std::vector<std::vector<int>> perms = {{0, 1, 2, 3}, {3, 2, 1, 0}, {0, 2, 1, 3},
                                               {1, 0, 3, 2}, {2, 3, 0, 1}, {0, 1, 3, 2}};
  for (const auto& perm : perms) {
    auto x = RandomVector(xs.Size(), rng);
    const auto ref = reference::Transpose(x, xs, perm);
    std::vector<int64_t> yd;
    for (int a : perm) yd.push_back(xs[a]);
    const Shape ys(yd);
    std::vector<double> y(x.size()), dx(x.size());
    TransposeForward(View(x, xs), perm, View(y, ys), OpReq::kWriteTo);
    ExpectAllNear(y, ref, 0, 0, "transpose");
    auto dy = RandomVector(y.size(), rng);
    TransposeBackward(View(dy, ys), perm, View(dx, xs), OpReq::kWriteTo);
    EXPECT_NEAR(Dot(dy, y), Dot(dx, x), 1e-12);
  }
  // Default axes reverse; float16 and int32 move too.
  std::vector<Half> h{Half(1.f), Half(2.f), Half(3.f), Half(4.f), Half(5.f), Half(6.f)}, ht(6);
  TransposeForward(View(h, Shape{2, 3}), {}, View(ht, Shape{3, 2}), OpReq::kWriteTo);
  EXPECT_EQ(float(ht[1]), 4.f);
  std::vector<int32_t> ints{1, 2, 3, 4, 5, 6}, it(6);
  SwapAxis(View(ints, Shape{2, 3}), 0, 1, View(it, Shape{3, 2}), OpReq::kWriteTo);
  EXPECT_EQ(it, (std::vector<int32_t>{1, 4, 2, 5, 3, 6}));
}

TEST(KernelsLayout, ConcatAndSplitAreInverse) {
  std::mt19937_64 rng(2);
  for (int dim : {0, 1, 2, -1}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    const int a = dim < 0 ? dim + 3 : dim;
    Shape s1{2, 3, 4}, s2{2, 3, 4}, out{2, 3, 4};
    s2[a] = 2;
    out[a] = s1[a] + s2[a];
    auto x1 = RandomVector(s1.Size(), rng), x2 = RandomVector(s2.Size(), rng);
    std::vector<double> y(out.Size());
    const TensorView inputs[] = {View(x1, s1), View(x2, s2)};
    ConcatForward(inputs, dim, View(y, out), OpReq::kWriteTo);
    for (int64_t i = 0; i < out.Size(); ++i) {
      auto c = reference::Coords(out, i);
      const bool first = c[a] < s1[a];
      if (!first) c[a] -= s1[a];
      EXPECT_EQ(y[i], first ? x1[reference::Flat(s1, c)] : x2[reference::Flat(s2, c)]);
    }
    std::vector<double> g1(x1.size(), 1.0), g2(x2.size());
    const TensorView grads[] = {View(g1, s1), View(g2, s2)};
    const OpReq reqs[] = {OpReq::kAddTo, OpReq::kWriteTo};
    ConcatBackward(View(y, out), dim, grads, reqs);
    for (size_t i = 0; i < x1.size(); ++i) EXPECT_EQ(g1[i], x1[i] + 1.0);
    EXPECT_EQ(g2, x2);
  }
  // SliceChannel with squeeze_axis: outputs without the axis.
  std::vector<float> x{1, 2, 3, 4, 5, 6}, o1(3), o2(3), back(6);
  const TensorView outs[] = {View(o1, Shape{3}), View(o2, Shape{3})};
  const OpReq reqs[] = {OpReq::kWriteTo, OpReq::kWriteTo};
  SplitForward(View(x, Shape{2, 3}), 0, outs, reqs);
  EXPECT_EQ(o1, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(o2, (std::vector<float>{4, 5, 6}));
  std::vector<float> c1(3), c2(3);
  const TensorView cols[] = {View(c1, Shape{3, 1}), View(c2, Shape{3, 1})};
  EXPECT_THROW(SplitForward(View(x, Shape{2, 3}), 1, cols, reqs), Error);
  SplitBackward(outs, 0, View(back, Shape{2, 3}), OpReq::kWriteTo);
  EXPECT_EQ(back, x);
}

TEST(KernelsLayout, ResolveSliceFollowsMXNet) {
  const Shape x{5, 6};
  using O = std::optional<int64_t>;
  // x[1:4, ::2]
  SliceSpec s = ResolveSlice(x, std::vector<O>{1, std::nullopt}, std::vector<O>{4, std::nullopt},
                             std::vector<O>{std::nullopt, 2});
  EXPECT_EQ(s.OutShape(), Shape({3, 3}));
  // x[-2:, ::-1]
  s = ResolveSlice(x, std::vector<O>{-2, std::nullopt}, std::vector<O>{std::nullopt, std::nullopt},
                   std::vector<O>{1, -1});
  EXPECT_EQ(s.OutShape(), Shape({2, 6}));
  EXPECT_EQ(s.begin, (std::vector<int64_t>{3, 5}));
  // x[4:0:-2] -> rows 4, 2; x[:100] clips
  s = ResolveSlice(x, std::vector<O>{4}, std::vector<O>{0}, std::vector<O>{-2});
  EXPECT_EQ(s.OutShape(), Shape({2, 6}));
  s = ResolveSlice(x, std::vector<O>{std::nullopt}, std::vector<O>{100}, {});
  EXPECT_EQ(s.OutShape(), Shape({5, 6}));
  // empty when begin >= end
  s = ResolveSlice(x, std::vector<O>{3}, std::vector<O>{1}, {});
  EXPECT_EQ(s.OutShape(), Shape({0, 6}));
  EXPECT_THROW(ResolveSlice(x, std::vector<O>{0}, std::vector<O>{1}, std::vector<O>{0}), Error);
  s = ResolveSliceAxis(x, -1, 1, std::nullopt);
  EXPECT_EQ(s.OutShape(), Shape({5, 5}));
  s = ResolveCrop(Shape{1, 2, 6, 7}, 2, 3, 0, 0, true);
  EXPECT_EQ(s.begin, (std::vector<int64_t>{0, 0, 2, 2}));
  EXPECT_THROW(ResolveCrop(Shape{1, 2, 6, 7}, 2, 3, 5, 0, false), ShapeError);
}

TEST(KernelsLayout, SliceMatchesReferenceAndIsAdjoint) {
  std::mt19937_64 rng(3);
  using O = std::optional<int64_t>;
  const Shape xs{4, 5, 6};
  const std::vector<SliceSpec> specs = {
      ResolveSlice(xs, std::vector<O>{1, 0, 1}, std::vector<O>{3, 5, 6}, {}),
      ResolveSlice(xs, std::vector<O>{std::nullopt, 4}, std::vector<O>{std::nullopt, 0},
                   std::vector<O>{2, -1}),
      ResolveSlice(xs, std::vector<O>{-1, 1, 5}, std::vector<O>{0, 5, 0},
                   std::vector<O>{-2, 2, -3}),
      ResolveSliceAxis(xs, 2, 2, 4), ResolveCrop(xs, 3, 2, 1, 4, false)};
  for (const SliceSpec& s : specs) {
    SCOPED_TRACE("out " + s.OutShape().ToString());
    auto x = RandomVector(xs.Size(), rng);
    std::vector<double> y(s.OutShape().Size()), dx(x.size(), 5.0);
    SliceForward(View(x, xs), s, View(y, s.OutShape()), OpReq::kWriteTo);
    ExpectAllNear(y, reference::Slice(x, xs, s), 0, 0, "slice");
    auto dy = RandomVector(y.size(), rng);
    SliceBackward(View(dy, s.OutShape()), s, View(dx, xs), OpReq::kWriteTo);
    EXPECT_NEAR(Dot(dy, y), Dot(dx, x), 1e-12);
    std::vector<double> acc(x.size(), 1.0);
    SliceBackward(View(dy, s.OutShape()), s, View(acc, xs), OpReq::kAddTo);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(acc[i], dx[i] + 1.0);
  }
}

}  // namespace
}  // namespace loom::cpu
