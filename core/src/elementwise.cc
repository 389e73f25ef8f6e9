#include "elementwise.h"

#include <array>
#include <cmath>
#include <type_traits>

#include "loom/core/half.h"
#include "loom/scheduler/error.h"

namespace loom::detail {

namespace {

// Calls f.template operator()<T>() with T the C++ type of dtype.
template <typename F>
void DispatchDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      return f.template operator()<float>();
    case DType::kFloat64:
      return f.template operator()<double>();
    case DType::kFloat16:
      return f.template operator()<Half>();
    case DType::kUInt8:
      return f.template operator()<uint8_t>();
    case DType::kInt32:
      return f.template operator()<int32_t>();
    case DType::kInt8:
      return f.template operator()<int8_t>();
    case DType::kInt64:
      return f.template operator()<int64_t>();
    case DType::kBool:
      return f.template operator()<bool>();
    case DType::kUnknown:
    case DType::kCount:
      break;
  }
  LOOM_INTERNAL_ASSERT(false, "no kernel for dtype ", ToString(dtype));
}

template <typename T>
constexpr bool kIsInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// value converted to T: floats truncate toward zero, NaN gives 0, and the result wraps modulo
// T's range (as NumPy's astype does on these machines), never undefined behaviour.
template <typename T>
T FromDouble(double value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value != 0;
  } else if constexpr (std::is_same_v<T, Half>) {
    return Half(static_cast<float>(value));
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(value);
  } else {
    if (std::isnan(value)) return 0;
    // Clamp into int64's range first: converting a double outside it is undefined.
    constexpr double kLimit = 9223372036854775808.0;  // 2^63
    const int64_t wide = value >= kLimit   ? INT64_MAX
                         : value < -kLimit ? INT64_MIN
                                           : static_cast<int64_t>(value);
    return static_cast<T>(wide);
  }
}

template <typename To, typename From>
To Convert(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (std::is_same_v<From, Half>) {
    return FromDouble<To>(static_cast<float>(value));
  } else if constexpr (std::is_floating_point_v<From>) {
    return FromDouble<To>(value);
  } else if constexpr (std::is_same_v<To, bool>) {
    return value != 0;
  } else if constexpr (std::is_same_v<To, Half>) {
    return Half(static_cast<float>(value));
  } else {
    return static_cast<To>(value);  // integer to integer or float: wraps or rounds, defined
  }
}

// a op b for one element. Signed integers compute in unsigned arithmetic so overflow wraps.
template <ArithOp kOp, typename T>
T Apply(T a, T b) {
  if constexpr (std::is_same_v<T, Half>) {
    return Half(Apply<kOp, float>(a, b));
  } else if constexpr (kIsInteger<T> && kOp != ArithOp::kDiv) {
    using U = std::make_unsigned_t<T>;
    const U x = static_cast<U>(a), y = static_cast<U>(b);
    if constexpr (kOp == ArithOp::kAdd) return static_cast<T>(x + y);
    if constexpr (kOp == ArithOp::kSub) return static_cast<T>(x - y);
    if constexpr (kOp == ArithOp::kMul) return static_cast<T>(x * y);
  } else if constexpr (kIsInteger<T>) {
    // The caller has checked for zero divisors. MIN / -1 overflows: negate with wrap-around.
    if constexpr (std::is_signed_v<T>) {
      using U = std::make_unsigned_t<T>;
      if (b == -1) return static_cast<T>(U{0} - static_cast<U>(a));
    }
    return static_cast<T>(a / b);
  } else {
    if constexpr (kOp == ArithOp::kAdd) return a + b;
    if constexpr (kOp == ArithOp::kSub) return a - b;
    if constexpr (kOp == ArithOp::kMul) return a * b;
    if constexpr (kOp == ArithOp::kDiv) return a / b;
  }
}

template <typename T>
void CheckDivisors(const T* b, size_t n) {
  if constexpr (kIsInteger<T>) {
    bool zero = false;
    for (size_t i = 0; i < n; ++i) zero |= b[i] == 0;
    LOOM_CHECK(!zero, "integer division by zero: a divisor of the ", sizeof(T) * 8,
               "-bit integer division is 0");
  }
}

// Calls f.template operator()<kOp>() with kOp = op as a compile-time constant, so every loop
// below is specialised and has a branch-free body.
template <typename F>
void DispatchOp(ArithOp op, F&& f) {
  switch (op) {
    case ArithOp::kAdd:
      return f.template operator()<ArithOp::kAdd>();
    case ArithOp::kSub:
      return f.template operator()<ArithOp::kSub>();
    case ArithOp::kMul:
      return f.template operator()<ArithOp::kMul>();
    case ArithOp::kDiv:
      return f.template operator()<ArithOp::kDiv>();
    case ArithOp::kCount:
      break;
  }
  LOOM_INTERNAL_ASSERT(false, "bad arithmetic op ", static_cast<int>(op));
}

}  // namespace

const char* ArithOpName(ArithOp op, bool scalar, bool reverse) {
  static constexpr std::array<const char*, 4> kNames = {"_plus", "_minus", "_mul", "_div"};
  static constexpr std::array<const char*, 4> kScalarNames = {"_plus_scalar", "_minus_scalar",
                                                              "_mul_scalar", "_div_scalar"};
  static constexpr std::array<const char*, 4> kReverseNames = {"_plus_scalar", "_rminus_scalar",
                                                               "_mul_scalar", "_rdiv_scalar"};
  static_assert(static_cast<size_t>(ArithOp::kCount) == kNames.size(), "update the op names");
  const auto i = static_cast<size_t>(op);
  return !scalar ? kNames.at(i) : reverse ? kReverseNames.at(i) : kScalarNames.at(i);
}

const char* ArithOpVerb(ArithOp op) {
  static constexpr std::array<const char*, 4> kVerbs = {"add", "subtract", "multiply", "divide"};
  static_assert(static_cast<size_t>(ArithOp::kCount) == kVerbs.size(), "update the op verbs");
  return kVerbs.at(static_cast<size_t>(op));
}

void BinaryKernel(ArithOp op, DType dtype, const void* a, const void* b, void* out, size_t n) {
  DispatchDType(dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      LOOM_INTERNAL_ASSERT(false, "bool arrays reached an arithmetic kernel");
    } else {
      DispatchOp(op, [&]<ArithOp kOp>() {
        const T* x = static_cast<const T*>(a);
        const T* y = static_cast<const T*>(b);
        T* z = static_cast<T*>(out);
        if constexpr (kOp == ArithOp::kDiv) CheckDivisors(y, n);
        for (size_t i = 0; i < n; ++i) z[i] = Apply<kOp>(x[i], y[i]);
      });
    }
  });
}

void ScalarKernel(ArithOp op, bool reverse, DType dtype, const void* a, double scalar, void* out,
                  size_t n) {
  DispatchDType(dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      LOOM_INTERNAL_ASSERT(false, "bool arrays reached an arithmetic kernel");
    } else {
      DispatchOp(op, [&]<ArithOp kOp>() {
        const T* x = static_cast<const T*>(a);
        T* z = static_cast<T*>(out);
        const T s = FromDouble<T>(scalar);
        if (reverse) {
          if constexpr (kOp == ArithOp::kDiv) CheckDivisors(x, n);
          for (size_t i = 0; i < n; ++i) z[i] = Apply<kOp>(s, x[i]);
        } else {
          if constexpr (kOp == ArithOp::kDiv) CheckDivisors(&s, 1);
          for (size_t i = 0; i < n; ++i) z[i] = Apply<kOp>(x[i], s);
        }
      });
    }
  });
}

void FillKernel(DType dtype, void* out, size_t n, double value) {
  DispatchDType(dtype, [&]<typename T>() {
    T* z = static_cast<T*>(out);
    const T v = FromDouble<T>(value);
    for (size_t i = 0; i < n; ++i) z[i] = v;
  });
}

void CastKernel(DType from, const void* in, DType to, void* out, size_t n) {
  DispatchDType(from, [&]<typename From>() {
    DispatchDType(to, [&]<typename To>() {
      const From* x = static_cast<const From*>(in);
      To* z = static_cast<To*>(out);
      for (size_t i = 0; i < n; ++i) z[i] = Convert<To>(x[i]);
    });
  });
}

}  // namespace loom::detail
