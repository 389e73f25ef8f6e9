// Pooling over 1 to 3 spatial axes (max, avg, sum, lp) with the CPU kernel's windows: a window
// starts at o * stride - pad, ends at the padded border, and is clipped to the input; max takes
// the first maximum in row-major order. The backward is a gather (one thread per input element
// visits the windows that hold it), so it needs no atomics and is deterministic.
#include <cmath>

#include "operators/cuda/launch.cuh"
#include "operators/cuda/nn_kernels.h"

namespace loom::gpu {
namespace {

enum PoolKind { kMax = 0, kAvg = 1, kSum = 2, kLp = 3 };

struct Window {
  int64_t lo[3], hi[3];
  int64_t divisor;
};

__device__ __forceinline__ Window WindowAt(const PoolGeometryGpu& g, const int64_t o[3],
                                           bool count_include_pad) {
  Window w;
  int64_t padded = 1, clipped = 1;
  for (int a = 0; a < 3; ++a) {
    const int64_t start = o[a] * g.s[a] - g.pad[a];
    const int64_t end = min(start + g.k[a], g.in[a] + g.pad[a]);
    padded *= end - start;
    w.lo[a] = max(start, int64_t{0});
    w.hi[a] = min(end, g.in[a]);
    clipped *= max(w.hi[a] - w.lo[a], int64_t{0});
  }
  w.divisor = count_include_pad ? padded : clipped;
  return w;
}

// The offset (within the plane) of the window's first maximum; -1 for an empty window.
template <typename T>
__device__ int64_t ArgMax(const PoolGeometryGpu& g, const Window& w, const T* x) {
  int64_t best = -1;
  Acc<T> best_value = -INFINITY;
  for (int64_t i0 = w.lo[0]; i0 < w.hi[0]; ++i0)
    for (int64_t i1 = w.lo[1]; i1 < w.hi[1]; ++i1) {
      const int64_t row = (i0 * g.in[1] + i1) * g.in[2];
      for (int64_t i2 = w.lo[2]; i2 < w.hi[2]; ++i2) {
        const Acc<T> v = ToAcc(x[row + i2]);
        if (best < 0 || v > best_value) {
          best = row + i2;
          best_value = v;
        }
      }
    }
  return best;
}

template <typename A>
__device__ __forceinline__ A PowP(A v, int p) {
  A r = 1;
  for (int i = 0; i < p; ++i) r *= v;
  return r;
}

template <typename T>
__global__ void ForwardKernel(PoolGeometryGpu g, int type, bool count_include_pad, int p_value,
                              const T* x, T* y, int req) {
  using A = Acc<T>;
  const int64_t out_size = g.out[0] * g.out[1] * g.out[2];
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2];
  LOOM_CUDA_KERNEL_LOOP(idx, g.planes * out_size) {
    const int64_t plane = idx / out_size;
    int64_t rest = idx % out_size;
    int64_t o[3];
    o[2] = rest % g.out[2];
    rest /= g.out[2];
    o[1] = rest % g.out[1];
    o[0] = rest / g.out[1];
    const Window w = WindowAt(g, o, count_include_pad);
    const T* xp = x + plane * in_size;
    A v;
    if (type == kMax) {
      const int64_t at = ArgMax(g, w, xp);
      v = at < 0 ? A(-INFINITY) : ToAcc(xp[at]);
    } else {
      v = 0;
      for (int64_t i0 = w.lo[0]; i0 < w.hi[0]; ++i0)
        for (int64_t i1 = w.lo[1]; i1 < w.hi[1]; ++i1) {
          const T* row = xp + (i0 * g.in[1] + i1) * g.in[2];
          for (int64_t i2 = w.lo[2]; i2 < w.hi[2]; ++i2) {
            v += type == kLp ? PowP(ToAcc(row[i2]), p_value) : ToAcc(row[i2]);
          }
        }
      if (type == kAvg) v = w.divisor > 0 ? v / A(w.divisor) : A(0);
      if (type == kLp) v = pow(v, A(1) / A(p_value));
    }
    Store(req, y + idx, v);
  }
}

// Outputs along one axis whose window holds input index i: [first, last].
__device__ __forceinline__ void Covering(const PoolGeometryGpu& g, int a, int64_t i, int64_t* first,
                                         int64_t* last) {
  const int64_t hi = i + g.pad[a];     // o * s <= i + pad
  const int64_t lo = hi - g.k[a] + 1;  // o * s > i + pad - k
  *first = lo <= 0 ? 0 : (lo + g.s[a] - 1) / g.s[a];
  *last = min(hi / g.s[a], g.out[a] - 1);
}

template <typename T>
__global__ void BackwardKernel(PoolGeometryGpu g, int type, bool count_include_pad, int p_value,
                               const T* dy, const T* x, T* dx, int req) {
  using A = Acc<T>;
  const int64_t out_size = g.out[0] * g.out[1] * g.out[2];
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2];
  LOOM_CUDA_KERNEL_LOOP(idx, g.planes * in_size) {
    const int64_t plane = idx / in_size;
    const int64_t offset = idx % in_size;
    int64_t i[3];
    i[2] = offset % g.in[2];
    i[1] = (offset / g.in[2]) % g.in[1];
    i[0] = offset / (g.in[2] * g.in[1]);
    int64_t first[3], last[3];
    for (int a = 0; a < 3; ++a) Covering(g, a, i[a], &first[a], &last[a]);
    const T* xp = x + plane * in_size;
    const T* dyp = dy + plane * out_size;
    A sum = 0;
    int64_t o[3];
    for (o[0] = first[0]; o[0] <= last[0]; ++o[0])
      for (o[1] = first[1]; o[1] <= last[1]; ++o[1])
        for (o[2] = first[2]; o[2] <= last[2]; ++o[2]) {
          const int64_t at = (o[0] * g.out[1] + o[1]) * g.out[2] + o[2];
          const Window w = WindowAt(g, o, count_include_pad);
          // The window may end before i at the padded border (full convention).
          if (i[0] >= w.hi[0] || i[1] >= w.hi[1] || i[2] >= w.hi[2]) continue;
          const A g_out = ToAcc(dyp[at]);
          if (type == kMax) {
            if (ArgMax(g, w, xp) == offset) sum += g_out;
          } else if (type == kAvg) {
            if (w.divisor > 0) sum += g_out / A(w.divisor);
          } else if (type == kSum) {
            sum += g_out;
          } else {  // lp: recompute the window's output (the backward gets no output)
            A acc = 0;
            for (int64_t j0 = w.lo[0]; j0 < w.hi[0]; ++j0)
              for (int64_t j1 = w.lo[1]; j1 < w.hi[1]; ++j1) {
                const T* row = xp + (j0 * g.in[1] + j1) * g.in[2];
                for (int64_t j2 = w.lo[2]; j2 < w.hi[2]; ++j2) acc += PowP(ToAcc(row[j2]), p_value);
              }
            const A out = pow(acc, A(1) / A(p_value));
            sum += g_out * PowP(ToAcc(xp[offset]), p_value - 1) / PowP(out, p_value - 1);
          }
        }
    Store(req, dx + idx, sum);
  }
}

}  // namespace

void PoolingForwardGpu(DType t, const PoolGeometryGpu& g, int type, bool count_include_pad,
                       int p_value, const void* x, void* y, int req, void* stream) {
  const int64_t n = g.planes * g.out[0] * g.out[1] * g.out[2];
  if (n == 0 || req == kReqNull) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "Pooling", {
    ForwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        g, type, count_include_pad, p_value, static_cast<const T*>(x), static_cast<T*>(y), req);
  });
  CheckLaunch("Pooling");
}

void PoolingBackwardGpu(DType t, const PoolGeometryGpu& g, int type, bool count_include_pad,
                        int p_value, const void* dy, const void* x, void* dx, int req,
                        void* stream) {
  const int64_t n = g.planes * g.in[0] * g.in[1] * g.in[2];
  if (n == 0 || req == kReqNull) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "_backward_Pooling", {
    BackwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        g, type, count_include_pad, p_value, static_cast<const T*>(dy), static_cast<const T*>(x),
        static_cast<T*>(dx), req);
  });
  CheckLaunch("_backward_Pooling");
}

}  // namespace loom::gpu
