// Shared helpers of the CPU kernels (operators/cpu/): dtype dispatch, output-request handling and
// argument checks. Internal to the operators layer (tests and benchmarks include it too).
//
//   DispatchFloat(x.dtype, "FullyConnected", [&]<typename T>(Tag<T>) {
//     const T* px = x.data<T>();
//     ...
//   });
//
// Everything here is stateless and thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/half.h"
#include "loom/core/kernel.h"
#include "loom/core/shape.h"
#include "loom/scheduler/error.h"

/// Marks a hot loop function to be compiled for AVX-512, AVX2+FMA and baseline x86-64, the best
/// one picked when the program loads (GCC on x86-64; clang 14 cannot clone templates, so there
/// it is the baseline build only).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LOOM_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOOM_SIMD_CLONES
#endif

namespace loom::cpu {

/// Carries a type to a generic lambda: [&]<typename T>(Tag<T>) { ... }.
template <typename T>
struct Tag {
  using type = T;
};

/// The type arithmetic on T is done in: float for Half, T otherwise.
template <typename T>
using AccT = std::conditional_t<std::is_same_v<T, Half>, float, T>;

/// Calls f(Tag<float>) or f(Tag<double>); other dtypes throw NotSupportedError naming op.
template <typename F>
decltype(auto) DispatchFloat(DType dtype, std::string_view op, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      return f(Tag<float>{});
    case DType::kFloat64:
      return f(Tag<double>{});
    default:
      throw NotSupportedError(detail::StrCat(op, ": the CPU kernel supports float32 and float64 ",
                                             "but got ", ToString(dtype)));
  }
}

/// As DispatchFloat, plus Half (float16 storage, float32 arithmetic).
template <typename F>
decltype(auto) DispatchFloatHalf(DType dtype, std::string_view op, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      return f(Tag<float>{});
    case DType::kFloat64:
      return f(Tag<double>{});
    case DType::kFloat16:
      return f(Tag<Half>{});
    default:
      throw NotSupportedError(detail::StrCat(op, ": the CPU kernel supports float16, float32 and ",
                                             "float64 but got ", ToString(dtype)));
  }
}

/// Every numeric dtype (floats, integers, bool).
template <typename F>
decltype(auto) DispatchAll(DType dtype, std::string_view op, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      return f(Tag<float>{});
    case DType::kFloat64:
      return f(Tag<double>{});
    case DType::kFloat16:
      return f(Tag<Half>{});
    case DType::kUInt8:
      return f(Tag<uint8_t>{});
    case DType::kInt32:
      return f(Tag<int32_t>{});
    case DType::kInt8:
      return f(Tag<int8_t>{});
    case DType::kInt64:
      return f(Tag<int64_t>{});
    case DType::kBool:
      return f(Tag<bool>{});
    default:
      throw NotSupportedError(detail::StrCat(op, ": no CPU kernel for dtype ", ToString(dtype)));
  }
}

/// Reads element i of an index-carrying tensor (any numeric dtype) as a double.
double ReadAsDouble(const TensorView& t, int64_t i);

/// Writes v to dst[0..n) as req says: kWriteTo/kWriteInplace overwrite, kAddTo accumulates.
template <typename T>
inline void StoreN(OpReq req, T* __restrict dst, const T* __restrict v, int64_t n) {
  if (req == OpReq::kNull) return;
  if (req == OpReq::kAddTo) {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(AccT<T>(dst[i]) + AccT<T>(v[i]));
  } else {
    std::memcpy(dst, v, static_cast<size_t>(n) * sizeof(T));
  }
}

/// Sets dst[0..n) to zero when req overwrites; leaves it for kAddTo and kNull.
template <typename T>
inline void ZeroIfWrite(OpReq req, T* dst, int64_t n) {
  if (req == OpReq::kWriteTo || req == OpReq::kWriteInplace) {
    std::fill(dst, dst + n, T(0));
  }
}

/// Throws ShapeError unless t has exactly the given number of elements.
void CheckSize(const TensorView& t, int64_t expected, std::string_view op, std::string_view name);
/// Throws ShapeError unless a and b have the same shape.
void CheckSameShape(const TensorView& a, const TensorView& b, std::string_view op,
                    std::string_view a_name, std::string_view b_name);
/// Throws DTypeError unless a and b have the same dtype.
void CheckSameDType(const TensorView& a, const TensorView& b, std::string_view op,
                    std::string_view a_name, std::string_view b_name);

/// Axis normalised to [0, ndim): negative counts from the end; throws loom::Error out of range.
int NormalizeAxis(int axis, int ndim, std::string_view op);

/// The tensor as (outer, n, inner) around `axis`: outer = prod(shape[:axis]), n = shape[axis],
/// inner = prod(shape[axis+1:]).
struct AxisSplit {
  int64_t outer = 1;
  int64_t n = 1;
  int64_t inner = 1;
};
AxisSplit SplitAt(const Shape& shape, int axis);

}  // namespace loom::cpu
