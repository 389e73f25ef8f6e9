// Consistency cases of the tensor operators (consistency.h): elementwise unary, binary, scalar
// and broadcast arithmetic, add_n, reductions, dot, shape and data-movement operators, creation,
// Cast and where. References come from operators/cpu/reference/ or are written out here from the
// definitions (index arithmetic from coordinates); slices are given by hand as (begin, step,
// count) per axis rather than resolved by the kernel library.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "consistency.h"
#include "operators/cpu/reference/elementwise.h"
#include "operators/cpu/reference/misc.h"
#include "operators/cpu/reference/tensor_misc.h"

namespace loom::consistency {
namespace {

namespace ref = cpu::reference;
using cpu::BinaryOp;
using cpu::ReduceOp;
using cpu::ScalarOp;
using cpu::UnaryOp;

using NamedInputs = std::vector<std::pair<std::string, Symbol>>;

Symbol Var(const char* name) { return Symbol::Variable(name); }

// Operator `op` on named inputs with string parameters.
Symbol Op(const std::string& op, const NamedInputs& inputs, const StrMap& params = {}) {
  OpCall call = Symbol::Op(op);
  for (const auto& [name, s] : inputs) call.Input(name, s);
  for (const auto& [k, v] : params) call.Param(k, v);
  return call.Name("op").Build();
}

// Operator `op` on positional inputs (variadic operators).
Symbol OpN(const std::string& op, const std::vector<Symbol>& inputs, const StrMap& params = {}) {
  OpCall call = Symbol::Op(op);
  call.Inputs(inputs);
  for (const auto& [k, v] : params) call.Param(k, v);
  return call.Name("op").Build();
}

std::vector<double> Map(const std::vector<double>& x, const std::function<double(double)>& f) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
  return y;
}

// Pushes b away from a where |a - b| < gap (kinks of maximum / minimum).
void SeparateFrom(const std::vector<double>& a, std::vector<double>& b, double gap) {
  for (size_t i = 0; i < b.size(); ++i) {
    if (std::abs(a[i] - b[i]) < gap) b[i] = a[i] + (b[i] >= a[i] ? gap : -gap);
  }
}

// Pushes every value at least `gap` away from `point`.
void AwayFrom(std::vector<double>& x, double point, double gap) {
  for (double& v : x) {
    if (std::abs(v - point) < gap) v = point + (v >= point ? gap : -gap);
  }
}

// The numpy broadcast shape of a and b.
Shape BroadcastOf(const Shape& a, const Shape& b) {
  const int n = std::max(a.ndim(), b.ndim());
  std::vector<int64_t> out(n);
  for (int i = 0; i < n; ++i) {
    const int64_t da = i >= n - a.ndim() ? a[i - (n - a.ndim())] : 1;
    const int64_t db = i >= n - b.ndim() ? b[i - (n - b.ndim())] : 1;
    out[i] = std::max(da, db);
  }
  return Shape(out);
}

// Axes reduced by MXNet's (axis, exclude) for data of ndim dimensions, sorted.
std::vector<int> Reduced(int ndim, const std::vector<int>& axis, bool exclude) {
  std::vector<int> out;
  for (int d = 0; d < ndim; ++d) {
    const bool listed = std::find_if(axis.begin(), axis.end(),
                                     [&](int a) { return (a + ndim) % ndim == d; }) != axis.end();
    if (axis.empty() || listed != exclude) out.push_back(d);
  }
  return out;
}

std::string AxisParam(const std::vector<int>& axis) {
  std::string s = "(";
  for (size_t i = 0; i < axis.size(); ++i) s += (i ? ", " : "") + std::to_string(axis[i]);
  return s + (axis.size() == 1 ? ",)" : ")");
}

// ---- unary ----------------------------------------------------------------------------------

struct UnaryCase {
  const char* op;
  std::function<double(double)> f;
  InputSpec x;
};

std::vector<UnaryCase> UnaryCases() {
  auto with = [](UnaryOp op) { return [op](double v) { return ref::Unary(op, v); }; };
  const InputSpec positive{.lo = 0.2, .hi = 2.0};
  const InputSpec kinked{.min_abs = 0.05};
  return {
      {"exp", with(UnaryOp::kExp), {}},
      {"log", with(UnaryOp::kLog), positive},
      {"sqrt", with(UnaryOp::kSqrt), positive},
      {"rsqrt", with(UnaryOp::kRsqrt), positive},
      {"square", with(UnaryOp::kSquare), {}},
      {"tanh", with(UnaryOp::kTanh), {.lo = -2, .hi = 2}},
      {"sigmoid", with(UnaryOp::kSigmoid), {.lo = -3, .hi = 3}},
      {"relu", with(UnaryOp::kRelu), kinked},
      {"abs", with(UnaryOp::kAbs), kinked},
      {"negative", with(UnaryOp::kNegative), {}},
      {"sin", [](double v) { return std::sin(v); }, {.lo = -3, .hi = 3}},
      {"_copy", [](double v) { return v; }, {}},
      {"zeros_like", [](double) { return 0.0; }, {}},
      {"ones_like", [](double) { return 1.0; }, {}},
  };
}

LOOM_CONSISTENCY_CASES(unary) {
  for (const UnaryCase& u : UnaryCases()) {
    for (const Shape& shape : {Shape{5}, Shape{2, 3, 4}}) {
      const std::string op = u.op;
      const auto f = u.f;
      cases.Add({
          .name = op + "_" + ShapeName(shape),
          .symbol =
              [op] {
                return Op(op, {{"data", Var("x")}});
              },
          .shapes = {{"x", shape}},
          .inputs = {{"x", u.x}},
          .reference = [f](const HostArrays& in) { return Outputs{Map(in.at("x").values, f)}; },
      });
    }
  }
  // BlockGrad: the identity forward, a zero gradient whatever the head gradient.
  cases.Add({
      .name = "BlockGrad_2x3",
      .symbol =
          [] {
            return Op("BlockGrad", {{"data", Var("x")}});
          },
      .shapes = {{"x", Shape{2, 3}}},
      .reference = [](const HostArrays& in) { return Outputs{in.at("x").values}; },
      .grad_reference =
          [](const HostArrays& in, const Outputs&) {
            return HostArrays{{"x", {in.at("x").shape, std::vector<double>(6, 0.0)}}};
          },
  });
  // BlockGrad inside a graph: only the other path carries a gradient.
  cases.Add({
      .name = "BlockGrad_in_sum_3x2",
      .symbol =
          [] {
            Symbol x = Var("x");
            return Op("elemwise_add",
                      {{"lhs", Op("stop_gradient", {{"data", x}})}, {"rhs", x * x}});
          },
      .shapes = {{"x", Shape{3, 2}}},
      .reference =
          [](const HostArrays& in) {
            return Outputs{Map(in.at("x").values, [](double v) { return v + v * v; })};
          },
      .grad_reference =
          [](const HostArrays& in, const Outputs& head) {
            std::vector<double> g(6);
            for (size_t i = 0; i < 6; ++i) g[i] = head[0][i] * 2 * in.at("x").values[i];
            return HostArrays{{"x", {in.at("x").shape, g}}};
          },
  });
  cases.Add({
      .name = "clip_3x4",
      .symbol =
          [] {
            return Op("clip", {{"data", Var("x")}}, {{"a_min", "-0.5"}, {"a_max", "0.5"}});
          },
      .shapes = {{"x", Shape{3, 4}}},
      .reference =
          [](const HostArrays& in) {
            return Outputs{
                Map(in.at("x").values, [](double v) { return std::min(std::max(v, -0.5), 0.5); })};
          },
      .adjust =
          [](HostArrays& in, std::mt19937_64&) {
            AwayFrom(in["x"].values, -0.5, 0.05);
            AwayFrom(in["x"].values, 0.5, 0.05);
          },
  });
  cases.Add({
      .name = "identity_with_attr_like_rhs_2x3",
      .symbol =
          [] {
            return Op("_identity_with_attr_like_rhs", {{"lhs", Var("a")}, {"rhs", Var("b")}});
          },
      .shapes = {{"a", Shape{2, 3}}, {"b", Shape{2, 3}}},
      .reference = [](const HostArrays& in) { return Outputs{in.at("a").values}; },
  });
}

// ---- binary, scalar, broadcast ----------------------------------------------------------------

struct BinaryCase {
  const char* elemwise;   // same-shape operator
  const char* broadcast;  // broadcast_ operator
  BinaryOp op;
  InputSpec lhs, rhs;
  double separate = 0;  // keep |lhs - rhs| at least this (maximum / minimum)
};

std::vector<BinaryCase> BinaryCases() {
  const InputSpec nonzero{.min_abs = 0.3};
  const InputSpec positive{.lo = 0.5, .hi = 2.0};
  return {
      {"elemwise_add", "broadcast_add", BinaryOp::kAdd, {}, {}},
      {"elemwise_sub", "broadcast_sub", BinaryOp::kSub, {}, {}},
      {"elemwise_mul", "broadcast_mul", BinaryOp::kMul, {}, {}},
      {"elemwise_div", "broadcast_div", BinaryOp::kDiv, {}, nonzero},
      {"_maximum", "broadcast_maximum", BinaryOp::kMaximum, {}, {}, 0.05},
      {"_minimum", "broadcast_minimum", BinaryOp::kMinimum, {}, {}, 0.05},
      {"_power", "broadcast_power", BinaryOp::kPower, positive, {.lo = -1.5, .hi = 1.5}},
  };
}

LOOM_CONSISTENCY_CASES(binary) {
  for (const BinaryCase& b : BinaryCases()) {
    const BinaryOp op = b.op;
    const double gap = b.separate;
    auto adjust = [gap](HostArrays& in, std::mt19937_64&) {
      if (gap > 0) SeparateFrom(in["a"].values, in["b"].values, gap);
    };
    for (const Shape& shape : {Shape{7}, Shape{2, 3, 2}}) {
      const std::string name = b.elemwise;
      cases.Add({
          .name = name + "_" + ShapeName(shape),
          .symbol =
              [name] {
                return Op(name, {{"lhs", Var("a")}, {"rhs", Var("b")}});
              },
          .shapes = {{"a", shape}, {"b", shape}},
          .inputs = {{"a", b.lhs}, {"b", b.rhs}},
          .reference =
              [op](const HostArrays& in) {
                const auto& a = in.at("a").values;
                const auto& c = in.at("b").values;
                std::vector<double> y(a.size());
                for (size_t i = 0; i < a.size(); ++i) y[i] = ref::Binary(op, a[i], c[i]);
                return Outputs{y};
              },
          .adjust = adjust,
      });
    }
    const std::vector<std::pair<Shape, Shape>> pairs = {
        {Shape{2, 3, 4}, Shape{1, 3, 1}}, {Shape{3, 1}, Shape{1, 4}}, {Shape{4}, Shape{2, 3, 4}}};
    for (const auto& [as, bs] : pairs) {
      const std::string name = b.broadcast;
      const Shape full = BroadcastOf(as, bs);
      cases.Add({
          .name = name + "_" + ShapeName(as) + "_" + ShapeName(bs),
          .symbol =
              [name] {
                return Op(name, {{"lhs", Var("a")}, {"rhs", Var("b")}});
              },
          .shapes = {{"a", as}, {"b", bs}},
          .inputs = {{"a", b.lhs}, {"b", b.rhs}},
          .reference =
              [op, as, bs, full](const HostArrays& in) {
                std::vector<double> y(static_cast<size_t>(full.Size()));
                ref::BroadcastBinary(op, as, bs, full, in.at("a").values.data(),
                                     in.at("b").values.data(), y.data());
                return Outputs{y};
              },
          // Broadcast operands meet many partners: separate through the full shape.
          .adjust =
              [gap, as, bs, full](HostArrays& in, std::mt19937_64&) {
                if (gap == 0) return;
                auto& a = in["a"].values;
                auto& c = in["b"].values;
                for (int64_t i = 0; i < full.Size(); ++i) {
                  double& bv = c[ref::BroadcastIndex(full, bs, i)];
                  const double av = a[ref::BroadcastIndex(full, as, i)];
                  if (std::abs(av - bv) < gap) bv = av + (bv >= av ? gap : -gap);
                }
                for (int64_t i = 0; i < full.Size(); ++i) {
                  const double av = a[ref::BroadcastIndex(full, as, i)];
                  const double bv = c[ref::BroadcastIndex(full, bs, i)];
                  if (std::abs(av - bv) < gap / 2) a[ref::BroadcastIndex(full, as, i)] += 3 * gap;
                }
              },
          .fwd32 = {1e-5, 1e-6},
          .grad = {1e-5, 1e-6},
      });
    }
  }
  cases.Add({
      .name = "add_n_3_inputs_2x3",
      .symbol =
          [] {
            return OpN("add_n", {Var("a"), Var("b"), Var("c")});
          },
      .shapes = {{"a", Shape{2, 3}}, {"b", Shape{2, 3}}, {"c", Shape{2, 3}}},
      .reference =
          [](const HostArrays& in) {
            std::vector<double> y(6);
            for (size_t i = 0; i < 6; ++i) {
              y[i] = in.at("a").values[i] + in.at("b").values[i] + in.at("c").values[i];
            }
            return Outputs{y};
          },
  });
  // One input used twice: its gradient is the sum of both paths (a _grad_sum node).
  cases.Add({
      .name = "add_n_repeated_input_4",
      .symbol =
          [] {
            Symbol a = Var("a");
            return OpN("ElementWiseSum", {a, a, Var("b")});
          },
      .shapes = {{"a", Shape{4}}, {"b", Shape{4}}},
      .reference =
          [](const HostArrays& in) {
            std::vector<double> y(4);
            for (size_t i = 0; i < 4; ++i) y[i] = 2 * in.at("a").values[i] + in.at("b").values[i];
            return Outputs{y};
          },
  });
}

struct ScalarCase {
  const char* op;
  ScalarOp code;
  double scalar;
  InputSpec x;
  double avoid = std::numeric_limits<double>::quiet_NaN();  // keep x away from this value
};

LOOM_CONSISTENCY_CASES(scalar) {
  const std::vector<ScalarCase> all = {
      {"_plus_scalar", ScalarOp::kPlus, 1.5, {}},
      {"_minus_scalar", ScalarOp::kMinus, 0.75, {}},
      {"_rminus_scalar", ScalarOp::kRMinus, 2.0, {}},
      {"_mul_scalar", ScalarOp::kMul, -3.0, {}},
      {"_div_scalar", ScalarOp::kDiv, 4.0, {}},
      {"_rdiv_scalar", ScalarOp::kRDiv, 2.5, {.min_abs = 0.3}},
      {"_power_scalar", ScalarOp::kPower, 2.5, {.lo = 0.5, .hi = 2.0}},
      {"_rpower_scalar", ScalarOp::kRPower, 1.7, {}},
      {"_maximum_scalar", ScalarOp::kMaximum, 0.25, {}, 0.25},
      {"_minimum_scalar", ScalarOp::kMinimum, -0.25, {}, -0.25},
  };
  for (const ScalarCase& s : all) {
    const std::string op = s.op;
    const ScalarOp code = s.code;
    const double scalar = s.scalar;
    const double avoid = s.avoid;
    cases.Add({
        .name = op + "_2x5",
        .symbol =
            [op, scalar] {
              return Op(op, {{"data", Var("x")}}, {{"scalar", FormatParam(scalar)}});
            },
        .shapes = {{"x", Shape{2, 5}}},
        .inputs = {{"x", s.x}},
        .reference =
            [code, scalar](const HostArrays& in) {
              return Outputs{
                  Map(in.at("x").values, [&](double v) { return ref::Scalar(code, v, scalar); })};
            },
        .adjust =
            [avoid](HostArrays& in, std::mt19937_64&) {
              if (!std::isnan(avoid)) AwayFrom(in["x"].values, avoid, 0.05);
            },
    });
  }
  // The symbol operators create these (x * 2 + 1, 1 - x, 2 / x).
  cases.Add({
      .name = "symbol_arithmetic_3x3",
      .symbol =
          [] {
            Symbol x = Var("x");
            return (x * 2 + 1) - 3.0 / x + (1 - x) / 4;
          },
      .shapes = {{"x", Shape{3, 3}}},
      .inputs = {{"x", {.min_abs = 0.3}}},
      .reference =
          [](const HostArrays& in) {
            return Outputs{Map(in.at("x").values,
                               [](double v) { return (v * 2 + 1) - 3.0 / v + (1 - v) / 4; })};
          },
  });
}

// ---- reductions -----------------------------------------------------------------------------

struct ReduceConfig {
  std::vector<int> axis;  // empty: every axis (the parameter is left out)
  bool keepdims = false;
  bool exclude = false;
  std::string Name() const {
    std::string s = axis.empty() ? "all" : "axis";
    for (int a : axis) s += std::to_string(a < 0 ? a + 10 : a);
    if (keepdims) s += "_keepdims";
    if (exclude) s += "_exclude";
    return s;
  }
};

LOOM_CONSISTENCY_CASES(reduce) {
  const Shape xs{2, 3, 4};
  const std::vector<ReduceConfig> configs = {{}, {{1}}, {{0, 2}, true}, {{-1}}, {{1}, false, true}};
  const std::vector<std::pair<const char*, ReduceOp>> ops = {{"sum", ReduceOp::kSum},
                                                             {"mean", ReduceOp::kMean},
                                                             {"max", ReduceOp::kMax},
                                                             {"min", ReduceOp::kMin},
                                                             {"prod", ReduceOp::kProd}};
  for (const auto& [name, code] : ops) {
    for (const ReduceConfig& rc : configs) {
      StrMap params;
      if (!rc.axis.empty()) params["axis"] = AxisParam(rc.axis);
      if (rc.keepdims) params["keepdims"] = "True";
      if (rc.exclude) params["exclude"] = "True";
      const std::string op = name;
      const ReduceOp c = code;
      const std::vector<int> axes = Reduced(xs.ndim(), rc.axis, rc.exclude);
      cases.Add({
          .name = op + "_" + rc.Name(),
          .symbol =
              [op, params] {
                return Op(op, {{"data", Var("x")}}, params);
              },
          .shapes = {{"x", xs}},
          // prod's gradient divides by x: keep it away from 0.
          .inputs = {{"x", c == ReduceOp::kProd ? InputSpec{.lo = 0.5, .hi = 1.5} : InputSpec{}}},
          .reference =
              [c, xs, axes](const HostArrays& in) {
                Shape kept = xs;
                for (int a : axes) kept[a] = 1;
                std::vector<double> y(static_cast<size_t>(kept.Size()));
                ref::Reduce(c, xs, axes, in.at("x").values.data(), y.data());
                return Outputs{y};
              },
          .fwd32 = {1e-5, 1e-5},
      });
    }
  }
  // nansum / nanprod with NaNs planted: they count as 0 / 1 and get a zero gradient.
  for (const bool prod : {false, true}) {
    for (const ReduceConfig& rc : {ReduceConfig{}, ReduceConfig{{1}}}) {
      StrMap params;
      if (!rc.axis.empty()) params["axis"] = AxisParam(rc.axis);
      const std::string op = prod ? "nanprod" : "nansum";
      const std::vector<int> axes = Reduced(xs.ndim(), rc.axis, false);
      cases.Add({
          .name = op + "_" + rc.Name(),
          .symbol =
              [op, params] {
                return Op(op, {{"data", Var("x")}}, params);
              },
          .shapes = {{"x", xs}},
          .inputs = {{"x", prod ? InputSpec{.lo = 0.5, .hi = 1.5} : InputSpec{}}},
          .reference =
              [prod, xs, axes](const HostArrays& in) {
                return Outputs{ref::NanReduce(prod, xs, axes, in.at("x").values)};
              },
          .adjust =
              [](HostArrays& in, std::mt19937_64&) {
                for (size_t i : {1, 7, 18}) in["x"].values[i] = std::nan("");
              },
          .fwd32 = {1e-5, 1e-5},
      });
    }
  }
  // argmax / argmin: first extreme index along the axis (or of the flattened data), as the
  // data's dtype; a zero gradient.
  for (const bool is_max : {true, false}) {
    for (const int axis : {-1, 1, 2}) {
      for (const bool keepdims : {false, true}) {
        if (axis == -1 && keepdims) continue;
        const std::string op = is_max ? "argmax" : "argmin";
        StrMap params;
        if (axis >= 0) params["axis"] = std::to_string(axis);
        if (keepdims) params["keepdims"] = "True";
        cases.Add({
            .name = op + (axis < 0 ? "_flat" : "_axis" + std::to_string(axis)) +
                    (keepdims ? "_keepdims" : ""),
            .symbol =
                [op, params] {
                  return Op(op, {{"data", Var("x")}}, params);
                },
            .shapes = {{"x", xs}},
            .reference =
                [is_max, axis, xs](const HostArrays& in) {
                  const auto& x = in.at("x").values;
                  const int64_t n = axis < 0 ? xs.Size() : xs[axis];
                  int64_t inner = 1;
                  if (axis >= 0) {
                    for (int d = axis + 1; d < xs.ndim(); ++d) inner *= xs[d];
                  }
                  const int64_t outer = xs.Size() / (n * inner);
                  std::vector<double> y;
                  for (int64_t o = 0; o < outer; ++o) {
                    for (int64_t i = 0; i < inner; ++i) {
                      int64_t best = 0;
                      for (int64_t k = 1; k < n; ++k) {
                        const double v = x[(o * n + k) * inner + i];
                        const double b = x[(o * n + best) * inner + i];
                        if (is_max ? v > b : v < b) best = k;
                      }
                      y.push_back(static_cast<double>(best));
                    }
                  }
                  return Outputs{y};
                },
        });
      }
    }
  }
}

// ---- dot, batch_dot ---------------------------------------------------------------------------

LOOM_CONSISTENCY_CASES(dot) {
  struct DotCase {
    const char* name;
    Shape a, b;
    bool ta = false, tb = false;
    int64_t m, n, k;  // out (m, n) = op(a) (m, k) . op(b) (k, n)
  };
  const std::vector<DotCase> all = {
      {"2d", {3, 4}, {4, 5}, false, false, 3, 5, 4},
      {"transpose_a", {4, 3}, {4, 5}, true, false, 3, 5, 4},
      {"transpose_b", {3, 4}, {5, 4}, false, true, 3, 5, 4},
      {"transpose_both", {4, 3}, {5, 4}, true, true, 3, 5, 4},
      {"vectors", {6}, {6}, false, false, 1, 1, 6},
      {"matrix_vector", {3, 4}, {4}, false, false, 3, 1, 4},
      {"vector_matrix", {4}, {4, 2}, false, false, 1, 2, 4},
      {"3d_2d", {2, 3, 4}, {4, 5}, false, false, 6, 5, 4},
      {"2d_3d", {3, 4}, {4, 2, 2}, false, false, 3, 4, 4},
  };
  for (const DotCase& d : all) {
    StrMap params;
    if (d.ta) params["transpose_a"] = "True";
    if (d.tb) params["transpose_b"] = "True";
    const DotCase dc = d;
    cases.Add({
        .name = std::string("dot_") + d.name,
        .symbol =
            [params] {
              return Op("dot", {{"lhs", Var("a")}, {"rhs", Var("b")}}, params);
            },
        .shapes = {{"a", d.a}, {"b", d.b}},
        .reference =
            [dc](const HostArrays& in) {
              return Outputs{ref::MatMul(in.at("a").values, in.at("b").values, dc.m, dc.n, dc.k,
                                         dc.ta, dc.tb)};
            },
        .fwd32 = {1e-5, 1e-5},
    });
  }
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      const int64_t batch = 2, m = 3, n = 2, k = 4;
      const Shape as = ta ? Shape{batch, k, m} : Shape{batch, m, k};
      const Shape bs = tb ? Shape{batch, n, k} : Shape{batch, k, n};
      StrMap params{{"transpose_a", ta ? "True" : "False"}, {"transpose_b", tb ? "True" : "False"}};
      cases.Add({
          .name = std::string("batch_dot") + (ta ? "_ta" : "") + (tb ? "_tb" : ""),
          .symbol =
              [params] {
                return Op("batch_dot", {{"lhs", Var("a")}, {"rhs", Var("b")}}, params);
              },
          .shapes = {{"a", as}, {"b", bs}},
          .reference =
              [=](const HostArrays& in) {
                std::vector<double> y;
                for (int64_t i = 0; i < batch; ++i) {
                  const auto& av = in.at("a").values;
                  const auto& bv = in.at("b").values;
                  const std::vector<double> a(av.begin() + i * m * k, av.begin() + (i + 1) * m * k);
                  const std::vector<double> b(bv.begin() + i * k * n, bv.begin() + (i + 1) * k * n);
                  const auto c = ref::MatMul(a, b, m, n, k, ta, tb);
                  y.insert(y.end(), c.begin(), c.end());
                }
                return Outputs{y};
              },
          .fwd32 = {1e-5, 1e-5},
      });
    }
  }
}

// ---- shape operators --------------------------------------------------------------------------

// The identity on the values: the case checks the output's shape instead.
Outputs SameValues(const HostArrays& in) { return Outputs{in.at("x").values}; }

LOOM_CONSISTENCY_CASES(shape) {
  struct ReshapeCase {
    const char* name;
    Shape data;
    const char* shape;
    bool reverse;
  };
  // MXNet's documented Reshape examples (mxnet-facts §9).
  const std::vector<ReshapeCase> reshapes = {
      {"copy_dim", {2, 3, 4}, "(4, 0, 2)", false},
      {"infer", {2, 3, 4}, "(6, 1, -1)", false},
      {"flat", {2, 3, 4}, "(-1,)", false},
      {"rest", {2, 3, 4}, "(-2, 1, 1)", false},
      {"merge", {2, 3, 4}, "(-3, 4)", false},
      {"merge_twice", {2, 3, 4, 5}, "(-3, -3)", false},
      {"split", {2, 3, 4}, "(-4, 1, 2, -2)", false},
      {"copy_infer", {10, 5, 4}, "(-1, 0)", false},
      {"copy_infer_reverse", {10, 5, 4}, "(-1, 0)", true},
  };
  for (const ReshapeCase& r : reshapes) {
    StrMap params{{"shape", r.shape}};
    if (r.reverse) params["reverse"] = "True";
    cases.Add({
        .name = std::string("Reshape_") + r.name,
        .symbol =
            [params] {
              return Op("Reshape", {{"data", Var("x")}}, params);
            },
        .shapes = {{"x", r.data}},
        .reference = SameValues,
    });
  }
  cases.Add({
      .name = "Flatten_2x3x4",
      .symbol =
          [] {
            return Op("Flatten", {{"data", Var("x")}});
          },
      .shapes = {{"x", Shape{2, 3, 4}}},
      .reference = SameValues,
  });
  cases.Add({
      .name = "expand_dims_axis1",
      .symbol =
          [] {
            return Op("expand_dims", {{"data", Var("x")}}, {{"axis", "1"}});
          },
      .shapes = {{"x", Shape{2, 3}}},
      .reference = SameValues,
  });
  cases.Add({
      .name = "squeeze_all",
      .symbol =
          [] {
            return Op("squeeze", {{"data", Var("x")}});
          },
      .shapes = {{"x", Shape{2, 1, 3, 1}}},
      .reference = SameValues,
  });
  cases.Add({
      .name = "squeeze_axis",
      .symbol =
          [] {
            return Op("squeeze", {{"data", Var("x")}}, {{"axis", "(3,)"}});
          },
      .shapes = {{"x", Shape{2, 1, 3, 1}}},
      .reference = SameValues,
  });
  // A reshape chain whose head gradient must come back through every step.
  cases.Add({
      .name = "Reshape_chain_in_place",
      .symbol =
          [] {
            Symbol r = Op("Reshape", {{"data", Var("x")}}, {{"shape", "(3, -1)"}});
            Symbol f = Op("Flatten", {{"data", Op("exp", {{"data", r}})}});
            return Op("expand_dims", {{"data", f}}, {{"axis", "0"}});
          },
      .shapes = {{"x", Shape{6, 2}}},
      .reference =
          [](const HostArrays& in) {
            return Outputs{Map(in.at("x").values, [](double v) { return std::exp(v); })};
          },
  });

  struct TransposeCase {
    const char* name;
    Shape data;
    std::vector<int> perm;
    StrMap params;
    const char* op;
  };
  const std::vector<TransposeCase> transposes = {
      {"transpose_default", {2, 3, 4}, {2, 1, 0}, {}, "transpose"},
      {"transpose_axes", {2, 3, 4}, {1, 0, 2}, {{"axes", "(1, 0, 2)"}}, "transpose"},
      {"transpose_4d", {2, 1, 3, 2}, {0, 3, 1, 2}, {{"axes", "(0, 3, 1, 2)"}}, "transpose"},
      {"SwapAxis_0_2", {2, 3, 4}, {2, 1, 0}, {{"dim1", "0"}, {"dim2", "2"}}, "SwapAxis"},
      {"SwapAxis_negative", {2, 3, 4}, {0, 2, 1}, {{"dim1", "-1"}, {"dim2", "1"}}, "SwapAxis"},
  };
  for (const TransposeCase& t : transposes) {
    const TransposeCase tc = t;
    cases.Add({
        .name = t.name,
        .symbol =
            [tc] {
              return Op(tc.op, {{"data", Var("x")}}, tc.params);
            },
        .shapes = {{"x", t.data}},
        .reference =
            [tc](const HostArrays& in) {
              return Outputs{ref::Transpose(in.at("x").values, tc.data, tc.perm)};
            },
    });
  }
}

// ---- data movement ----------------------------------------------------------------------------

// Concatenation of `parts` (shapes) along `axis`, from coordinates.
std::vector<double> ConcatRef(const std::vector<const HostTensor*>& parts, int axis) {
  std::vector<int64_t> od = parts[0]->shape.dims();
  od[axis] = 0;
  for (const HostTensor* p : parts) od[axis] += p->shape[axis];
  const Shape os(od);
  std::vector<double> y(static_cast<size_t>(os.Size()));
  for (int64_t i = 0; i < os.Size(); ++i) {
    std::vector<int64_t> c = ref::Coords(os, i);
    for (const HostTensor* p : parts) {
      if (c[axis] < p->shape[axis]) {
        y[i] = p->values[ref::Flat(p->shape, c)];
        break;
      }
      c[axis] -= p->shape[axis];
    }
  }
  return y;
}

LOOM_CONSISTENCY_CASES(movement) {
  for (const int dim : {0, 1, -1}) {
    const int axis = dim < 0 ? 1 : dim;
    const Shape a = axis == 0 ? Shape{2, 3} : Shape{3, 2};
    const Shape b = axis == 0 ? Shape{1, 3} : Shape{3, 1};
    const Shape c = axis == 0 ? Shape{3, 3} : Shape{3, 4};
    cases.Add({
        .name = dim < 0 ? std::string("Concat_dim_last") : "Concat_dim" + std::to_string(dim),
        .symbol =
            [dim] {
              return OpN("Concat", {Var("a"), Var("b"), Var("c")}, {{"dim", std::to_string(dim)}});
            },
        .shapes = {{"a", a}, {"b", b}, {"c", c}},
        .reference =
            [axis](const HostArrays& in) {
              return Outputs{ConcatRef({&in.at("a"), &in.at("b"), &in.at("c")}, axis)};
            },
    });
  }
  // SliceChannel: each output is one part of the axis (squeezed or not).
  struct SplitCase {
    const char* name;
    Shape data;
    int axis, parts;
    bool squeeze;
  };
  for (const SplitCase& s : std::vector<SplitCase>{{"axis1", {2, 6, 3}, 1, 3, false},
                                                   {"axis_last", {2, 4}, -1, 2, false},
                                                   {"squeeze", {2, 3}, 1, 3, true}}) {
    const SplitCase sc = s;
    StrMap params{{"num_outputs", std::to_string(s.parts)}, {"axis", std::to_string(s.axis)}};
    if (s.squeeze) params["squeeze_axis"] = "True";
    cases.Add({
        .name = std::string("SliceChannel_") + s.name,
        .symbol =
            [params] {
              return Op("SliceChannel", {{"data", Var("x")}}, params);
            },
        .shapes = {{"x", s.data}},
        .reference =
            [sc](const HostArrays& in) {
              const int axis = sc.axis < 0 ? sc.axis + sc.data.ndim() : sc.axis;
              const int64_t len = sc.data[axis] / sc.parts;
              Outputs outs(sc.parts);
              for (int64_t i = 0; i < sc.data.Size(); ++i) {
                const auto c = ref::Coords(sc.data, i);
                outs[c[axis] / len].push_back(in.at("x").values[i]);
              }
              return outs;
            },
    });
  }
  // Only some outputs of a split used: the others' gradients are zeros.
  cases.Add({
      .name = "SliceChannel_one_output_used",
      .symbol =
          [] {
            Symbol parts = Op("SliceChannel", {{"data", Var("x")}}, {{"num_outputs", "2"}});
            return Op("square", {{"data", parts[1]}});
          },
      .shapes = {{"x", Shape{2, 4}}},
      .reference =
          [](const HostArrays& in) {
            std::vector<double> y;
            for (int64_t r = 0; r < 2; ++r) {
              for (int64_t c = 2; c < 4; ++c) {
                const double v = in.at("x").values[r * 4 + c];
                y.push_back(v * v);
              }
            }
            return Outputs{y};
          },
  });

  // slice and slice_axis, with the expected (begin, step, count) per axis written out.
  struct SliceCase {
    const char* name;
    const char* op;
    Shape data;
    StrMap params;
    cpu::SliceSpec spec;
  };
  const std::vector<SliceCase> slices = {
      {"slice_leading",
       "slice",
       {3, 4, 5},
       {{"begin", "(0, 1)"}, {"end", "(2, 3)"}},
       {{0, 1, 0}, {1, 1, 1}, {2, 2, 5}}},
      {"slice_none_negative",
       "slice",
       {3, 4, 5},
       {{"begin", "(None, -3)"}, {"end", "(None, None)"}},
       {{0, 1, 0}, {1, 1, 1}, {3, 3, 5}}},
      {"slice_steps",
       "slice",
       {5, 4, 3},
       {{"begin", "(None, 3, 0)"}, {"end", "(None, 0, 3)"}, {"step", "(2, -1, 2)"}},
       {{0, 3, 0}, {2, -1, 2}, {3, 3, 2}}},
      {"crop_alias",
       "crop",
       {4, 3},
       {{"begin", "(1,)"}, {"end", "(-1,)"}},
       {{1, 0}, {1, 1}, {2, 3}}},
      {"slice_axis_middle",
       "slice_axis",
       {3, 4, 5},
       {{"axis", "1"}, {"begin", "1"}, {"end", "3"}},
       {{0, 1, 0}, {1, 1, 1}, {3, 2, 5}}},
      {"slice_axis_negative",
       "slice_axis",
       {3, 4, 5},
       {{"axis", "-1"}, {"begin", "-3"}, {"end", "None"}},
       {{0, 0, 2}, {1, 1, 1}, {3, 4, 3}}},
  };
  for (const SliceCase& s : slices) {
    const SliceCase sc = s;
    cases.Add({
        .name = s.name,
        .symbol =
            [sc] {
              return Op(sc.op, {{"data", Var("x")}}, sc.params);
            },
        .shapes = {{"x", s.data}},
        .reference =
            [sc](const HostArrays& in) {
              return Outputs{ref::Slice(in.at("x").values, sc.data, sc.spec)};
            },
    });
  }

  // Crop (float32 only, as in MXNet): a window of h_w at an offset, centred, or like a second
  // input. Its gradient is checked in float32 (a linear map, so the differences are exact up to
  // rounding).
  struct CropCase {
    const char* name;
    StrMap params;
    bool like;
    cpu::SliceSpec spec;
  };
  const Shape image{1, 2, 5, 6};
  for (const CropCase& c : std::vector<CropCase>{{"offset",
                                                  {{"h_w", "(3, 4)"}, {"offset", "(1, 2)"}},
                                                  false,
                                                  {{0, 0, 1, 2}, {1, 1, 1, 1}, {1, 2, 3, 4}}},
                                                 {"center",
                                                  {{"h_w", "(2, 3)"}, {"center_crop", "True"}},
                                                  false,
                                                  {{0, 0, 1, 1}, {1, 1, 1, 1}, {1, 2, 2, 3}}},
                                                 {"like",
                                                  {{"num_args", "2"}, {"offset", "(2, 1)"}},
                                                  true,
                                                  {{0, 0, 2, 1}, {1, 1, 1, 1}, {1, 2, 3, 3}}}}) {
    const CropCase cc = c;
    ShapeDict shapes{{"x", image}};
    if (c.like) shapes["like"] = Shape{1, 1, 3, 3};
    cases.Add({
        .name = std::string("Crop_") + c.name,
        .symbol =
            [cc] {
              std::vector<Symbol> in{Var("x")};
              if (cc.like) in.push_back(Var("like"));
              return OpN("Crop", in, cc.params);
            },
        .shapes = shapes,
        .inputs = {{"like", {.differentiable = false}}},
        .dtypes = {DType::kFloat32},
        .reference =
            [cc, image](const HostArrays& in) {
              return Outputs{ref::Slice(in.at("x").values, image, cc.spec)};
            },
        .grad_dtype = DType::kFloat32,
        .grad = {2e-3, 2e-3},
        .fd_eps = 1e-2,
    });
  }

  // Pad: constant, edge and reflect over the spatial axes of 4-D and 5-D data.
  struct PadCase {
    const char* name;
    cpu::PadMode mode;
    const char* mode_name;
    Shape data;
    std::vector<int64_t> width;
  };
  for (const PadCase& p : std::vector<PadCase>{
           {"constant",
            cpu::PadMode::kConstant,
            "constant",
            {1, 2, 3, 4},
            {0, 0, 0, 0, 1, 2, 2, 1}},
           {"edge", cpu::PadMode::kEdge, "edge", {2, 1, 3, 3}, {0, 0, 0, 0, 2, 1, 0, 3}},
           {"reflect", cpu::PadMode::kReflect, "reflect", {1, 2, 3, 4}, {0, 0, 0, 0, 2, 1, 3, 2}},
           {"constant_5d",
            cpu::PadMode::kConstant,
            "constant",
            {1, 1, 2, 2, 3},
            {0, 0, 0, 0, 1, 0, 0, 1, 1, 1}}}) {
    const PadCase pc = p;
    std::string width = "(";
    for (size_t i = 0; i < p.width.size(); ++i)
      width += (i ? ", " : "") + std::to_string(p.width[i]);
    width += ")";
    const StrMap params{{"mode", p.mode_name}, {"pad_width", width}, {"constant_value", "0.5"}};
    cases.Add({
        .name = std::string("Pad_") + p.name,
        .symbol =
            [params] {
              return Op("Pad", {{"data", Var("x")}}, params);
            },
        .shapes = {{"x", p.data}},
        .reference =
            [pc](const HostArrays& in) {
              return Outputs{ref::Pad(pc.mode, pc.width, 0.5, in.at("x").values, pc.data)};
            },
    });
  }
}

// ---- creation, Cast, where --------------------------------------------------------------------

LOOM_CONSISTENCY_CASES(creation) {
  for (const auto& [op, value] :
       std::vector<std::pair<std::string, double>>{{"_zeros", 0.0}, {"_ones", 1.0}}) {
    for (const char* dtype : {"float32", "float64", "int32"}) {
      const double v = value;
      const std::string o = op;
      cases.Add({
          .name = o + "_" + dtype,
          .symbol =
              [o, dtype] {
                return Symbol::Op(o)
                    .Param("shape", "(2, 3)")
                    .Param("dtype", dtype)
                    .Name("op")
                    .Build();
              },
          .dtypes = {DType::kFloat32},
          .reference = [v](const HostArrays&) { return Outputs{std::vector<double>(6, v)}; },
          .check_grad = false,
      });
    }
  }
  // Cast: values converted (float to int truncates toward zero); the gradient is the head
  // gradient converted back. The float32 input makes the differences exact in float64.
  cases.Add({
      .name = "Cast_float32_to_float64",
      .symbol =
          [] {
            return Op("Cast", {{"data", Var("x")}}, {{"dtype", "float64"}});
          },
      .shapes = {{"x", Shape{2, 4}}},
      .inputs = {{"x", {.dtype = DType::kFloat32}}},
      .dtypes = {DType::kFloat64},
      .reference = [](const HostArrays& in) { return Outputs{in.at("x").values}; },
      .grad = {1e-5, 1e-6},
      .fd_eps = 1e-2,
  });
  cases.Add({
      .name = "Cast_float64_to_float32",
      .symbol =
          [] {
            return Op("Cast", {{"data", Var("x")}}, {{"dtype", "float32"}});
          },
      .shapes = {{"x", Shape{3, 2}}},
      .reference =
          [](const HostArrays& in) {
            return Outputs{Map(in.at("x").values, [](double v) {
              return static_cast<double>(static_cast<float>(v));
            })};
          },
      .grad = {1e-3, 1e-3},
      .fd_eps = 1e-2,
  });
  cases.Add({
      .name = "Cast_to_int32",
      .symbol =
          [] {
            return Op("Cast", {{"data", Var("x")}}, {{"dtype", "int32"}});
          },
      .shapes = {{"x", Shape{7}}},
      .inputs = {{"x", {.lo = -5, .hi = 5}}},
      .reference =
          [](const HostArrays& in) {
            return Outputs{Map(in.at("x").values, [](double v) { return std::trunc(v); })};
          },
      .check_grad = false,
  });
  cases.Add({
      .name = "Cast_int32_to_float32",
      .symbol =
          [] {
            return Op("Cast", {{"data", Var("x")}}, {{"dtype", "float32"}});
          },
      .shapes = {{"x", Shape{2, 3}}},
      .inputs = {{"x", {.lo = -100, .hi = 100, .integer = true, .dtype = DType::kInt32}}},
      .reference = [](const HostArrays& in) { return Outputs{in.at("x").values}; },
      .check_grad = false,
  });
  // where: an elementwise condition, and a 1-D one selecting rows.
  for (const bool rows : {false, true}) {
    const Shape xs{3, 4};
    cases.Add({
        .name = rows ? "where_rows" : "where_elementwise",
        .symbol =
            [] {
              return Op("where", {{"condition", Var("c")}, {"x", Var("x")}, {"y", Var("y")}});
            },
        .shapes = {{"c", rows ? Shape{3} : xs}, {"x", xs}, {"y", xs}},
        .inputs = {{"c", {.lo = 0, .hi = 1, .integer = true}}},
        .reference =
            [rows](const HostArrays& in) {
              const auto& c = in.at("c").values;
              const auto& x = in.at("x").values;
              const auto& y = in.at("y").values;
              std::vector<double> out(x.size());
              for (size_t i = 0; i < x.size(); ++i) {
                out[i] = c[rows ? i / 4 : i] != 0 ? x[i] : y[i];
              }
              return Outputs{out};
            },
    });
  }
}

}  // namespace
}  // namespace loom::consistency
