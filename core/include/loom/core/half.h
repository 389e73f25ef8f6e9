// IEEE 754 half precision (binary16) as a storage type, the element type of float16 arrays.
//
//   loom::Half h(1.5f);                  // float -> half, rounded to nearest, ties to even
//   float f = h;                         // half -> float, exact
//   loom::Half big(70000.0f);            // overflows to +inf, as IEEE rounding says
//   uint16_t bits = h.bits();            // 0x3e00
//   loom::Half x = loom::Half::FromBits(0x7c00);   // +inf
//
// Conversions handle zeros, denormals, infinities and NaN (payload kept, made quiet). Arithmetic
// goes through float. Half is a trivially copyable value type (two bytes); thread-safe to copy.
#pragma once

#include <bit>
#include <cstdint>

namespace loom {

namespace detail {

/// The binary16 bits nearest to f (round to nearest, ties to even).
constexpr uint16_t FloatToHalfBits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {
    // Infinity stays infinity; NaN keeps the top payload bits and becomes quiet.
    if (abs == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  }
  // 65520 = 65504 + half an ulp: from there on the value rounds to infinity.
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (abs < 0x38800000u) {
    // Below 2^-14, the smallest normal half: the result is a denormal m * 2^-24 (or zero).
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25 rounds to 0
    const uint32_t exponent = abs >> 23;
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exponent;  // 14..24
    uint32_t m = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (m & 1u))) ++m;  // may carry into 0x400: normal
    return static_cast<uint16_t>(sign | m);
  }
  // Normal: re-bias the exponent (127 -> 15) and round 23 mantissa bits to 10. A carry out of
  // the mantissa correctly bumps the exponent.
  const uint32_t rebased = abs - (112u << 23);
  const uint32_t rounded = rebased + 0xfffu + ((rebased >> 13) & 1u);
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

/// The float equal to the binary16 value `bits` (every half is exactly representable).
constexpr float HalfBitsToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) {
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Denormal: normalise so the leading one becomes the implicit bit.
    uint32_t e = 113;  // float exponent of 2^-14
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    return std::bit_cast<float>(sign | (e << 23) | ((mantissa & 0x3ffu) << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

}  // namespace detail

/// A binary16 floating-point number. Converts to float implicitly, from float explicitly.
class Half {
 public:
  constexpr Half() = default;
  constexpr explicit Half(float f) : bits_(detail::FloatToHalfBits(f)) {}

  /// The half whose binary16 encoding is `bits`.
  static constexpr Half FromBits(uint16_t bits) {
    Half h;
    h.bits_ = bits;
    return h;
  }
  constexpr uint16_t bits() const { return bits_; }
  constexpr operator float() const { return detail::HalfBitsToFloat(bits_); }

  constexpr Half& operator+=(Half o) { return *this = Half(float(*this) + float(o)); }
  constexpr Half& operator-=(Half o) { return *this = Half(float(*this) - float(o)); }
  constexpr Half& operator*=(Half o) { return *this = Half(float(*this) * float(o)); }
  constexpr Half& operator/=(Half o) { return *this = Half(float(*this) / float(o)); }

 private:
  uint16_t bits_ = 0;
};

static_assert(sizeof(Half) == 2, "Half must be two bytes: arrays of it are float16 buffers");

}  // namespace loom
