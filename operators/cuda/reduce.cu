// Reduction GPU kernels. A block of 256 threads covers bx outputs times by lanes along the reduced
// elements: when the innermost axis is reduced the lanes of a warp walk consecutive reduced
// elements (coalesced rows), otherwise consecutive outputs (coalesced columns). Partial results
// meet in shared memory; when there are too few outputs to fill the GPU, the reduced elements are
// also split over gridDim.y blocks whose partials a second kernel combines (no atomics: the
// result does not depend on scheduling).
#include <algorithm>

#include "operators/cuda/broadcast_index.cuh"
#include "operators/cuda/elemwise_device.cuh"
#include "operators/cuda/reduce_kernels.h"

namespace loom::gpu {
namespace {

constexpr int kTargetBlocks = 1024;  // enough blocks to fill an H100/H200 several times over
constexpr int kMaxSplits = 1024;
constexpr int64_t kMinPerThread = 16;
// 32-bit indices below this many elements (margin for the last grid-stride step).
constexpr int64_t kNarrowLimit = int64_t{1} << 30;

template <typename A>
__device__ __forceinline__ A Infinity();
template <>
__device__ __forceinline__ float Infinity<float>() {
  return __int_as_float(0x7f800000);
}
template <>
__device__ __forceinline__ double Infinity<double>() {
  return __longlong_as_double(0x7ff0000000000000LL);
}

template <ReduceKind kOp, typename A>
__device__ __forceinline__ A Identity() {
  if constexpr (kOp == ReduceKind::kMax) return -Infinity<A>();
  if constexpr (kOp == ReduceKind::kMin) return Infinity<A>();
  if constexpr (kOp == ReduceKind::kProd || kOp == ReduceKind::kNanProd) return A(1);
  return A(0);
}

// The element's contribution.
template <ReduceKind kOp, typename A>
__device__ __forceinline__ A Load(A v) {
  if constexpr (kOp == ReduceKind::kNanSum) return DIsNan(v) ? A(0) : v;
  if constexpr (kOp == ReduceKind::kNanProd) return DIsNan(v) ? A(1) : v;
  if constexpr (kOp == ReduceKind::kNegSum) return -v;
  return v;
}

template <ReduceKind kOp, typename A>
__device__ __forceinline__ A Combine(A acc, A v) {
  if constexpr (kOp == ReduceKind::kMax) return v > acc || DIsNan(v) ? v : acc;
  if constexpr (kOp == ReduceKind::kMin) return v < acc || DIsNan(v) ? v : acc;
  if constexpr (kOp == ReduceKind::kProd || kOp == ReduceKind::kNanProd) return acc * v;
  return acc + v;
}

template <ReduceKind kOp, typename A>
__device__ __forceinline__ A Finish(A acc, int64_t n_red) {
  if constexpr (kOp == ReduceKind::kMean) return acc / static_cast<A>(n_red);
  return acc;
}

template <typename I>
__device__ __forceinline__ I KeptOffset(const ReducePlan& p, I j) {
  I off = 0;
  for (int d = p.nk - 1; d >= 0; --d) {
    const I size = static_cast<I>(p.kdims[d]);
    off += (j % size) * static_cast<I>(p.kstrides[d]);
    j /= size;
  }
  return off;
}

template <typename I>
__device__ __forceinline__ I ReducedOffset(const ReducePlan& p, I r) {
  if (p.nr == 1) return r * static_cast<I>(p.rstrides[0]);
  I off = 0;
  for (int d = p.nr - 1; d >= 0; --d) {
    const I size = static_cast<I>(p.rdims[d]);
    off += (r % size) * static_cast<I>(p.rstrides[d]);
    r /= size;
  }
  return off;
}

// Block of bx * by threads; lane (tx, ty): output blockIdx.x * bx + tx, reduced elements
// ty + by * (blockIdx.y + gridDim.y * k). r_fast: ty varies fastest within a warp.
template <ReduceKind kOp, typename T, typename I>
__global__ void ReduceKernel(const T* __restrict__ x, ReducePlan p, int bx, int by, bool r_fast,
                             T* y, int req, Acc<T>* partial) {
  using A = Acc<T>;
  extern __shared__ __align__(16) unsigned char reduce_smem[];
  A* shared = reinterpret_cast<A*>(reduce_smem);
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = r_fast ? tid / by : tid % bx;
  const int ty = r_fast ? tid % by : tid / bx;
  const I j = static_cast<I>(blockIdx.x) * bx + tx;
  A acc = Identity<kOp, A>();
  if (j < static_cast<I>(p.n_out)) {
    const I base = KeptOffset(p, j);
    const I step = static_cast<I>(by) * gridDim.y;
    for (I r = static_cast<I>(blockIdx.y) * by + ty; r < static_cast<I>(p.n_red); r += step) {
      acc = Combine<kOp>(acc, Load<kOp>(ToAcc(x[base + ReducedOffset(p, r)])));
    }
  }
  shared[ty * bx + tx] = acc;
  __syncthreads();
  for (int stride = by / 2; stride > 0; stride /= 2) {
    if (ty < stride) {
      shared[ty * bx + tx] = Combine<kOp>(shared[ty * bx + tx], shared[(ty + stride) * bx + tx]);
    }
    __syncthreads();
  }
  if (ty == 0 && j < static_cast<I>(p.n_out)) {
    if (partial == nullptr) {
      Store(req, y + j, Finish<kOp>(shared[tx], p.n_red));
    } else {
      partial[static_cast<int64_t>(blockIdx.y) * p.n_out + j] = shared[tx];
    }
  }
}

template <ReduceKind kOp, typename T>
__global__ void CombinePartialsKernel(const Acc<T>* partial, int splits, int64_t n_out,
                                      int64_t n_red, T* y, int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(j, n_out) {
    A acc = Identity<kOp, A>();
    for (int s = 0; s < splits; ++s) acc = Combine<kOp>(acc, partial[s * n_out + j]);
    Store(req, y + j, Finish<kOp>(acc, n_red));
  }
}

// The launch shape of a plan.
struct Geometry {
  int bx = 1, by = 1;
  bool r_fast = false;
  int64_t gx = 1;
  int splits = 1;
};

int64_t NextPow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p *= 2;
  return p;
}

Geometry Plan(const ReducePlan& p) {
  Geometry g;
  if (p.reduce_inner) {
    g.r_fast = true;
    g.by = static_cast<int>(std::min<int64_t>(kThreads, NextPow2(std::max<int64_t>(p.n_red, 1))));
    g.bx = kThreads / g.by;
  } else {
    g.bx = static_cast<int>(std::min<int64_t>(32, NextPow2(std::max<int64_t>(p.n_out, 1))));
    g.by = kThreads / g.bx;
  }
  g.gx = (p.n_out + g.bx - 1) / g.bx;
  if (g.gx < kTargetBlocks) {
    const int64_t want = (kTargetBlocks + g.gx - 1) / g.gx;
    const int64_t useful = std::max<int64_t>(1, p.n_red / (int64_t{g.by} * kMinPerThread));
    g.splits = static_cast<int>(std::min<int64_t>({want, useful, kMaxSplits}));
  }
  return g;
}

}  // namespace

size_t ReduceScratchBytes(const ReducePlan& p, DType dtype) {
  const Geometry g = Plan(p);
  if (g.splits <= 1) return 0;
  const size_t acc_bytes = dtype == DType::kFloat64 ? sizeof(double) : sizeof(float);
  return static_cast<size_t>(g.splits) * static_cast<size_t>(p.n_out) * acc_bytes;
}

void Reduce(ReduceKind op, DType dtype, const void* x, const ReducePlan& p, void* y, int req,
            void* scratch, void* stream, const char* what) {
  if (req == kReqNull || p.n_out == 0) return;
  const Geometry g = Plan(p);
  if (g.gx > 0x7fffffff) throw Error(StrCat(what, ": too many outputs for one launch"));
  const dim3 grid(static_cast<unsigned>(g.gx), static_cast<unsigned>(g.splits));
  const bool narrow = p.n_out * std::max<int64_t>(p.n_red, 1) < kNarrowLimit;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    using A = Acc<T>;
    A* partial = g.splits > 1 ? static_cast<A*>(scratch) : nullptr;
    const size_t smem = sizeof(A) * kThreads;
    DispatchKind<ReduceKind, kNumReduceKinds>(op, what, [&](auto k) {
      constexpr ReduceKind kOp = decltype(k)::value;
      if (narrow) {
        ReduceKernel<kOp, T, int32_t><<<grid, kThreads, smem, Stream(stream)>>>(
            static_cast<const T*>(x), p, g.bx, g.by, g.r_fast, static_cast<T*>(y), req, partial);
      } else {
        ReduceKernel<kOp, T, int64_t><<<grid, kThreads, smem, Stream(stream)>>>(
            static_cast<const T*>(x), p, g.bx, g.by, g.r_fast, static_cast<T*>(y), req, partial);
      }
      CheckLaunch(what);
      if (partial != nullptr) {
        CombinePartialsKernel<kOp, T><<<Blocks(p.n_out), kThreads, 0, Stream(stream)>>>(
            partial, g.splits, p.n_out, p.n_red, static_cast<T*>(y), req);
        CheckLaunch(what);
      }
    });
  });
}

namespace {

template <ReduceKind kOp, typename T, typename I>
__global__ void ReduceBackwardKernel(const T* dy, const T* x, const T* y, IndexMap m, Acc<T> scale,
                                     T* dx, I n, int req) {
  using A = Acc<T>;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    I off[1];
    BroadcastOffsets<1>(m, i, off);
    const A g = ToAcc(dy[off[0]]);
    A v;
    if constexpr (kOp == ReduceKind::kMax || kOp == ReduceKind::kMin) {
      v = ToAcc(x[i]) == ToAcc(y[off[0]]) ? g : A(0);
    } else if constexpr (kOp == ReduceKind::kProd) {
      v = g * ToAcc(y[off[0]]) / ToAcc(x[i]);
    } else if constexpr (kOp == ReduceKind::kNanProd) {
      const A xv = ToAcc(x[i]);
      v = DIsNan(xv) ? A(0) : g * ToAcc(y[off[0]]) / xv;
    } else if constexpr (kOp == ReduceKind::kNanSum) {
      v = DIsNan(ToAcc(x[i])) ? A(0) : g;
    } else if constexpr (kOp == ReduceKind::kNegSum) {
      v = -g;
    } else {
      v = g * scale;
    }
    Store(req, dx + i, v);
  }
}

template <typename A>
struct ArgBest {
  A v;
  int64_t k;  // -1: none yet
};

// a is better than b: a valid (non-NaN) value that beats b's, or ties it at a smaller index.
template <bool kMax, typename A>
__device__ __forceinline__ bool Better(const ArgBest<A>& a, const ArgBest<A>& b) {
  if (a.k < 0) return false;
  if (b.k < 0) return true;
  if (kMax ? a.v > b.v : a.v < b.v) return true;
  return a.v == b.v && a.k < b.k;
}

// One block per row (inner == 1): lanes scan strided elements, then a shared-memory tournament.
template <bool kMax, typename T>
__global__ void ArgReduceRowKernel(const T* x, int64_t outer, int64_t n, T* out, int req) {
  using A = Acc<T>;
  __shared__ A best_v[kThreads];
  __shared__ int64_t best_k[kThreads];
  for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
    const T* base = x + row * n;
    ArgBest<A> best{A(0), -1};
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const ArgBest<A> cand{ToAcc(base[k]), DIsNan(ToAcc(base[k])) ? -1 : k};
      if (Better<kMax>(cand, best)) best = cand;
    }
    best_v[threadIdx.x] = best.v;
    best_k[threadIdx.x] = best.k;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
      if (static_cast<int>(threadIdx.x) < stride) {
        const ArgBest<A> other{best_v[threadIdx.x + stride], best_k[threadIdx.x + stride]};
        const ArgBest<A> mine{best_v[threadIdx.x], best_k[threadIdx.x]};
        if (Better<kMax>(other, mine)) {
          best_v[threadIdx.x] = other.v;
          best_k[threadIdx.x] = other.k;
        }
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      const int64_t k = DIsNan(ToAcc(base[0])) || best_k[0] < 0 ? 0 : best_k[0];
      Store(req, out + row, static_cast<A>(k));
    }
    __syncthreads();
  }
}

// One thread per output (inner > 1): the CPU's sequential scan, coalesced across i.
template <bool kMax, typename T>
__global__ void ArgReduceColumnKernel(const T* x, int64_t outer, int64_t n, int64_t inner, T* out,
                                      int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(at, outer * inner) {
    const int64_t o = at / inner, i = at % inner;
    const T* base = x + o * n * inner + i;
    int64_t best = 0;
    A best_v = ToAcc(base[0]);
    for (int64_t k = 1; k < n; ++k) {
      const A v = ToAcc(base[k * inner]);
      if (kMax ? v > best_v : v < best_v) {
        best = k;
        best_v = v;
      }
    }
    Store(req, out + at, static_cast<A>(best));
  }
}

}  // namespace

void ReduceBackward(ReduceKind op, DType dtype, const void* dy, const void* x, const void* y,
                    const IndexMap& m, double scale, void* dx, int64_t n, int req, void* stream,
                    const char* what) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<ReduceKind, kNumReduceKinds>(op, what, [&](auto k) {
      constexpr ReduceKind kOp = decltype(k)::value;
      const auto* pdy = static_cast<const T*>(dy);
      const auto* px = static_cast<const T*>(x);
      const auto* py = static_cast<const T*>(y);
      const auto a_scale = static_cast<Acc<T>>(scale);
      if (n < kNarrowLimit) {
        ReduceBackwardKernel<kOp, T, int32_t><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
            pdy, px, py, m, a_scale, static_cast<T*>(dx), static_cast<int32_t>(n), req);
      } else {
        ReduceBackwardKernel<kOp, T, int64_t><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
            pdy, px, py, m, a_scale, static_cast<T*>(dx), n, req);
      }
    });
  });
  CheckLaunch(what);
}

void ArgReduce(bool is_max, DType dtype, const void* x, int64_t outer, int64_t n, int64_t inner,
               void* out, int req, void* stream) {
  const char* what = is_max ? "argmax" : "argmin";
  if (req == kReqNull || outer * inner == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    const auto* px = static_cast<const T*>(x);
    auto* po = static_cast<T*>(out);
    const int rows = static_cast<int>(std::min<int64_t>(outer, 65535));
    if (inner == 1 && is_max) {
      ArgReduceRowKernel<true, T><<<rows, kThreads, 0, Stream(stream)>>>(px, outer, n, po, req);
    } else if (inner == 1) {
      ArgReduceRowKernel<false, T><<<rows, kThreads, 0, Stream(stream)>>>(px, outer, n, po, req);
    } else if (is_max) {
      ArgReduceColumnKernel<true, T>
          <<<Blocks(outer * inner), kThreads, 0, Stream(stream)>>>(px, outer, n, inner, po, req);
    } else {
      ArgReduceColumnKernel<false, T>
          <<<Blocks(outer * inner), kThreads, 0, Stream(stream)>>>(px, outer, n, inner, po, req);
    }
  });
  CheckLaunch(what);
}

}  // namespace loom::gpu
