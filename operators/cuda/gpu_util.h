// What the GPU kernels' host side (operators/cuda/*_gpu.cc, C++20) shares: error checks that
// name the failing call, the operation's CUDA stream, per-thread cuBLAS and cuDNN handles bound
// to that stream, and cuDNN's names for Loom's dtypes. The device code itself lives in .cu files
// (C++17, see launch.cuh) behind plain launcher functions.
//
//   void ReluForwardGpu(const NodeAttrs&, const OpContext& ctx, std::span<const TensorView> in,
//                       std::span<const OpReq> req, std::span<const TensorView> out) {
//     cudnnHandle_t h = gpu::Cudnn(ctx);             // bound to ctx.run.stream
//     LOOM_CUDNN_CHECK(cudnnActivationForward(h, ...));
//   }
//   LOOM_REGISTER_KERNEL("relu", kGPU, FCompute(ReluForwardGpu));
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <limits>
#include <span>

#include "loom/core/kernel.h"
#include "loom/scheduler/error.h"

namespace loom::gpu {

using ::loom::detail::StrCat;

/// The FCompute signature's input/output and request spans, as the kernels name them.
using Views = std::span<const TensorView>;
using Reqs = std::span<const OpReq>;

/// req as the launchers (C++17 headers, `int req`) take it.
inline int Req(OpReq req) { return static_cast<int>(req); }

[[noreturn]] void ThrowCudaError(const char* call, cudaError_t status, const char* file, int line);
[[noreturn]] void ThrowCublasError(const char* call, cublasStatus_t status, const char* file,
                                   int line);
[[noreturn]] void ThrowCudnnError(const char* call, cudnnStatus_t status, const char* file,
                                  int line);

/// The operation's stream (ctx.run.stream).
inline cudaStream_t Stream(const OpContext& ctx) {
  return static_cast<cudaStream_t>(ctx.run.stream);
}
/// This thread's cuBLAS handle for ctx's GPU, set to ctx's stream.
cublasHandle_t Cublas(const OpContext& ctx);
/// This thread's cuDNN handle for ctx's GPU, set to ctx's stream.
cudnnHandle_t Cudnn(const OpContext& ctx);

/// Scratch device memory of at least `bytes` for work enqueued on ctx's stream during this call
/// (cuDNN workspaces and the like). Owned by the calling thread, whose stream is fixed, and grown
/// stream-ordered (cudaFreeAsync/cudaMallocAsync), so later calls may reuse it at once.
/// @throws OutOfMemoryError naming the device and the bytes.
void* Workspace(const OpContext& ctx, size_t bytes);

/// v as the 32-bit int that cuBLAS's and cuDNN's sizes are; throws NotSupportedError naming `op`
/// and `library` ("cuBLAS", "cuDNN") when it does not fit.
inline int Int32(int64_t v, const char* op, const char* library) {
  LOOM_CHECK_TYPED(NotSupportedError, v <= std::numeric_limits<int32_t>::max(), op,
                   " on GPU: a size of ", v, " exceeds ", library, "'s 32-bit sizes");
  return static_cast<int>(v);
}

/// cuDNN's data type for a float dtype; throws NotSupportedError naming `op` otherwise.
cudnnDataType_t CudnnType(DType dtype, const char* op);
/// cuBLAS's data type for a float dtype; throws NotSupportedError naming `op` otherwise.
cudaDataType_t CublasType(DType dtype, const char* op);

/// Scaling factors for cuDNN's `y = alpha * op(x) + beta * y` that apply `req` (kAddTo: beta 1).
/// cuDNN reads them as float for half and float data, as double for double data.
struct CudnnScale {
  CudnnScale(DType dtype, OpReq req);
  const void* alpha() const { return is_double_ ? static_cast<const void*>(&alpha_d_) : &alpha_f_; }
  const void* beta() const { return is_double_ ? static_cast<const void*>(&beta_d_) : &beta_f_; }
  /// The beta that accumulates (1) whatever the request: for a second write to the same output.
  const void* one() const { return is_double_ ? static_cast<const void*>(&one_d_) : &one_f_; }

 private:
  bool is_double_;
  float alpha_f_ = 1, beta_f_ = 0, one_f_ = 1;
  double alpha_d_ = 1, beta_d_ = 0, one_d_ = 1;
};

}  // namespace loom::gpu

#define LOOM_CUDA_CHECK(call)                                                      \
  do {                                                                             \
    const cudaError_t loom_cuda_status_ = (call);                                  \
    if (loom_cuda_status_ != cudaSuccess)                                          \
      ::loom::gpu::ThrowCudaError(#call, loom_cuda_status_, __FILE__, __LINE__);   \
  } while (0)
#define LOOM_CUBLAS_CHECK(call)                                                    \
  do {                                                                             \
    const cublasStatus_t loom_cublas_status_ = (call);                             \
    if (loom_cublas_status_ != CUBLAS_STATUS_SUCCESS)                              \
      ::loom::gpu::ThrowCublasError(#call, loom_cublas_status_, __FILE__, __LINE__); \
  } while (0)
#define LOOM_CUDNN_CHECK(call)                                                     \
  do {                                                                             \
    const cudnnStatus_t loom_cudnn_status_ = (call);                               \
    if (loom_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                \
      ::loom::gpu::ThrowCudnnError(#call, loom_cudnn_status_, __FILE__, __LINE__); \
  } while (0)
