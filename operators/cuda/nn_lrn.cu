// LRN across channels of (outer, channels, inner) data, one thread per element, with the CPU
// kernel's formulas: norm = knorm + alpha / nsize * (sum of squares over the window),
// out = x norm^-beta; dx = dy norm^-beta - 2 beta alpha / nsize x sum_window(dy x norm^(-beta-1)).
#include <cmath>

#include "operators/cuda/launch.cuh"
#include "operators/cuda/nn_kernels.h"

namespace loom::gpu {
namespace {

template <typename T>
__global__ void ForwardKernel(const T* x, T* y, T* norm, int64_t outer, int64_t channels,
                              int64_t inner, Acc<T> salpha, Acc<T> beta, Acc<T> knorm, int64_t half,
                              int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(idx, outer * channels * inner) {
    const int64_t c = (idx / inner) % channels;
    const int64_t base = idx - c * inner;  // channel 0 of this position
    A sq = 0;
    const int64_t k1 = min(channels - 1, c + half);
    for (int64_t k = max(int64_t{0}, c - half); k <= k1; ++k) {
      const A v = ToAcc(x[base + k * inner]);
      sq += v * v;
    }
    const A n = knorm + salpha * sq;
    const A out = ToAcc(x[idx]) * pow(n, -beta);
    norm[idx] = FromAcc<T>(n);
    Store(req, y + idx, out);
  }
}

template <typename T>
__global__ void BackwardKernel(const T* dy, const T* x, const T* norm, T* dx, int64_t outer,
                               int64_t channels, int64_t inner, Acc<T> beta, Acc<T> coeff,
                               int64_t half, int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(idx, outer * channels * inner) {
    const int64_t c = (idx / inner) % channels;
    const int64_t base = idx - c * inner;
    A acc = 0;
    const int64_t k1 = min(channels - 1, c + half);
    for (int64_t k = max(int64_t{0}, c - half); k <= k1; ++k) {
      const int64_t at = base + k * inner;
      acc += ToAcc(dy[at]) * ToAcc(x[at]) * pow(ToAcc(norm[at]), -beta - A(1));
    }
    const A own = ToAcc(dy[idx]) * pow(ToAcc(norm[idx]), -beta);
    Store(req, dx + idx, own + coeff * ToAcc(x[idx]) * acc);
  }
}

}  // namespace

void LRNForwardGpu(DType t, const void* x, void* y, void* norm, int64_t outer, int64_t channels,
                   int64_t inner, double alpha, double beta, double knorm, int64_t nsize, int req,
                   void* stream) {
  const int64_t n = outer * channels * inner;
  if (n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "LRN", {
    using A = Acc<T>;
    ForwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(x), static_cast<T*>(y), static_cast<T*>(norm), outer, channels, inner,
        static_cast<A>(alpha / static_cast<double>(nsize)), static_cast<A>(beta),
        static_cast<A>(knorm), nsize / 2, req);
  });
  CheckLaunch("LRN");
}

void LRNBackwardGpu(DType t, const void* dy, const void* x, const void* norm, void* dx,
                    int64_t outer, int64_t channels, int64_t inner, double alpha, double beta,
                    int64_t nsize, int req, void* stream) {
  const int64_t n = outer * channels * inner;
  if (n == 0 || req == kReqNull) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "_backward_LRN", {
    using A = Acc<T>;
    BackwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(norm),
        static_cast<T*>(dx), outer, channels, inner, static_cast<A>(beta),
        static_cast<A>(-2.0 * beta * alpha / static_cast<double>(nsize)), nsize / 2, req);
  });
  CheckLaunch("_backward_LRN");
}

}  // namespace loom::gpu
