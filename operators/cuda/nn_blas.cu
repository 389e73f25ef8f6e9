// FullyConnected's bias kernels: broadcasting the bias over rows, and the ones vector whose
// product with the output gradient is the bias gradient.
#include "operators/cuda/launch.cuh"
#include "operators/cuda/nn_kernels.h"

namespace loom::gpu {
namespace {

template <typename T>
__global__ void FillRowsKernel(const T* bias, T* out, int64_t rows, int64_t hidden) {
  LOOM_CUDA_KERNEL_LOOP(i, rows * hidden) { out[i] = bias[i % hidden]; }
}

template <typename T>
__global__ void AddBiasKernel(const T* bias, T* out, int64_t rows, int64_t hidden) {
  LOOM_CUDA_KERNEL_LOOP(i, rows * hidden) {
    out[i] = FromAcc<T>(ToAcc(out[i]) + ToAcc(bias[i % hidden]));
  }
}

template <typename T>
__global__ void FillOnesKernel(T* out, int64_t n) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { out[i] = FromAcc<T>(Acc<T>(1)); }
}

}  // namespace

void FillRowsWithBias(DType t, const void* bias, void* out, int64_t rows, int64_t hidden,
                      void* stream) {
  if (rows * hidden == 0) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "FullyConnected", {
    FillRowsKernel<T><<<Blocks(rows * hidden), kThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(bias), static_cast<T*>(out), rows, hidden);
  });
  CheckLaunch("FullyConnected bias fill");
}

void AddBiasRows(DType t, const void* bias, void* out, int64_t rows, int64_t hidden, void* stream) {
  if (rows * hidden == 0) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "FullyConnected", {
    AddBiasKernel<T><<<Blocks(rows * hidden), kThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(bias), static_cast<T*>(out), rows, hidden);
  });
  CheckLaunch("FullyConnected bias add");
}

void FillOnes(DType t, void* out, int64_t n, void* stream) {
  if (n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "FullyConnected", {
    FillOnesKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(static_cast<T*>(out), n);
  });
  CheckLaunch("FullyConnected ones");
}

}  // namespace loom::gpu
