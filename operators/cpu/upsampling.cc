#include "operators/cpu/upsampling.h"

#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "UpSampling";

}  // namespace

UpSamplingGeometry UpSamplingNearestGeometry(const TensorView& small, const TensorView& big,
                                             int64_t channel_offset) {
  LOOM_CHECK_TYPED(ShapeError, small.shape.ndim() == 4 && big.shape.ndim() == 4, kOp,
                   ": expected (N, C, H, W) tensors but got ", small.shape.ToString(), " and ",
                   big.shape.ToString());
  CheckSameDType(small, big, kOp, "data", "out");
  UpSamplingGeometry g{
      small.shape[0], small.shape[1], big.shape[1], small.shape[2], small.shape[3], 0, 0};
  LOOM_CHECK_TYPED(ShapeError,
                   big.shape[0] == g.n && channel_offset >= 0 && channel_offset + g.c <= g.big_c &&
                       g.h > 0 && g.w > 0 && big.shape[2] % g.h == 0 && big.shape[3] % g.w == 0,
                   kOp, ": cannot upsample ", small.shape.ToString(), " into channels [",
                   channel_offset, ", ", channel_offset + g.c, ") of ", big.shape.ToString());
  g.sh = big.shape[2] / g.h;
  g.sw = big.shape[3] / g.w;
  return g;
}

void UpSamplingNearestForward(const TensorView& x, const TensorView& y, int64_t channel_offset,
                              OpReq req) {
  if (req == OpReq::kNull) return;
  const UpSamplingGeometry g = UpSamplingNearestGeometry(x, y, channel_offset);
  DispatchFloatHalf(x.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t oh = g.h * g.sh, ow = g.w * g.sw;
    ParallelFor(g.n * g.c, std::max<int64_t>(1, 32768 / (oh * ow)), [&](int64_t p0, int64_t p1) {
      for (int64_t plane = p0; plane < p1; ++plane) {
        const int64_t b = plane / g.c, c = plane % g.c;
        const T* in = px + plane * g.h * g.w;
        T* out = py + ((b * g.big_c + channel_offset + c) * oh) * ow;
        for (int64_t r = 0; r < oh; ++r) {
          const T* src = in + (r / g.sh) * g.w;
          T* dst = out + r * ow;
          for (int64_t col = 0; col < ow; ++col) {
            const AccT<T> v = src[col / g.sw];
            dst[col] = static_cast<T>(req == OpReq::kAddTo ? AccT<T>(dst[col]) + v : v);
          }
        }
      }
    });
  });
}

void UpSamplingNearestBackward(const TensorView& dy, int64_t channel_offset, const TensorView& dx,
                               OpReq req) {
  if (req == OpReq::kNull) return;
  const UpSamplingGeometry g = UpSamplingNearestGeometry(dx, dy, channel_offset);
  DispatchFloatHalf(dx.dtype, kOp, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* pg = dy.data<T>();
    T* pd = dx.data<T>();
    const int64_t oh = g.h * g.sh, ow = g.w * g.sw;
    ParallelFor(g.n * g.c, std::max<int64_t>(1, 32768 / (oh * ow)), [&](int64_t p0, int64_t p1) {
      std::vector<A> acc(static_cast<size_t>(g.h * g.w));
      for (int64_t plane = p0; plane < p1; ++plane) {
        const int64_t b = plane / g.c, c = plane % g.c;
        const T* grad = pg + ((b * g.big_c + channel_offset + c) * oh) * ow;
        std::fill(acc.begin(), acc.end(), A(0));
        for (int64_t r = 0; r < oh; ++r) {
          A* row = acc.data() + (r / g.sh) * g.w;
          for (int64_t col = 0; col < ow; ++col) row[col / g.sw] += A(grad[r * ow + col]);
        }
        T* out = pd + plane * g.h * g.w;
        for (int64_t i = 0; i < g.h * g.w; ++i) {
          out[i] = static_cast<T>(req == OpReq::kAddTo ? A(out[i]) + acc[i] : acc[i]);
        }
      }
    });
  });
}

}  // namespace loom::cpu
