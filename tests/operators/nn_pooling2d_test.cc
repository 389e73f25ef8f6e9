// The 2-D pooling fast path (operators/cpu/pooling2d.h) against the naive reference (forward) and
// the general kernel (backward) on random geometries: every pool type, stride, padding,
// count_include_pad, global pooling, 'full' output sizes, float32 and float64, kAddTo.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "operators/cpu/pooling2d.h"
#include "operators/cpu/reference/pooling.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomInt;
using test::View;

TEST(NnPooling2D, MatchesReferenceAndGeneralKernelOnRandomGeometries) {
  std::mt19937_64 rng(21);
  // The first trials are 2x2 max pooling with stride 2 (its own loops), even and odd sizes.
  for (int trial = 0; trial < 64; ++trial) {
    PoolingParams p;
    p.type = trial < 4 ? PoolType::kMax : static_cast<PoolType>(trial % 3);
    p.global_pool = trial >= 4 && trial % 7 == 0;
    p.count_include_pad = trial % 2 == 0;
    const int64_t n = RandomInt(rng, 1, 2), c = RandomInt(rng, 1, 3);
    const int64_t h = trial < 4 ? 4 + trial % 2 : RandomInt(rng, 1, 9);
    const int64_t w = trial < 4 ? 6 + trial / 2 : RandomInt(rng, 1, 9);
    int64_t oh = 1, ow = 1;
    if (trial < 4) {
      p.kernel = {2, 2};
      p.stride = {2, 2};
      p.pad = {0, 0};
      oh = h / 2;
      ow = w / 2;
    } else if (!p.global_pool) {
      p.kernel = {RandomInt(rng, 1, h), RandomInt(rng, 1, w)};
      p.stride = {RandomInt(rng, 1, 3), RandomInt(rng, 1, 3)};
      p.pad = {RandomInt(rng, 0, (p.kernel[0] - 1) / 2 + 0),
               RandomInt(rng, 0, (p.kernel[1] - 1) / 2)};
      const auto conv = trial % 4 == 1 ? PoolingConvention::kFull : PoolingConvention::kValid;
      oh = PoolingOutputSize(h, p.kernel[0], p.stride[0], p.pad[0], conv);
      ow = PoolingOutputSize(w, p.kernel[1], p.stride[1], p.pad[1], conv);
    }
    const Shape xs{n, c, h, w}, ys{n, c, oh, ow};
    SCOPED_TRACE("trial " + std::to_string(trial) + ": " + xs.ToString() + " -> " + ys.ToString());
    ASSERT_TRUE(Pooling2DApplies(p, xs));
    auto x = test::RandomVector(xs.Size(), rng);
    if (trial == 0) x[1] = x[0] = 0.5;  // a tie: the first maximum takes the gradient
    const auto dy = test::RandomVector(ys.Size(), rng);
    std::vector<double> ref(ys.Size()), y(ys.Size()), dx(xs.Size()), dx_general(xs.Size());
    reference::PoolingForward(p, xs, ys, x.data(), ref.data());
    Pooling2DForward(p, View(x, xs), View(y, ys), OpReq::kWriteTo);
    ExpectAllNear(y, ref, 1e-14, 1e-14, "forward");
    Pooling2DBackward(p, View(dy, ys), View(x, xs), View(dx, xs), OpReq::kWriteTo);
    PoolingBackward(p, View(dy, ys), View(x, xs), View(dx_general, xs), OpReq::kWriteTo);
    ExpectAllNear(dx, dx_general, 1e-14, 1e-14, "backward");
    // float32 and accumulation.
    auto xf = test::Convert<float>(x), dyf = test::Convert<float>(dy);
    std::vector<float> yf(ys.Size(), 1.f), dxf(xs.Size(), 1.f);
    Pooling2DForward(p, View(xf, xs), View(yf, ys), OpReq::kAddTo);
    Pooling2DBackward(p, View(dyf, ys), View(xf, xs), View(dxf, xs), OpReq::kAddTo);
    // (An empty window of a 'full' max pool stays -inf.)
    for (double& v : ref) v += 1;
    for (double& v : dx) v += 1;
    ExpectAllNear(yf, ref, 1e-5, 1e-5, "float32 forward, kAddTo");
    ExpectAllNear(dxf, dx, 1e-5, 1e-5, "float32 backward, kAddTo");
  }
}

}  // namespace
}  // namespace loom::cpu
