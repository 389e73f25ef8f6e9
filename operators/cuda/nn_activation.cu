// Activation's element-wise kernels (relu, sigmoid, tanh, softrelu, softsign) and gradients,
// with the CPU kernel's formulas (softrelu: x above 20).
#include "operators/cuda/launch.cuh"
#include "operators/cuda/nn_kernels.h"

namespace loom::gpu {
namespace {

template <typename A>
__device__ __forceinline__ A Activate(int act, A x) {
  switch (act) {
    case 0:
      return x < A(0) ? A(0) : x;
    case 1:
      return A(1) / (A(1) + exp(-x));
    case 2:
      return tanh(x);
    case 3:
      return x > A(20) ? x : log1p(exp(x));
    default:
      return x / (A(1) + fabs(x));
  }
}

// act'(.) from y (softsign: from x).
template <typename A>
__device__ __forceinline__ A Derivative(int act, A v) {
  switch (act) {
    case 0:
      return v > A(0) ? A(1) : A(0);
    case 1:
      return v * (A(1) - v);
    case 2:
      return A(1) - v * v;
    case 3:
      return A(1) - exp(-v);
    default: {
      const A d = A(1) + fabs(v);
      return A(1) / (d * d);
    }
  }
}

template <typename T>
__global__ void ForwardKernel(int act, const T* x, T* y, int64_t n, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { Store(req, y + i, Activate(act, ToAcc(x[i]))); }
}

template <typename T>
__global__ void BackwardKernel(int act, const T* dy, const T* in, T* dx, int64_t n, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { Store(req, dx + i, ToAcc(dy[i]) * Derivative(act, ToAcc(in[i]))); }
}

}  // namespace

void ActivationForwardGpu(DType t, int act, const void* x, void* y, int64_t n, int req,
                          void* stream) {
  if (n == 0 || req == kReqNull) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "Activation", {
    ForwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(act, static_cast<const T*>(x),
                                                                 static_cast<T*>(y), n, req);
  });
  CheckLaunch("Activation");
}

void ActivationBackwardGpu(DType t, int act, const void* dy, const void* in, void* dx, int64_t n,
                           int req, void* stream) {
  if (n == 0 || req == kReqNull) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "_backward_Activation", {
    BackwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        act, static_cast<const T*>(dy), static_cast<const T*>(in), static_cast<T*>(dx), n, req);
  });
  CheckLaunch("_backward_Activation");
}

}  // namespace loom::gpu
