// Scalar math for the CPU kernels' element-wise loops, written so that GCC vectorises the loops
// that call them (no branches, no libm calls for float exp/tanh/sigmoid).
//
//   for (int64_t i = 0; i < n; ++i) y[i] = loom::cpu::Sigmoid(x[i]);   // vectorised for float
//
// float: Exp is Cephes' expf polynomial after range reduction (about 2 ulp; inputs below -87.3
// give exp(-87.3) instead of a denormal, NaN stays NaN); Tanh is Cephes' odd polynomial for
// |x| < 0.625 and 1 - 2 / (exp(2|x|) + 1) above. double: the standard library. Pure functions.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace loom::cpu {

inline float Exp(float x) {
  // 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 in two parts for precision).
  x = x < -87.3f ? -87.3f : x;  // value selects, not std::min/max references: they vectorise
  x = x > 88.3f ? 88.3f : x;
  const float t = x * 1.44269504088896341f;
  const float n = (t + 12582912.f) - 12582912.f;  // round to nearest via 1.5 * 2^23
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return e * std::bit_cast<float>(bits);
}
inline double Exp(double x) { return std::exp(x); }

inline float Tanh(float x) {
  const float a = std::abs(x);
  const float z = x * x;
  float small = -5.70498872745e-3f;
  small = small * z + 2.06390887954e-2f;
  small = small * z - 5.37397155531e-2f;
  small = small * z + 1.33314422036e-1f;
  small = small * z - 3.33332819422e-1f;
  small = small * z * x + x;
  const float large = 1.f - 2.f / (Exp(2.f * a) + 1.f);
  const float signed_large = x < 0 ? -large : large;
  return a < 0.625f ? small : signed_large;
}
inline double Tanh(double x) { return std::tanh(x); }

template <typename A>
inline A Sigmoid(A x) {
  return A(1) / (A(1) + Exp(-x));
}

/// log(1 + e^x); x itself above 20, as MXNet does (they agree there to 2e-9).
template <typename A>
inline A Softrelu(A x) {
  return x > A(20) ? x : std::log1p(Exp(x));
}

template <typename A>
inline A Softsign(A x) {
  return x / (A(1) + std::abs(x));
}

}  // namespace loom::cpu
