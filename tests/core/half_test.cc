// float16 conversions checked against references computed independently with frexp/ldexp.
#include "loom/core/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace loom {
namespace {

// The value of binary16 `bits`, from the IEEE 754 definition.
double ReferenceHalfValue(uint16_t bits) {
  const bool negative = bits & 0x8000;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double magnitude;
  if (exponent == 0x1f) {
    magnitude = mantissa == 0 ? std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(mantissa, -24);
  } else {
    magnitude = std::ldexp(1024 + mantissa, exponent - 25);
  }
  return negative ? -magnitude : magnitude;
}

// x rounded to the nearest binary16 value (ties to even), as a double.
double ReferenceRoundToHalf(double x) {
  if (std::isnan(x) || std::isinf(x)) return x;
  const double a = std::fabs(x);
  int e = 0;
  std::frexp(a, &e);  // a = f * 2^e with f in [0.5, 1)
  // 11 significant bits for normal halves; denormals share the quantum of the lowest binade.
  const double quantum = std::ldexp(1.0, std::max(e - 11, -24));
  double r = std::nearbyint(a / quantum) * quantum;  // default rounding: ties to even
  if (r > 65504.0) r = std::numeric_limits<double>::infinity();
  return std::copysign(r, x);
}

void ExpectRoundsLikeReference(float x) {
  const float got = detail::HalfBitsToFloat(detail::FloatToHalfBits(x));
  const double want = ReferenceRoundToHalf(x);
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << "x=" << x;
    return;
  }
  EXPECT_EQ(static_cast<double>(got), want) << "x=" << x << " bits=" << std::bit_cast<uint32_t>(x);
  EXPECT_EQ(std::signbit(got), std::signbit(want)) << "x=" << x;
}

TEST(Half, EveryBitPatternConvertsToItsExactValue) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const auto bits = static_cast<uint16_t>(b);
    const float f = detail::HalfBitsToFloat(bits);
    const double want = ReferenceHalfValue(bits);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << b;
      ASSERT_EQ(std::signbit(f), (b & 0x8000) != 0) << std::hex << b;
    } else {
      ASSERT_EQ(static_cast<double>(f), want) << std::hex << b;
      ASSERT_EQ(std::signbit(f), (b & 0x8000) != 0) << std::hex << b;
    }
  }
}

TEST(Half, EveryBitPatternRoundTrips) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const auto bits = static_cast<uint16_t>(b);
    const uint16_t back = detail::FloatToHalfBits(detail::HalfBitsToFloat(bits));
    const bool is_nan = (b & 0x7c00) == 0x7c00 && (b & 0x3ff) != 0;
    if (is_nan) {
      // Still NaN, same sign, made quiet; the payload's top bits survive.
      ASSERT_EQ(back & 0x7c00, 0x7c00) << std::hex << b;
      ASSERT_NE(back & 0x3ff, 0) << std::hex << b;
      ASSERT_EQ(back & 0x8000, b & 0x8000) << std::hex << b;
      ASSERT_EQ(back & 0x1ff, b & 0x1ff) << std::hex << b;
    } else {
      ASSERT_EQ(back, bits) << std::hex << b;
    }
  }
}

TEST(Half, RoundsToNearestEvenAroundEveryMidpoint) {
  // Between every pair of neighbouring finite halves: the midpoint (a tie), and the floats just
  // below and above it; also the halves themselves and their negatives.
  for (uint32_t b = 0; b < 0x7bff; ++b) {
    const float lo = detail::HalfBitsToFloat(static_cast<uint16_t>(b));
    const float hi = detail::HalfBitsToFloat(static_cast<uint16_t>(b + 1));
    const float mid = (lo + hi) / 2;  // exact: 12 significant bits fit in a float
    for (float x : {lo, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      ExpectRoundsLikeReference(x);
      ExpectRoundsLikeReference(-x);
    }
  }
}

TEST(Half, RoundsOverflowAndSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  for (float x : {65504.0f, 65519.996f, 65520.0f, 65536.0f, 1e9f, 3.4e38f, inf,
                  std::numeric_limits<float>::denorm_min(), 1e-8f, 2.98023224e-8f /* 2^-25 */,
                  2.9802326e-8f, 5.96046448e-8f /* 2^-24 */, 6.1035156e-5f /* 2^-14 */,
                  std::numeric_limits<float>::quiet_NaN()}) {
    ExpectRoundsLikeReference(x);
    ExpectRoundsLikeReference(-x);
  }
}

TEST(Half, RoundsRandomFloatsLikeTheReference) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 1000000; ++i)
    ExpectRoundsLikeReference(std::bit_cast<float>(static_cast<uint32_t>(rng())));
}

TEST(Half, KnownEncodings) {
  EXPECT_EQ(Half(1.0f).bits(), 0x3c00);
  EXPECT_EQ(Half(-2.0f).bits(), 0xc000);
  EXPECT_EQ(Half(65504.0f).bits(), 0x7bff);
  EXPECT_EQ(Half(1e6f).bits(), 0x7c00);
  EXPECT_EQ(Half(5.96046448e-8f).bits(), 0x0001);  // 2^-24, the smallest denormal
  EXPECT_EQ(Half(0.1f).bits(), 0x2e66);            // 0.0999755859375
  EXPECT_EQ(Half(-0.0f).bits(), 0x8000);
  EXPECT_EQ(static_cast<float>(Half::FromBits(0x3555)), 0.333251953125f);
}

TEST(Half, ArithmeticGoesThroughFloat) {
  Half a(1.5f), b(2.25f);
  EXPECT_EQ(static_cast<float>(a) + static_cast<float>(b), 3.75f);
  a += b;
  EXPECT_EQ(static_cast<float>(a), 3.75f);
  a *= Half(2.0f);
  EXPECT_EQ(static_cast<float>(a), 7.5f);
  a -= Half(0.5f);
  EXPECT_EQ(static_cast<float>(a), 7.0f);
  a /= Half(3.0f);
  EXPECT_EQ(a.bits(), Half(7.0f / 3.0f).bits());
  static_assert(Half(2.0f).bits() == 0x4000, "conversions are constexpr");
}

}  // namespace
}  // namespace loom
