// Dropout's mask and products. The draws come from a counter-based generator (Philox4x32-10 of
// curand, seeded per call from the executor's generator on the host): element i's draw depends
// only on (seed, its draw index), so the kernel keeps no state between calls.
#include <curand_kernel.h>

#include "operators/cuda/launch.cuh"
#include "operators/cuda/nn_kernels.h"

namespace loom::gpu {
namespace {

// The draw index of element i: its coordinates dotted with the draw strides (0 along the axes
// that share a draw).
__device__ __forceinline__ int64_t DrawIndex(const DropoutGeometryGpu& g, int64_t i) {
  int64_t index = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t coord = i % g.shape[d];
    i /= g.shape[d];
    index += coord * g.draw_stride[d];
  }
  return index;
}

__device__ __forceinline__ uint32_t Draw(uint64_t seed, int64_t index) {
  curandStatePhilox4_32_10_t state;
  curand_init(seed, static_cast<unsigned long long>(index), 0, &state);
  return curand(&state);
}

template <typename T>
__global__ void ForwardKernel(DropoutGeometryGpu g, int64_t n, const T* x, T* y, T* mask,
                              uint64_t seed, uint64_t threshold, Acc<T> keep_value, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const uint32_t bits = Draw(seed, DrawIndex(g, i));
    const Acc<T> m = static_cast<uint64_t>(bits) >= threshold ? keep_value : Acc<T>(0);
    mask[i] = FromAcc<T>(m);
    Store(req, y + i, ToAcc(x[i]) * ToAcc(FromAcc<T>(m)));
  }
}

template <typename T>
__global__ void MultiplyKernel(const T* a, const T* b, T* out, int64_t n, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { Store(req, out + i, b ? ToAcc(a[i]) * ToAcc(b[i]) : ToAcc(a[i])); }
}

}  // namespace

void DropoutForwardGpu(DType t, const DropoutGeometryGpu& g, const void* x, void* y, void* mask,
                       uint64_t seed, uint64_t threshold, double keep_value, int req,
                       void* stream) {
  int64_t n = 1;
  for (int d = 0; d < g.ndim; ++d) n *= g.shape[d];
  if (n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "Dropout", {
    ForwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        g, n, static_cast<const T*>(x), static_cast<T*>(y), static_cast<T*>(mask), seed, threshold,
        static_cast<Acc<T>>(keep_value), req);
  });
  CheckLaunch("Dropout");
}

void MultiplyGpu(DType t, const void* a, const void* b, void* out, int64_t n, int req,
                 void* stream) {
  if (n == 0 || req == kReqNull) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "Dropout", {
    MultiplyKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out), n, req);
  });
  CheckLaunch("Dropout");
}

}  // namespace loom::gpu
