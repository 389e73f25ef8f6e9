// Cast GPU kernel: one instantiation per (source, destination) dtype pair.
#include <type_traits>

#include "operators/cuda/cast_kernels.h"
#include "operators/cuda/launch.cuh"

namespace loom::gpu {
namespace {

template <typename T>
constexpr bool kIsInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// value converted to T: floats truncate toward zero, NaN gives 0, and the result wraps modulo
// T's range (clamped into int64's range first), never undefined behaviour.
template <typename T>
__device__ __forceinline__ T FromDouble(double value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value != 0;
  } else if constexpr (std::is_same_v<T, __half>) {
    return __float2half(static_cast<float>(value));
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(value);
  } else {
    if (isnan(value)) return 0;
    constexpr double kLimit = 9223372036854775808.0;  // 2^63
    const int64_t wide = value >= kLimit   ? INT64_MAX
                         : value < -kLimit ? INT64_MIN
                                           : static_cast<int64_t>(value);
    return static_cast<T>(wide);
  }
}

template <typename To, typename From>
__device__ __forceinline__ To Convert(From value) {
  if constexpr (std::is_same_v<From, __half>) {
    return FromDouble<To>(static_cast<double>(__half2float(value)));
  } else if constexpr (std::is_floating_point_v<From>) {
    return FromDouble<To>(static_cast<double>(value));
  } else if constexpr (std::is_same_v<To, bool>) {
    return value != 0;
  } else if constexpr (std::is_same_v<To, __half>) {
    return __float2half(static_cast<float>(value));
  } else {
    return static_cast<To>(value);  // integer to integer or float: wraps or rounds
  }
}

template <typename From, typename To>
__global__ void CastKernel(const From* x, To* y, int64_t n, int req) {
  using A = ArithOf<To>;  // the destination's, for kAddTo
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const To v = Convert<To>(x[i]);
    if (req == kReqAddTo) {
      y[i] = FromAcc<To>(static_cast<A>(static_cast<A>(ToAcc(y[i])) + static_cast<A>(ToAcc(v))));
    } else {
      y[i] = v;
    }
  }
}

}  // namespace

void Cast(DType from, const void* x, DType to, void* y, int64_t n, int req, void* stream) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_ANY_SWITCH(from, S, "Cast", {
    LOOM_GPU_ANY_SWITCH(to, D, "Cast", {
      CastKernel<S, D><<<Blocks(n), kThreads, 0, Stream(stream)>>>(static_cast<const S*>(x),
                                                                   static_cast<D*>(y), n, req);
    });
  });
  CheckLaunch("Cast");
}

}  // namespace loom::gpu
