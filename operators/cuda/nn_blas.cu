// FullyConnected's bias kernels: broadcasting the bias over rows and summing rows for its
// gradient.
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

// Block (32 x 8): 32 adjacent columns, 8 row lanes that stride over the rows; the lanes' sums
// meet in shared memory. Columns read coalesced.
constexpr int kColumns = 32, kRowLanes = 8;

template <typename T>
__global__ void SumRowsKernel(const T* dy, T* out, int64_t rows, int64_t hidden, int req) {
  using A = Acc<T>;
  __shared__ A partial[kRowLanes][kColumns];
  const int64_t j = blockIdx.x * static_cast<int64_t>(kColumns) + threadIdx.x;
  A sum = 0;
  if (j < hidden) {
    for (int64_t r = threadIdx.y; r < rows; r += kRowLanes) sum += ToAcc(dy[r * hidden + j]);
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && j < hidden) {
    A total = 0;
    for (int l = 0; l < kRowLanes; ++l) total += partial[l][threadIdx.x];
    Store(req, out + j, total);
  }
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

void SumRows(DType t, const void* dy, void* bias_grad, int64_t rows, int64_t hidden, int req,
             void* stream) {
  if (hidden == 0 || req == kReqNull) return;
  const unsigned blocks = static_cast<unsigned>((hidden + kColumns - 1) / kColumns);
  LOOM_GPU_FLOAT_SWITCH(t, T, "FullyConnected", {
    SumRowsKernel<T><<<blocks, dim3(kColumns, kRowLanes), 0, Stream(stream)>>>(
        static_cast<const T*>(dy), static_cast<T*>(bias_grad), rows, hidden, req);
  });
  CheckLaunch("FullyConnected bias gradient");
}

}  // namespace loom::gpu
