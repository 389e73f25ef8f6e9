#include "operators/cpu/pooling.h"

#include <limits>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "Pooling";

// The window of output position (o0, o1, o2): clipped bounds and the divisor avg uses.
struct Window {
  int64_t lo[3], hi[3];
  int64_t divisor;
};

Window WindowAt(const PoolingGeometry& g, const int64_t o[3], bool count_include_pad) {
  Window w;
  int64_t padded = 1, clipped = 1;
  for (int a = 0; a < 3; ++a) {
    const int64_t start = o[a] * g.s[a] - g.pad[a];
    const int64_t end = std::min(start + g.k[a], g.in[a] + g.pad[a]);
    padded *= end - start;
    w.lo[a] = std::max<int64_t>(start, 0);
    w.hi[a] = std::min(end, g.in[a]);
    clipped *= std::max<int64_t>(w.hi[a] - w.lo[a], 0);
  }
  w.divisor = count_include_pad ? padded : clipped;
  return w;
}

template <typename F>
void ForEachOutput(const PoolingGeometry& g, F&& f) {
  int64_t o[3];
  int64_t index = 0;
  for (o[0] = 0; o[0] < g.out[0]; ++o[0])
    for (o[1] = 0; o[1] < g.out[1]; ++o[1])
      for (o[2] = 0; o[2] < g.out[2]; ++o[2]) f(o, index++);
}

// Index (flat over the plane) of the window's first maximum; -1 for an empty window.
template <typename T>
int64_t ArgMax(const PoolingGeometry& g, const Window& w, const T* x) {
  int64_t best = -1;
  T best_value = -std::numeric_limits<T>::infinity();
  for (int64_t i0 = w.lo[0]; i0 < w.hi[0]; ++i0)
    for (int64_t i1 = w.lo[1]; i1 < w.hi[1]; ++i1) {
      const int64_t row = (i0 * g.in[1] + i1) * g.in[2];
      for (int64_t i2 = w.lo[2]; i2 < w.hi[2]; ++i2) {
        if (best < 0 || x[row + i2] > best_value) {
          best = row + i2;
          best_value = x[row + i2];
        }
      }
    }
  return best;
}

template <typename T>
T WindowSum(const PoolingGeometry& g, const Window& w, const T* x) {
  T sum = 0;
  for (int64_t i0 = w.lo[0]; i0 < w.hi[0]; ++i0)
    for (int64_t i1 = w.lo[1]; i1 < w.hi[1]; ++i1) {
      const T* row = x + (i0 * g.in[1] + i1) * g.in[2];
      for (int64_t i2 = w.lo[2]; i2 < w.hi[2]; ++i2) sum += row[i2];
    }
  return sum;
}

int64_t PlaneGrain(const PoolingGeometry& g) {
  const int64_t work = std::max<int64_t>(1, g.InSize() + g.OutSize() * g.k[0] * g.k[1] * g.k[2]);
  return std::max<int64_t>(1, 65536 / work);
}

}  // namespace

PoolingGeometry PoolingShapes(const PoolingParams& p, const Shape& data, const Shape& out) {
  const int nsp = data.ndim() - 2;
  LOOM_CHECK_TYPED(ShapeError, nsp >= 1 && nsp <= 3 && out.ndim() == data.ndim(), kOp,
                   ": expected data and out with 3 to 5 axes (N, C, spatial...) but got ",
                   data.ToString(), " and ", out.ToString());
  LOOM_CHECK_TYPED(ShapeError, out[0] == data[0] && out[1] == data[1], kOp,
                   ": expected out to keep data's batch and channels ", data.ToString(),
                   " but got ", out.ToString());
  if (!p.global_pool) {
    LOOM_CHECK_TYPED(ShapeError, static_cast<int>(p.kernel.size()) == nsp, kOp, ": expected a ",
                     nsp, "-D kernel for data ", data.ToString(), " but got ", p.kernel.size(),
                     " sizes");
    LOOM_CHECK_TYPED(ShapeError,
                     (p.stride.empty() || static_cast<int>(p.stride.size()) == nsp) &&
                         (p.pad.empty() || static_cast<int>(p.pad.size()) == nsp),
                     kOp, ": expected stride and pad with ", nsp, " entries or none");
  }
  PoolingGeometry g;
  g.planes = data[0] * data[1];
  for (int i = 0; i < nsp; ++i) {
    const int a = 3 - nsp + i;
    g.in[a] = data[2 + i];
    g.out[a] = out[2 + i];
    if (p.global_pool) {
      g.k[a] = g.in[a];
      LOOM_CHECK_TYPED(ShapeError, g.out[a] == 1, kOp, ": expected a global pool's out to have ",
                       "spatial size 1 but got ", out.ToString());
    } else {
      g.k[a] = p.kernel[i];
      g.s[a] = p.stride.empty() ? 1 : p.stride[i];
      g.pad[a] = p.pad.empty() ? 0 : p.pad[i];
      LOOM_CHECK(g.k[a] >= 1 && g.s[a] >= 1 && g.pad[a] >= 0, kOp,
                 ": expected kernel and stride >= 1 and pad >= 0");
    }
  }
  return g;
}

int64_t PoolingOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                          PoolingConvention convention) {
  switch (convention) {
    case PoolingConvention::kValid:
      return 1 + (in + 2 * pad - kernel) / stride;
    case PoolingConvention::kFull:
      return 1 + (in + 2 * pad - kernel + stride - 1) / stride;
    case PoolingConvention::kSame:
      return (in + 2 * pad + stride - 1) / stride;
  }
  return 0;
}

void PoolingForward(const PoolingParams& p, const TensorView& data, const TensorView& out,
                    OpReq req) {
  if (req == OpReq::kNull) return;
  const PoolingGeometry g = PoolingShapes(p, data.shape, out.shape);
  CheckSameDType(data, out, kOp, "data", "out");
  DispatchFloat(data.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    T* y = out.data<T>();
    ParallelFor(g.planes, PlaneGrain(g), [&](int64_t b, int64_t e) {
      for (int64_t plane = b; plane < e; ++plane) {
        const T* xp = x + plane * g.InSize();
        T* yp = y + plane * g.OutSize();
        ForEachOutput(g, [&](const int64_t* o, int64_t i) {
          const Window w = WindowAt(g, o, p.count_include_pad);
          T v;
          if (p.type == PoolType::kMax) {
            const int64_t at = ArgMax(g, w, xp);
            v = at < 0 ? -std::numeric_limits<T>::infinity() : xp[at];
          } else {
            v = WindowSum(g, w, xp);
            if (p.type == PoolType::kAvg) v = w.divisor > 0 ? v / T(w.divisor) : T(0);
          }
          Assign(req, yp[i], v);
        });
      }
    });
  });
}

void PoolingBackward(const PoolingParams& p, const TensorView& out_grad, const TensorView& data,
                     const TensorView& data_grad, OpReq req) {
  if (req == OpReq::kNull) return;
  const PoolingGeometry g = PoolingShapes(p, data.shape, out_grad.shape);
  CheckSameShape(data, data_grad, kOp, "data", "data_grad");
  CheckSameDType(data, out_grad, kOp, "data", "out_grad");
  CheckSameDType(data, data_grad, kOp, "data", "data_grad");
  DispatchFloat(data.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    const T* dy = out_grad.data<T>();
    T* dx = data_grad.data<T>();
    ParallelFor(g.planes, PlaneGrain(g), [&](int64_t b, int64_t e) {
      for (int64_t plane = b; plane < e; ++plane) {
        const T* xp = x + plane * g.InSize();
        const T* dyp = dy + plane * g.OutSize();
        T* dxp = dx + plane * g.InSize();
        ZeroIfWrite(req, dxp, g.InSize());
        ForEachOutput(g, [&](const int64_t* o, int64_t i) {
          const Window w = WindowAt(g, o, p.count_include_pad);
          if (p.type == PoolType::kMax) {
            const int64_t at = ArgMax(g, w, xp);
            if (at >= 0) dxp[at] += dyp[i];
            return;
          }
          const T v =
              p.type == PoolType::kAvg ? (w.divisor > 0 ? dyp[i] / T(w.divisor) : T(0)) : dyp[i];
          for (int64_t i0 = w.lo[0]; i0 < w.hi[0]; ++i0)
            for (int64_t i1 = w.lo[1]; i1 < w.hi[1]; ++i1) {
              T* row = dxp + (i0 * g.in[1] + i1) * g.in[2];
              for (int64_t i2 = w.lo[2]; i2 < w.hi[2]; ++i2) row[i2] += v;
            }
        });
      }
    });
  });
}

}  // namespace loom::cpu
