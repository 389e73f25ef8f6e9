#include "operators/cpu/pooling2d.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "Pooling";

// Window bounds along one axis, per output index: [lo, hi) clipped to the input, and the
// window's length counted up to the padded border (avg's divisor with count_include_pad).
struct AxisWindows {
  std::vector<int64_t> lo, hi, padded;
};

AxisWindows Windows(int64_t in, int64_t out, int64_t k, int64_t s, int64_t pad) {
  AxisWindows w;
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * s - pad;
    const int64_t end = std::min(start + k, in + pad);
    w.padded.push_back(end - start);
    w.lo.push_back(std::max<int64_t>(start, 0));
    w.hi.push_back(std::min(end, in));
  }
  return w;
}

struct Geometry {
  int64_t planes, h, w, oh, ow;
  AxisWindows rows, cols;
};

Geometry MakeGeometry(const PoolingParams& p, const Shape& data, const Shape& out) {
  LOOM_CHECK_TYPED(ShapeError,
                   data.ndim() == 4 && out.ndim() == 4 && out[0] == data[0] && out[1] == data[1],
                   kOp, ": expected data and out (N, C, H, W) with one batch and channel count ",
                   "but got ", data.ToString(), " and ", out.ToString());
  Geometry g{data[0] * data[1], data[2], data[3], out[2], out[3], {}, {}};
  if (p.global_pool) {
    LOOM_CHECK_TYPED(ShapeError, g.oh == 1 && g.ow == 1, kOp,
                     ": expected a global pool's out to have spatial size 1 but got ",
                     out.ToString());
    g.rows = Windows(g.h, 1, g.h, 1, 0);
    g.cols = Windows(g.w, 1, g.w, 1, 0);
    return g;
  }
  LOOM_CHECK_TYPED(ShapeError, p.kernel.size() == 2, kOp, ": expected a 2-D kernel for data ",
                   data.ToString());
  auto at = [](const std::vector<int64_t>& v, size_t i, int64_t fallback) {
    return v.empty() ? fallback : v[i];
  };
  g.rows = Windows(g.h, g.oh, p.kernel[0], at(p.stride, 0, 1), at(p.pad, 0, 0));
  g.cols = Windows(g.w, g.ow, p.kernel[1], at(p.stride, 1, 1), at(p.pad, 1, 0));
  return g;
}

// 2x2 max pooling with stride 2 and no padding (LeNet's, VGG's): every input element lies in at
// most one window, so the gradient is written without zeroing first, and the loops are fixed.
bool IsMax2x2(const PoolingParams& p, const Geometry& g) {
  return p.type == PoolType::kMax && !p.global_pool && p.kernel[0] == 2 && p.kernel[1] == 2 &&
         !p.stride.empty() && p.stride[0] == 2 && p.stride[1] == 2 &&
         (p.pad.empty() || (p.pad[0] == 0 && p.pad[1] == 0)) && g.oh == g.h / 2 && g.ow == g.w / 2;
}

// The first maximum's offset (0..3) among a0, a1, b0, b1, without branches (random data would
// mispredict them).
template <typename T>
int FirstMax4(T a0, T a1, T b0, T b1) {
  T v = a0;
  int at = 0;
  const bool c1 = a1 > v;
  v = c1 ? a1 : v;
  at = c1 ? 1 : at;
  const bool c2 = b0 > v;
  v = c2 ? b0 : v;
  at = c2 ? 2 : at;
  return b1 > v ? 3 : at;
}

template <typename T>
void Max2x2Forward(const Geometry& g, const T* xp, T* yp, OpReq req) {
  for (int64_t r = 0; r < g.oh; ++r) {
    const T* a = xp + 2 * r * g.w;
    const T* b = a + g.w;
    T* y = yp + r * g.ow;
    for (int64_t c = 0; c < g.ow; ++c) {
      T v = a[2 * c];
      v = a[2 * c + 1] > v ? a[2 * c + 1] : v;
      v = b[2 * c] > v ? b[2 * c] : v;
      v = b[2 * c + 1] > v ? b[2 * c + 1] : v;
      y[c] = req == OpReq::kAddTo ? y[c] + v : v;
    }
  }
}

template <typename T>
void Max2x2Backward(const Geometry& g, const T* xp, const T* dyp, T* dxp, OpReq req) {
  // Rows and columns outside every window (odd sizes) get no gradient.
  if (req != OpReq::kAddTo) {
    if (g.h % 2 != 0) std::fill(dxp + (g.h - 1) * g.w, dxp + g.h * g.w, T(0));
    if (g.w % 2 != 0) {
      for (int64_t i = 0; i < 2 * g.oh; ++i) dxp[i * g.w + g.w - 1] = T(0);
    }
  }
  for (int64_t r = 0; r < g.oh; ++r) {
    const T* a = xp + 2 * r * g.w;
    const T* b = a + g.w;
    T* da = dxp + 2 * r * g.w;
    T* db = da + g.w;
    const T* dy = dyp + r * g.ow;
    for (int64_t c = 0; c < g.ow; ++c) {
      const int at = FirstMax4(a[2 * c], a[2 * c + 1], b[2 * c], b[2 * c + 1]);
      const T d = dy[c];
      const T g0 = at == 0 ? d : T(0), g1 = at == 1 ? d : T(0);
      const T g2 = at == 2 ? d : T(0), g3 = at == 3 ? d : T(0);
      if (req == OpReq::kAddTo) {
        da[2 * c] += g0, da[2 * c + 1] += g1, db[2 * c] += g2, db[2 * c + 1] += g3;
      } else {
        da[2 * c] = g0, da[2 * c + 1] = g1, db[2 * c] = g2, db[2 * c + 1] = g3;
      }
    }
  }
}

int64_t PlaneGrain(const Geometry& g) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, g.h * g.w + g.oh * g.ow));
}

}  // namespace

bool Pooling2DApplies(const PoolingParams& p, const Shape& data) {
  return data.ndim() == 4 && (p.global_pool || p.kernel.size() == 2);
}

void Pooling2DForward(const PoolingParams& p, const TensorView& data, const TensorView& out,
                      OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameDType(data, out, kOp, "data", "out");
  const Geometry g = MakeGeometry(p, data.shape, out.shape);
  const bool max2x2 = IsMax2x2(p, g);
  DispatchFloat(data.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    T* y = out.data<T>();
    ParallelFor(g.planes, PlaneGrain(g), [&](int64_t b, int64_t e) {
      for (int64_t plane = b; plane < e; ++plane) {
        const T* xp = x + plane * g.h * g.w;
        T* yp = y + plane * g.oh * g.ow;
        if (max2x2) {
          Max2x2Forward(g, xp, yp, req);
          continue;
        }
        for (int64_t r = 0; r < g.oh; ++r) {
          const int64_t r0 = g.rows.lo[r], r1 = g.rows.hi[r];
          for (int64_t c = 0; c < g.ow; ++c) {
            const int64_t c0 = g.cols.lo[c], c1 = g.cols.hi[c];
            T v;
            if (r0 >= r1 || c0 >= c1) {
              v = p.type == PoolType::kMax ? -std::numeric_limits<T>::infinity() : T(0);
            } else if (p.type == PoolType::kMax) {
              v = xp[r0 * g.w + c0];
              for (int64_t i = r0; i < r1; ++i) {
                const T* row = xp + i * g.w;
                for (int64_t j = c0; j < c1; ++j) v = row[j] > v ? row[j] : v;
              }
            } else {
              v = T(0);
              for (int64_t i = r0; i < r1; ++i) {
                const T* row = xp + i * g.w;
                for (int64_t j = c0; j < c1; ++j) v += row[j];
              }
              if (p.type == PoolType::kAvg) {
                const int64_t divisor = p.count_include_pad ? g.rows.padded[r] * g.cols.padded[c]
                                                            : (r1 - r0) * (c1 - c0);
                v /= T(divisor);
              }
            }
            Assign(req, yp[r * g.ow + c], v);
          }
        }
      }
    });
  });
}

void Pooling2DBackward(const PoolingParams& p, const TensorView& out_grad, const TensorView& data,
                       const TensorView& data_grad, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(data, data_grad, kOp, "data", "data_grad");
  CheckSameDType(data, out_grad, kOp, "data", "out_grad");
  CheckSameDType(data, data_grad, kOp, "data", "data_grad");
  const Geometry g = MakeGeometry(p, data.shape, out_grad.shape);
  const bool max2x2 = IsMax2x2(p, g);
  DispatchFloat(data.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    const T* dy = out_grad.data<T>();
    T* dx = data_grad.data<T>();
    ParallelFor(g.planes, PlaneGrain(g), [&](int64_t b, int64_t e) {
      for (int64_t plane = b; plane < e; ++plane) {
        const T* xp = x + plane * g.h * g.w;
        const T* dyp = dy + plane * g.oh * g.ow;
        T* dxp = dx + plane * g.h * g.w;
        if (max2x2) {
          Max2x2Backward(g, xp, dyp, dxp, req);
          continue;
        }
        ZeroIfWrite(req, dxp, g.h * g.w);
        for (int64_t r = 0; r < g.oh; ++r) {
          const int64_t r0 = g.rows.lo[r], r1 = g.rows.hi[r];
          for (int64_t c = 0; c < g.ow; ++c) {
            const int64_t c0 = g.cols.lo[c], c1 = g.cols.hi[c];
            if (r0 >= r1 || c0 >= c1) continue;
            const T d = dyp[r * g.ow + c];
            if (p.type == PoolType::kMax) {
              int64_t best = r0 * g.w + c0;
              for (int64_t i = r0; i < r1; ++i) {
                for (int64_t j = c0; j < c1; ++j) {
                  if (xp[i * g.w + j] > xp[best]) best = i * g.w + j;
                }
              }
              dxp[best] += d;
              continue;
            }
            T v = d;
            if (p.type == PoolType::kAvg) {
              const int64_t divisor =
                  p.count_include_pad ? g.rows.padded[r] * g.cols.padded[c] : (r1 - r0) * (c1 - c0);
              v /= T(divisor);
            }
            for (int64_t i = r0; i < r1; ++i) {
              T* row = dxp + i * g.w;
              for (int64_t j = c0; j < c1; ++j) row[j] += v;
            }
          }
        }
      }
    });
  });
}

}  // namespace loom::cpu
