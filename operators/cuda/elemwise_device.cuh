// Device-side pieces the element-wise, broadcast and reduction .cu files share: math overloads for
// float and double, the per-element formulas of the unary, binary and scalar operators (the same
// formulas as operators/cpu/elementwise.cc, evaluated in Acc<T>), and a compile-time dispatch of
// the operator enums of elemwise_kernels.h. C++17, device code only (include from .cu files).
//
//   DispatchKind<BinaryKind, kNumBinaryKinds>(op, "broadcast", [&](auto k) {
//     constexpr BinaryKind kOp = decltype(k)::value;
//     MyKernel<kOp, T><<<...>>>(...);   // BinaryValue<kOp>(a, b) inside
//   });
#pragma once

#include <type_traits>
#include <utility>

#include "operators/cuda/elemwise_kernels.h"
#include "operators/cuda/launch.cuh"

namespace loom::gpu {

__device__ __forceinline__ float DExp(float x) { return expf(x); }
__device__ __forceinline__ double DExp(double x) { return exp(x); }
__device__ __forceinline__ float DLog(float x) { return logf(x); }
__device__ __forceinline__ double DLog(double x) { return log(x); }
__device__ __forceinline__ float DSqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double DSqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float DTanh(float x) { return tanhf(x); }
__device__ __forceinline__ double DTanh(double x) { return tanh(x); }
__device__ __forceinline__ float DSin(float x) { return sinf(x); }
__device__ __forceinline__ double DSin(double x) { return sin(x); }
__device__ __forceinline__ float DCos(float x) { return cosf(x); }
__device__ __forceinline__ double DCos(double x) { return cos(x); }
__device__ __forceinline__ float DAbs(float x) { return fabsf(x); }
__device__ __forceinline__ double DAbs(double x) { return fabs(x); }
__device__ __forceinline__ float DPow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double DPow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ bool DIsNan(float x) { return isnan(x); }
__device__ __forceinline__ bool DIsNan(double x) { return isnan(x); }

// ---- unary -----------------------------------------------------------------------------------

template <UnaryKind kOp, typename A>
__device__ __forceinline__ A UnaryValue(A x) {
  if constexpr (kOp == UnaryKind::kCopy) return x;
  if constexpr (kOp == UnaryKind::kNegative) return -x;
  if constexpr (kOp == UnaryKind::kAbs) return DAbs(x);
  if constexpr (kOp == UnaryKind::kSquare) return x * x;
  if constexpr (kOp == UnaryKind::kSqrt) return DSqrt(x);
  if constexpr (kOp == UnaryKind::kRsqrt) return A(1) / DSqrt(x);
  if constexpr (kOp == UnaryKind::kExp) return DExp(x);
  if constexpr (kOp == UnaryKind::kLog) return DLog(x);
  if constexpr (kOp == UnaryKind::kRelu) return x < A(0) ? A(0) : x;  // NaN stays NaN
  if constexpr (kOp == UnaryKind::kSigmoid) return A(1) / (A(1) + DExp(-x));
  if constexpr (kOp == UnaryKind::kTanh) return DTanh(x);
  if constexpr (kOp == UnaryKind::kSin) return DSin(x);
}

// f'(x) given x and y = f(x) (only the one UnaryBackwardReadsInput names is meaningful).
template <UnaryKind kOp, typename A>
__device__ __forceinline__ A UnaryDerivative(A x, A y) {
  if constexpr (kOp == UnaryKind::kCopy) return A(1);
  if constexpr (kOp == UnaryKind::kNegative) return A(-1);
  if constexpr (kOp == UnaryKind::kAbs) return x > A(0) ? A(1) : (x < A(0) ? A(-1) : A(0));
  if constexpr (kOp == UnaryKind::kSquare) return A(2) * x;
  if constexpr (kOp == UnaryKind::kSqrt) return A(0.5) / y;
  if constexpr (kOp == UnaryKind::kRsqrt) return A(-0.5) * y * y * y;
  if constexpr (kOp == UnaryKind::kExp) return y;
  if constexpr (kOp == UnaryKind::kLog) return A(1) / x;
  if constexpr (kOp == UnaryKind::kRelu) return y > A(0) ? A(1) : A(0);
  if constexpr (kOp == UnaryKind::kSigmoid) return y * (A(1) - y);
  if constexpr (kOp == UnaryKind::kTanh) return A(1) - y * y;
  if constexpr (kOp == UnaryKind::kSin) return DCos(x);
}

// ---- binary ----------------------------------------------------------------------------------

template <BinaryKind kOp, typename A>
__device__ __forceinline__ A BinaryValue(A a, A b) {
  if constexpr (kOp == BinaryKind::kAdd) return a + b;
  if constexpr (kOp == BinaryKind::kSub) return a - b;
  if constexpr (kOp == BinaryKind::kMul) return a * b;
  if constexpr (kOp == BinaryKind::kDiv) return a / b;
  if constexpr (kOp == BinaryKind::kMaximum) return a < b ? b : a;
  if constexpr (kOp == BinaryKind::kMinimum) return b < a ? b : a;
  if constexpr (kOp == BinaryKind::kPower) return DPow(a, b);
}

// d(a op b)/da and d(a op b)/db; maximum/minimum send ties to a.
template <BinaryKind kOp, typename A>
__device__ __forceinline__ A BinaryDerivativeA(A a, A b) {
  if constexpr (kOp == BinaryKind::kAdd || kOp == BinaryKind::kSub) return A(1);
  if constexpr (kOp == BinaryKind::kMul) return b;
  if constexpr (kOp == BinaryKind::kDiv) return A(1) / b;
  if constexpr (kOp == BinaryKind::kMaximum) return a >= b ? A(1) : A(0);
  if constexpr (kOp == BinaryKind::kMinimum) return a <= b ? A(1) : A(0);
  if constexpr (kOp == BinaryKind::kPower) return b * DPow(a, b - A(1));
}
template <BinaryKind kOp, typename A>
__device__ __forceinline__ A BinaryDerivativeB(A a, A b) {
  if constexpr (kOp == BinaryKind::kAdd) return A(1);
  if constexpr (kOp == BinaryKind::kSub) return A(-1);
  if constexpr (kOp == BinaryKind::kMul) return a;
  if constexpr (kOp == BinaryKind::kDiv) return -a / (b * b);
  if constexpr (kOp == BinaryKind::kMaximum) return a >= b ? A(0) : A(1);
  if constexpr (kOp == BinaryKind::kMinimum) return a <= b ? A(0) : A(1);
  if constexpr (kOp == BinaryKind::kPower) return DPow(a, b) * DLog(a);
}

// ---- scalar ----------------------------------------------------------------------------------

template <ScalarKind kOp, typename A>
__device__ __forceinline__ A ScalarValue(A x, A s) {
  if constexpr (kOp == ScalarKind::kPlus) return x + s;
  if constexpr (kOp == ScalarKind::kMinus) return x - s;
  if constexpr (kOp == ScalarKind::kRMinus) return s - x;
  if constexpr (kOp == ScalarKind::kMul) return x * s;
  if constexpr (kOp == ScalarKind::kDiv) return x / s;
  if constexpr (kOp == ScalarKind::kRDiv) return s / x;
  if constexpr (kOp == ScalarKind::kPower) return DPow(x, s);
  if constexpr (kOp == ScalarKind::kRPower) return DPow(s, x);
  if constexpr (kOp == ScalarKind::kMaximum) return x < s ? s : x;
  if constexpr (kOp == ScalarKind::kMinimum) return s < x ? s : x;
}

template <ScalarKind kOp, typename A>
__device__ __forceinline__ A ScalarDerivative(A x, A s) {
  if constexpr (kOp == ScalarKind::kPlus || kOp == ScalarKind::kMinus) return A(1);
  if constexpr (kOp == ScalarKind::kRMinus) return A(-1);
  if constexpr (kOp == ScalarKind::kMul) return s;
  if constexpr (kOp == ScalarKind::kDiv) return A(1) / s;
  if constexpr (kOp == ScalarKind::kRDiv) return -s / (x * x);
  if constexpr (kOp == ScalarKind::kPower) return s * DPow(x, s - A(1));
  if constexpr (kOp == ScalarKind::kRPower) return DPow(s, x) * DLog(s);
  if constexpr (kOp == ScalarKind::kMaximum) return x >= s ? A(1) : A(0);
  if constexpr (kOp == ScalarKind::kMinimum) return x <= s ? A(1) : A(0);
}

// ---- dispatch --------------------------------------------------------------------------------

template <typename E, typename F, int... kIs>
void DispatchKindImpl(E value, const char* what, F& f, std::integer_sequence<int, kIs...>) {
  const bool found =
      ((static_cast<int>(value) == kIs ? (f(std::integral_constant<E, static_cast<E>(kIs)>{}), true)
                                       : false) ||
       ...);
  if (!found) {
    throw Error(StrCat(what, ": unknown operation code ", static_cast<int>(value)));
  }
}

/// Calls f(std::integral_constant<E, value>{}) for value in [0, kCount).
template <typename E, int kCount, typename F>
void DispatchKind(E value, const char* what, F&& f) {
  DispatchKindImpl(value, what, f, std::make_integer_sequence<int, kCount>{});
}

}  // namespace loom::gpu
