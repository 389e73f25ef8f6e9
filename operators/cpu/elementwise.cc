#include "operators/cpu/elementwise.h"

#include <cmath>
#include <type_traits>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/math.h"
#include "operators/cpu/parallel.h"
#include "operators/cpu/reduce.h"
#include "operators/cpu/walk.h"

namespace loom::cpu {
namespace {

// Elements per chunk: cheap arithmetic, and transcendental functions.
constexpr int64_t kCheapGrain = int64_t{1} << 15;
constexpr int64_t kCostlyGrain = int64_t{1} << 12;

// out[i] (req) = f(i) for i in [b, e), f returning AccT<T>.
template <typename T, typename F>
LOOM_SIMD_CLONES void MapRange(int64_t b, int64_t e, T* out, bool add, const F& f) {
  if (add) {
    for (int64_t i = b; i < e; ++i) out[i] = static_cast<T>(AccT<T>(out[i]) + f(i));
  } else {
    for (int64_t i = b; i < e; ++i) out[i] = static_cast<T>(f(i));
  }
}

// out[i] (req) = f(i) for i in [0, n), split over threads.
template <typename T, typename F>
void Map(int64_t n, int64_t grain, T* out, OpReq req, F&& f) {
  if (req == OpReq::kNull) return;
  ParallelFor(n, grain,
              [&](int64_t b, int64_t e) { MapRange(b, e, out, req == OpReq::kAddTo, f); });
}

template <typename E, E... kValues, typename F>
void WithEnum(E value, std::integer_sequence<E, kValues...>, F&& f) {
  ((value == kValues ? (f(std::integral_constant<E, kValues>{}), 0) : 0), ...);
}

template <typename E, typename F>
void Switch(E value, F&& f) {
  using U = std::underlying_type_t<E>;
  constexpr U count = static_cast<U>(E::kCount);
  LOOM_CHECK(static_cast<U>(value) < count, "unknown operation code ", static_cast<int>(value));
  [&]<U... kIs>(std::integer_sequence<U, kIs...>) {
    WithEnum(value, std::integer_sequence<E, static_cast<E>(kIs)...>{}, f);
  }
  (std::make_integer_sequence<U, count>{});
}

// ---- unary -----------------------------------------------------------------------------------

template <UnaryOp kOp, typename A>
inline A UnaryValue(A x) {
  if constexpr (kOp == UnaryOp::kCopy) return x;
  if constexpr (kOp == UnaryOp::kNegative) return -x;
  if constexpr (kOp == UnaryOp::kAbs) return std::abs(x);
  if constexpr (kOp == UnaryOp::kSquare) return x * x;
  if constexpr (kOp == UnaryOp::kSqrt) return std::sqrt(x);
  if constexpr (kOp == UnaryOp::kRsqrt) return A(1) / std::sqrt(x);
  if constexpr (kOp == UnaryOp::kExp) return Exp(x);
  if constexpr (kOp == UnaryOp::kLog) return std::log(x);
  if constexpr (kOp == UnaryOp::kRelu) return x < A(0) ? A(0) : x;  // NaN stays NaN
  if constexpr (kOp == UnaryOp::kSigmoid) return Sigmoid(x);
  if constexpr (kOp == UnaryOp::kTanh) return Tanh(x);
  if constexpr (kOp == UnaryOp::kSoftrelu) return Softrelu(x);
  if constexpr (kOp == UnaryOp::kSoftsign) return Softsign(x);
}

constexpr bool ReadsInput(UnaryOp op) {
  return op == UnaryOp::kAbs || op == UnaryOp::kSquare || op == UnaryOp::kLog ||
         op == UnaryOp::kSoftsign;
}
constexpr bool ReadsOutput(UnaryOp op) {
  return op == UnaryOp::kExp || op == UnaryOp::kSqrt || op == UnaryOp::kRsqrt ||
         op == UnaryOp::kRelu || op == UnaryOp::kSigmoid || op == UnaryOp::kTanh ||
         op == UnaryOp::kSoftrelu;
}
constexpr bool Costly(UnaryOp op) {
  return op == UnaryOp::kExp || op == UnaryOp::kLog || op == UnaryOp::kSigmoid ||
         op == UnaryOp::kTanh || op == UnaryOp::kSoftrelu;
}

// f'(x) given x and y = f(x) (only the one ReadsInput/ReadsOutput names is meaningful).
template <UnaryOp kOp, typename A>
inline A UnaryDerivative(A x, A y) {
  if constexpr (kOp == UnaryOp::kCopy) return A(1);
  if constexpr (kOp == UnaryOp::kNegative) return A(-1);
  if constexpr (kOp == UnaryOp::kAbs) return x > A(0) ? A(1) : (x < A(0) ? A(-1) : A(0));
  if constexpr (kOp == UnaryOp::kSquare) return A(2) * x;
  if constexpr (kOp == UnaryOp::kSqrt) return A(0.5) / y;
  if constexpr (kOp == UnaryOp::kRsqrt) return A(-0.5) * y * y * y;
  if constexpr (kOp == UnaryOp::kExp) return y;
  if constexpr (kOp == UnaryOp::kLog) return A(1) / x;
  if constexpr (kOp == UnaryOp::kRelu) return y > A(0) ? A(1) : A(0);
  if constexpr (kOp == UnaryOp::kSigmoid) return y * (A(1) - y);
  if constexpr (kOp == UnaryOp::kTanh) return A(1) - y * y;
  if constexpr (kOp == UnaryOp::kSoftrelu) return A(1) - Exp(-y);
  if constexpr (kOp == UnaryOp::kSoftsign) {
    const A d = A(1) + std::abs(x);
    return A(1) / (d * d);
  }
}

// ---- binary ----------------------------------------------------------------------------------

template <BinaryOp kOp, typename A>
inline A BinaryValue(A a, A b) {
  if constexpr (kOp == BinaryOp::kAdd) return a + b;
  if constexpr (kOp == BinaryOp::kSub) return a - b;
  if constexpr (kOp == BinaryOp::kMul) return a * b;
  if constexpr (kOp == BinaryOp::kDiv) return a / b;
  if constexpr (kOp == BinaryOp::kMaximum) return a < b ? b : a;
  if constexpr (kOp == BinaryOp::kMinimum) return b < a ? b : a;
  if constexpr (kOp == BinaryOp::kPower) return std::pow(a, b);
}

// d(a op b)/da and d(a op b)/db.
template <BinaryOp kOp, typename A>
inline A BinaryDerivativeA(A a, A b) {
  if constexpr (kOp == BinaryOp::kAdd || kOp == BinaryOp::kSub) return A(1);
  if constexpr (kOp == BinaryOp::kMul) return b;
  if constexpr (kOp == BinaryOp::kDiv) return A(1) / b;
  if constexpr (kOp == BinaryOp::kMaximum) return a >= b ? A(1) : A(0);
  if constexpr (kOp == BinaryOp::kMinimum) return a <= b ? A(1) : A(0);
  if constexpr (kOp == BinaryOp::kPower) return b * std::pow(a, b - A(1));
}
template <BinaryOp kOp, typename A>
inline A BinaryDerivativeB(A a, A b) {
  if constexpr (kOp == BinaryOp::kAdd) return A(1);
  if constexpr (kOp == BinaryOp::kSub) return A(-1);
  if constexpr (kOp == BinaryOp::kMul) return a;
  if constexpr (kOp == BinaryOp::kDiv) return -a / (b * b);
  if constexpr (kOp == BinaryOp::kMaximum) return a >= b ? A(0) : A(1);
  if constexpr (kOp == BinaryOp::kMinimum) return a <= b ? A(0) : A(1);
  if constexpr (kOp == BinaryOp::kPower) return std::pow(a, b) * std::log(a);
}

// ---- scalar ----------------------------------------------------------------------------------

template <ScalarOp kOp, typename A>
inline A ScalarValue(A x, A s) {
  if constexpr (kOp == ScalarOp::kPlus) return x + s;
  if constexpr (kOp == ScalarOp::kMinus) return x - s;
  if constexpr (kOp == ScalarOp::kRMinus) return s - x;
  if constexpr (kOp == ScalarOp::kMul) return x * s;
  if constexpr (kOp == ScalarOp::kDiv) return x / s;
  if constexpr (kOp == ScalarOp::kRDiv) return s / x;
  if constexpr (kOp == ScalarOp::kPower) return std::pow(x, s);
  if constexpr (kOp == ScalarOp::kRPower) return std::pow(s, x);
  if constexpr (kOp == ScalarOp::kMaximum) return x < s ? s : x;
  if constexpr (kOp == ScalarOp::kMinimum) return s < x ? s : x;
}

template <ScalarOp kOp, typename A>
inline A ScalarDerivative(A x, A s) {
  if constexpr (kOp == ScalarOp::kPlus || kOp == ScalarOp::kMinus) return A(1);
  if constexpr (kOp == ScalarOp::kRMinus) return A(-1);
  if constexpr (kOp == ScalarOp::kMul) return s;
  if constexpr (kOp == ScalarOp::kDiv) return A(1) / s;
  if constexpr (kOp == ScalarOp::kRDiv) return -s / (x * x);
  if constexpr (kOp == ScalarOp::kPower) return s * std::pow(x, s - A(1));
  if constexpr (kOp == ScalarOp::kRPower) return std::pow(s, x) * std::log(s);
  if constexpr (kOp == ScalarOp::kMaximum) return x >= s ? A(1) : A(0);
  if constexpr (kOp == ScalarOp::kMinimum) return x <= s ? A(1) : A(0);
}

constexpr bool Costly(BinaryOp op) { return op == BinaryOp::kPower; }
constexpr bool Costly(ScalarOp op) { return op == ScalarOp::kPower || op == ScalarOp::kRPower; }

// py[i] (add or write) = f(a(i), b(i)) for one row of a broadcast walk; a/b strides 0 or 1.
template <typename T, typename F>
LOOM_SIMD_CLONES void BroadcastRow(int64_t len, const T* pa, int64_t sa, const T* pb, int64_t sb,
                                   T* py, bool add, const F& f) {
  using A = AccT<T>;
  auto row = [&](auto get_a, auto get_b) {
    if (add) {
      for (int64_t i = 0; i < len; ++i) py[i] = static_cast<T>(A(py[i]) + f(get_a(i), get_b(i)));
    } else {
      for (int64_t i = 0; i < len; ++i) py[i] = static_cast<T>(f(get_a(i), get_b(i)));
    }
  };
  const A a0 = A(pa[0]), b0 = A(pb[0]);
  auto contiguous_a = [&](int64_t i) { return A(pa[i]); };
  auto contiguous_b = [&](int64_t i) { return A(pb[i]); };
  auto repeated_a = [&](int64_t) { return a0; };
  auto repeated_b = [&](int64_t) { return b0; };
  if (sa == 1 && sb == 1) {
    row(contiguous_a, contiguous_b);
  } else if (sa == 1) {
    row(contiguous_a, repeated_b);
  } else if (sb == 1) {
    row(repeated_a, contiguous_b);
  } else {
    row(repeated_a, repeated_b);
  }
}

// out (req) = f(a_i, b_i) over the broadcast walk, rows split over threads.
template <typename T, typename F>
void BroadcastMap(const Walk& walk, const T* a, const T* b, T* out, OpReq req, int64_t grain,
                  F&& f) {
  const int64_t len = walk.inner();
  ParallelFor(walk.rows(), std::max<int64_t>(1, grain / std::max<int64_t>(len, 1)),
              [&](int64_t r0, int64_t r1) {
                walk.ForRows(r0, r1, [&](int64_t o, const int64_t* off, const int64_t* st) {
                  BroadcastRow(len, a + off[0], st[0], b + off[1], st[1], out + o,
                               req == OpReq::kAddTo, f);
                });
              });
}

void CheckFloatOperands(std::string_view op, const TensorView& ref,
                        std::initializer_list<std::pair<const TensorView*, const char*>> others) {
  for (const auto& [t, name] : others) CheckSameDType(ref, *t, op, "the input", name);
}

}  // namespace

const char* ToString(UnaryOp op) {
  static constexpr const char* kNames[] = {"_copy", "negative", "abs",     "square", "sqrt",
                                           "rsqrt", "exp",      "log",     "relu",   "sigmoid",
                                           "tanh",  "softrelu", "softsign"};
  static_assert(std::size(kNames) == static_cast<size_t>(UnaryOp::kCount));
  return static_cast<size_t>(op) < std::size(kNames) ? kNames[static_cast<size_t>(op)] : "?";
}

const char* ToString(BinaryOp op) {
  static constexpr const char* kNames[] = {"add",     "sub",     "mul",  "div",
                                           "maximum", "minimum", "power"};
  static_assert(std::size(kNames) == static_cast<size_t>(BinaryOp::kCount));
  return static_cast<size_t>(op) < std::size(kNames) ? kNames[static_cast<size_t>(op)] : "?";
}

const char* ToString(ScalarOp op) {
  static constexpr const char* kNames[] = {
      "_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar",     "_div_scalar",
      "_rdiv_scalar", "_power_scalar", "_rpower_scalar", "_maximum_scalar", "_minimum_scalar"};
  static_assert(std::size(kNames) == static_cast<size_t>(ScalarOp::kCount));
  return static_cast<size_t>(op) < std::size(kNames) ? kNames[static_cast<size_t>(op)] : "?";
}

bool UnaryBackwardReadsInput(UnaryOp op) { return ReadsInput(op); }
bool UnaryBackwardReadsOutput(UnaryOp op) { return ReadsOutput(op); }

void UnaryForward(UnaryOp op, const TensorView& x, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = ToString(op);
  CheckSameShape(x, y, name, "data", "out");
  CheckSameDType(x, y, name, "data", "out");
  DispatchFloatHalf(x.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    Switch(op, [&](auto k) {
      constexpr UnaryOp kOp = decltype(k)::value;
      Map(x.size(), Costly(kOp) ? kCostlyGrain : kCheapGrain, py, req,
          [&](int64_t i) { return UnaryValue<kOp>(A(px[i])); });
    });
  });
}

void UnaryBackward(UnaryOp op, const TensorView& dy, const TensorView& x, const TensorView& y,
                   const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = ToString(op);
  CheckSameShape(dy, dx, name, "out_grad", "data_grad");
  CheckSameDType(dy, dx, name, "out_grad", "data_grad");
  if (ReadsInput(op)) {
    CheckSameShape(dy, x, name, "out_grad", "data");
    CheckSameDType(dy, x, name, "out_grad", "data");
  }
  if (ReadsOutput(op)) {
    CheckSameShape(dy, y, name, "out_grad", "out");
    CheckSameDType(dy, y, name, "out_grad", "out");
  }
  DispatchFloatHalf(dy.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* pdy = dy.data<T>();
    const T* px = ReadsInput(op) ? x.data<T>() : nullptr;
    const T* py = ReadsOutput(op) ? y.data<T>() : nullptr;
    T* pdx = dx.data<T>();
    Switch(op, [&](auto k) {
      constexpr UnaryOp kOp = decltype(k)::value;
      Map(dy.size(), Costly(kOp) ? kCostlyGrain : kCheapGrain, pdx, req, [&](int64_t i) {
        const A xi = ReadsInput(kOp) ? A(px[i]) : A(0);
        const A yi = ReadsOutput(kOp) ? A(py[i]) : A(0);
        return A(pdy[i]) * UnaryDerivative<kOp>(xi, yi);
      });
    });
  });
}

void BinaryForward(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out,
                   OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = ToString(op);
  CheckSameShape(a, b, name, "lhs", "rhs");
  CheckSameShape(a, out, name, "lhs", "out");
  CheckFloatOperands(name, a, {{&b, "rhs"}, {&out, "out"}});
  DispatchFloatHalf(a.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    Switch(op, [&](auto k) {
      constexpr BinaryOp kOp = decltype(k)::value;
      Map(a.size(), Costly(kOp) ? kCostlyGrain : kCheapGrain, out.data<T>(), req,
          [&](int64_t i) { return BinaryValue<kOp>(A(pa[i]), A(pb[i])); });
    });
  });
}

void BinaryBackward(BinaryOp op, const TensorView& dy, const TensorView& a, const TensorView& b,
                    const TensorView& da, OpReq a_req, const TensorView& db, OpReq b_req) {
  const char* name = ToString(op);
  CheckSameShape(a, b, name, "lhs", "rhs");
  CheckSameShape(a, dy, name, "lhs", "out_grad");
  CheckFloatOperands(name, a, {{&b, "rhs"}, {&dy, "out_grad"}});
  if (a_req != OpReq::kNull) CheckSameShape(a, da, name, "lhs", "lhs_grad");
  if (b_req != OpReq::kNull) CheckSameShape(a, db, name, "lhs", "rhs_grad");
  DispatchFloatHalf(a.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* pdy = dy.data<T>();
    Switch(op, [&](auto k) {
      constexpr BinaryOp kOp = decltype(k)::value;
      const int64_t grain = Costly(kOp) ? kCostlyGrain : kCheapGrain;
      if (a_req != OpReq::kNull) {
        Map(a.size(), grain, da.data<T>(), a_req,
            [&](int64_t i) { return A(pdy[i]) * BinaryDerivativeA<kOp>(A(pa[i]), A(pb[i])); });
      }
      if (b_req != OpReq::kNull) {
        Map(a.size(), grain, db.data<T>(), b_req,
            [&](int64_t i) { return A(pdy[i]) * BinaryDerivativeB<kOp>(A(pa[i]), A(pb[i])); });
      }
    });
  });
}

void BroadcastForward(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out,
                      OpReq req) {
  if (req == OpReq::kNull) return;
  if (a.shape == b.shape && a.shape == out.shape) return BinaryForward(op, a, b, out, req);
  const char* name = ToString(op);
  CheckFloatOperands(name, a, {{&b, "rhs"}, {&out, "out"}});
  const Walk walk(out.shape, {&a.shape, &b.shape}, name);
  DispatchFloatHalf(a.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    Switch(op, [&](auto k) {
      constexpr BinaryOp kOp = decltype(k)::value;
      BroadcastMap(walk, a.data<T>(), b.data<T>(), out.data<T>(), req,
                   Costly(kOp) ? kCostlyGrain : kCheapGrain,
                   [](A x, A y) { return BinaryValue<kOp>(x, y); });
    });
  });
}

void BroadcastBackward(BinaryOp op, const TensorView& dy, const TensorView& a, const TensorView& b,
                       const TensorView& da, OpReq a_req, const TensorView& db, OpReq b_req) {
  if (a.shape == b.shape && a.shape == dy.shape) {
    return BinaryBackward(op, dy, a, b, da, a_req, db, b_req);
  }
  const char* name = ToString(op);
  CheckFloatOperands(name, a, {{&b, "rhs"}, {&dy, "out_grad"}});
  if (a_req != OpReq::kNull) CheckSameShape(a, da, name, "lhs", "lhs_grad");
  if (b_req != OpReq::kNull) CheckSameShape(b, db, name, "rhs", "rhs_grad");
  const Walk walk(dy.shape, {&a.shape, &b.shape}, name);
  DispatchFloatHalf(a.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    // The gradient at full size, then summed back over the broadcast axes.
    std::vector<T> full;
    auto through_full = [&](const TensorView& grad, OpReq req, auto derivative) {
      if (req == OpReq::kNull) return;
      full.resize(static_cast<size_t>(dy.size()));
      const T* pdy = dy.data<T>();
      BroadcastMap(walk, a.data<T>(), b.data<T>(), full.data(), OpReq::kWriteTo, kCostlyGrain,
                   derivative);
      Map(dy.size(), kCheapGrain, full.data(), OpReq::kWriteTo,
          [&](int64_t i) { return A(full[i]) * A(pdy[i]); });
      TensorView full_view = dy;
      full_view.ptr = full.data();
      SumToShape(full_view, grad, req);
    };
    Switch(op, [&](auto k) {
      constexpr BinaryOp kOp = decltype(k)::value;
      if constexpr (kOp == BinaryOp::kAdd || kOp == BinaryOp::kSub) {
        if (a_req != OpReq::kNull) SumToShape(dy, da, a_req);
      } else {
        through_full(da, a_req, [](A x, A y) { return BinaryDerivativeA<kOp>(x, y); });
      }
      if constexpr (kOp == BinaryOp::kAdd) {
        if (b_req != OpReq::kNull) SumToShape(dy, db, b_req);
      } else {
        through_full(db, b_req, [](A x, A y) { return BinaryDerivativeB<kOp>(x, y); });
      }
    });
  });
}

void ScalarForward(ScalarOp op, const TensorView& x, double scalar, const TensorView& y,
                   OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = ToString(op);
  CheckSameShape(x, y, name, "data", "out");
  CheckSameDType(x, y, name, "data", "out");
  DispatchFloatHalf(x.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    const A s = static_cast<A>(scalar);
    Switch(op, [&](auto k) {
      constexpr ScalarOp kOp = decltype(k)::value;
      Map(x.size(), Costly(kOp) ? kCostlyGrain : kCheapGrain, y.data<T>(), req,
          [&](int64_t i) { return ScalarValue<kOp>(A(px[i]), s); });
    });
  });
}

void ScalarBackward(ScalarOp op, const TensorView& dy, const TensorView& x, double scalar,
                    const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = ToString(op);
  CheckSameShape(x, dy, name, "data", "out_grad");
  CheckSameShape(x, dx, name, "data", "data_grad");
  CheckFloatOperands(name, x, {{&dy, "out_grad"}, {&dx, "data_grad"}});
  DispatchFloatHalf(x.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    const T* pdy = dy.data<T>();
    const A s = static_cast<A>(scalar);
    Switch(op, [&](auto k) {
      constexpr ScalarOp kOp = decltype(k)::value;
      Map(x.size(), Costly(kOp) ? kCostlyGrain : kCheapGrain, dx.data<T>(), req,
          [&](int64_t i) { return A(pdy[i]) * ScalarDerivative<kOp>(A(px[i]), s); });
    });
  });
}

void ClipForward(const TensorView& x, double a_min, double a_max, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(x, y, "clip", "data", "out");
  CheckSameDType(x, y, "clip", "data", "out");
  LOOM_CHECK(a_min <= a_max, "clip: expected a_min <= a_max but got ", a_min, " and ", a_max);
  DispatchFloatHalf(x.dtype, "clip", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    const A lo = static_cast<A>(a_min), hi = static_cast<A>(a_max);
    Map(x.size(), kCheapGrain, y.data<T>(), req, [&](int64_t i) {
      const A v = A(px[i]);
      return v < lo ? lo : (v > hi ? hi : v);
    });
  });
}

void ClipBackward(const TensorView& dy, const TensorView& x, double a_min, double a_max,
                  const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(x, dy, "clip", "data", "out_grad");
  CheckSameShape(x, dx, "clip", "data", "data_grad");
  CheckFloatOperands("clip", x, {{&dy, "out_grad"}, {&dx, "data_grad"}});
  DispatchFloatHalf(x.dtype, "clip", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    const T* pdy = dy.data<T>();
    const A lo = static_cast<A>(a_min), hi = static_cast<A>(a_max);
    Map(x.size(), kCheapGrain, dx.data<T>(), req, [&](int64_t i) {
      const A v = A(px[i]);
      return (v < lo || v > hi) ? A(0) : A(pdy[i]);
    });
  });
}

namespace {

// cond's element for output element i: the element itself, or the row's for a 1-D cond.
struct CondReader {
  const TensorView& cond;
  int64_t row_len;  // 1 when cond has x's shape
  std::vector<uint8_t> flags;
  CondReader(const TensorView& c, const TensorView& x) : cond(c), row_len(1) {
    if (!(c.shape == x.shape)) {
      LOOM_CHECK_TYPED(ShapeError,
                       c.shape.ndim() == 1 && x.shape.ndim() >= 1 && c.shape[0] == x.shape[0],
                       "where: expected condition of shape ", x.shape.ToString(), " or (",
                       x.shape.ndim() >= 1 ? x.shape[0] : 0, ",) but got ", c.shape.ToString());
      row_len = x.shape[0] == 0 ? 1 : x.size() / x.shape[0];
    }
    flags.resize(static_cast<size_t>(c.size()));
    DispatchAll(c.dtype, "where", [&]<typename C>(Tag<C>) {
      const C* p = c.data<C>();
      for (int64_t i = 0; i < c.size(); ++i) flags[i] = static_cast<AccT<C>>(p[i]) != AccT<C>(0);
    });
  }
  bool operator()(int64_t i) const { return flags[i / row_len] != 0; }
};

}  // namespace

void WhereForward(const TensorView& cond, const TensorView& x, const TensorView& y,
                  const TensorView& out, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(x, y, "where", "x", "y");
  CheckSameShape(x, out, "where", "x", "out");
  CheckFloatOperands("where", x, {{&y, "y"}, {&out, "out"}});
  const CondReader pick(cond, x);
  DispatchFloatHalf(x.dtype, "where", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    Map(x.size(), kCheapGrain, out.data<T>(), req,
        [&](int64_t i) { return pick(i) ? A(px[i]) : A(py[i]); });
  });
}

void WhereBackward(const TensorView& dout, const TensorView& cond, const TensorView& dx,
                   OpReq x_req, const TensorView& dy, OpReq y_req) {
  const CondReader pick(cond, dout);
  if (x_req != OpReq::kNull) CheckSameShape(dout, dx, "where", "out_grad", "x_grad");
  if (y_req != OpReq::kNull) CheckSameShape(dout, dy, "where", "out_grad", "y_grad");
  DispatchFloatHalf(dout.dtype, "where", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* g = dout.data<T>();
    if (x_req != OpReq::kNull) {
      Map(dout.size(), kCheapGrain, dx.data<T>(), x_req,
          [&](int64_t i) { return pick(i) ? A(g[i]) : A(0); });
    }
    if (y_req != OpReq::kNull) {
      Map(dout.size(), kCheapGrain, dy.data<T>(), y_req,
          [&](int64_t i) { return pick(i) ? A(0) : A(g[i]); });
    }
  });
}

}  // namespace loom::cpu
