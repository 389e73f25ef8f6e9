// What the CUDA sources (operators/cuda/*.cu) share. They compile as C++17 (CMake 3.25 knows no
// C++20 flag for nvcc), so they include no C++20 Loom header: only loom/core/dtype.h and
// loom/scheduler/error.h. Their launchers take raw device pointers, sizes, a DType, an `int req`
// (loom::OpReq's value) and a `void* stream`; the *_gpu.cc files adapt kernels' views to them.
//
//   template <typename T>
//   __global__ void ScaleKernel(const T* x, T* y, int64_t n, float a, int req) {
//     LOOM_CUDA_KERNEL_LOOP(i, n) { Store(req, y + i, a * ToAcc(x[i])); }
//   }
//   void Scale(DType t, const void* x, void* y, int64_t n, float a, int req, void* stream) {
//     LOOM_GPU_FLOAT_SWITCH(t, T, "scale", {
//       ScaleKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
//           static_cast<const T*>(x), static_cast<T*>(y), n, a, req);
//     });
//     CheckLaunch("scale");
//   }
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "loom/core/dtype.h"
#include "loom/scheduler/error.h"

namespace loom::gpu {

using ::loom::detail::StrCat;

/// loom::OpReq's values, for device code.
constexpr int kReqNull = 0;
constexpr int kReqWriteTo = 1;
constexpr int kReqWriteInplace = 2;
constexpr int kReqAddTo = 3;

constexpr int kThreads = 256;

/// Blocks for a grid-stride loop over n elements (capped: each thread then takes several).
inline int Blocks(int64_t n) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads,
                                                                 65535)));
}

inline cudaStream_t Stream(void* stream) { return static_cast<cudaStream_t>(stream); }

/// Throws loom::Error naming `what` when the last kernel launch failed.
inline void CheckLaunch(const char* what) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    throw Error(StrCat("CUDA kernel ", what, " failed to launch: ", cudaGetErrorString(status)));
  }
}

/// The type arithmetic runs in: float for half storage, T otherwise.
template <typename T> struct AccType { using type = T; };
template <> struct AccType<__half> { using type = float; };
template <typename T> using Acc = typename AccType<T>::type;

/// The type kernels over every dtype compute in: Acc<T>, and int for bool (which adds as 0/1).
template <typename T> struct ArithOfT { using type = Acc<T>; };
template <> struct ArithOfT<bool> { using type = int; };
template <typename T> using ArithOf = typename ArithOfT<T>::type;

template <typename T> __device__ __forceinline__ Acc<T> ToAcc(T v) { return v; }
template <> __device__ __forceinline__ float ToAcc<__half>(__half v) { return __half2float(v); }
template <typename T, typename A> __device__ __forceinline__ T FromAcc(A v) {
  return static_cast<T>(v);
}
template <> __device__ __forceinline__ __half FromAcc<__half, float>(float v) {
  return __float2half(v);
}
template <> __device__ __forceinline__ __half FromAcc<__half, double>(double v) {
  return __float2half(static_cast<float>(v));
}

/// Writes or accumulates v into *dst as req says (kReqNull leaves it alone).
template <typename T, typename A>
__device__ __forceinline__ void Store(int req, T* dst, A v) {
  if (req == kReqAddTo) {
    *dst = FromAcc<T>(ToAcc(*dst) + static_cast<Acc<T>>(v));
  } else if (req != kReqNull) {
    *dst = FromAcc<T>(static_cast<Acc<T>>(v));
  }
}

}  // namespace loom::gpu

/// for (i = this thread's first index; i < n; i += all threads), i of type int64_t.
#define LOOM_CUDA_KERNEL_LOOP(i, n)                                                         \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

/// Runs `...` with T bound to float, double or __half for dtype; NotSupportedError otherwise.
#define LOOM_GPU_FLOAT_SWITCH(dtype, T, what, ...)                                         \
  switch (dtype) {                                                                         \
    case ::loom::DType::kFloat32: { using T = float; __VA_ARGS__ } break;                  \
    case ::loom::DType::kFloat64: { using T = double; __VA_ARGS__ } break;                 \
    case ::loom::DType::kFloat16: { using T = __half; __VA_ARGS__ } break;                 \
    default:                                                                               \
      throw ::loom::NotSupportedError(::loom::detail::StrCat(what, " on GPU supports float32, ",    \
                                                     "float64 and float16 but got ",       \
                                                     ::loom::ToString(dtype)));            \
  }

/// LOOM_GPU_FLOAT_SWITCH plus the integer dtypes (uint8, int8, int32, int64) and bool.
#define LOOM_GPU_ANY_SWITCH(dtype, T, what, ...)                                           \
  switch (dtype) {                                                                         \
    case ::loom::DType::kFloat32: { using T = float; __VA_ARGS__ } break;                  \
    case ::loom::DType::kFloat64: { using T = double; __VA_ARGS__ } break;                 \
    case ::loom::DType::kFloat16: { using T = __half; __VA_ARGS__ } break;                 \
    case ::loom::DType::kUInt8: { using T = uint8_t; __VA_ARGS__ } break;                  \
    case ::loom::DType::kInt8: { using T = int8_t; __VA_ARGS__ } break;                    \
    case ::loom::DType::kInt32: { using T = int32_t; __VA_ARGS__ } break;                  \
    case ::loom::DType::kInt64: { using T = int64_t; __VA_ARGS__ } break;                  \
    case ::loom::DType::kBool: { using T = bool; __VA_ARGS__ } break;                      \
    default:                                                                               \
      throw ::loom::NotSupportedError(::loom::detail::StrCat(what, " on GPU: unsupported dtype ",   \
                                                     ::loom::ToString(dtype)));            \
  }
