// Naive element-wise, broadcast, reduction and activation math in float64 for the tests:
// definitions written from the formulas (derivatives from x alone), indices computed from
// coordinates rather than strides.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/activation.h"
#include "operators/cpu/elementwise.h"
#include "operators/cpu/reduce.h"

namespace loom::cpu::reference {

inline double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

inline double Unary(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::kCopy:
      return x;
    case UnaryOp::kNegative:
      return -x;
    case UnaryOp::kAbs:
      return std::fabs(x);
    case UnaryOp::kSquare:
      return x * x;
    case UnaryOp::kSqrt:
      return std::sqrt(x);
    case UnaryOp::kRsqrt:
      return 1.0 / std::sqrt(x);
    case UnaryOp::kExp:
      return std::exp(x);
    case UnaryOp::kLog:
      return std::log(x);
    case UnaryOp::kRelu:
      return x > 0 ? x : 0.0;
    case UnaryOp::kSigmoid:
      return Sigmoid(x);
    case UnaryOp::kTanh:
      return std::tanh(x);
    case UnaryOp::kSoftrelu:
      return x > 20 ? x : std::log(1.0 + std::exp(x));
    case UnaryOp::kSoftsign:
      return x / (1.0 + std::fabs(x));
    default:
      return NAN;
  }
}

inline double UnaryDerivative(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::kCopy:
      return 1;
    case UnaryOp::kNegative:
      return -1;
    case UnaryOp::kAbs:
      return x > 0 ? 1 : (x < 0 ? -1 : 0);
    case UnaryOp::kSquare:
      return 2 * x;
    case UnaryOp::kSqrt:
      return 0.5 / std::sqrt(x);
    case UnaryOp::kRsqrt:
      return -0.5 * std::pow(x, -1.5);
    case UnaryOp::kExp:
      return std::exp(x);
    case UnaryOp::kLog:
      return 1 / x;
    case UnaryOp::kRelu:
      return x > 0 ? 1 : 0;
    case UnaryOp::kSigmoid:
      return Sigmoid(x) * (1 - Sigmoid(x));
    case UnaryOp::kTanh:
      return 1 - std::tanh(x) * std::tanh(x);
    case UnaryOp::kSoftrelu:
      return Sigmoid(x);
    case UnaryOp::kSoftsign:
      return 1 / ((1 + std::fabs(x)) * (1 + std::fabs(x)));
    default:
      return NAN;
  }
}

inline double Binary(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::kAdd:
      return a + b;
    case BinaryOp::kSub:
      return a - b;
    case BinaryOp::kMul:
      return a * b;
    case BinaryOp::kDiv:
      return a / b;
    case BinaryOp::kMaximum:
      return a > b ? a : b;
    case BinaryOp::kMinimum:
      return a < b ? a : b;
    case BinaryOp::kPower:
      return std::pow(a, b);
    default:
      return NAN;
  }
}

inline double Scalar(ScalarOp op, double x, double s) {
  switch (op) {
    case ScalarOp::kPlus:
      return x + s;
    case ScalarOp::kMinus:
      return x - s;
    case ScalarOp::kRMinus:
      return s - x;
    case ScalarOp::kMul:
      return x * s;
    case ScalarOp::kDiv:
      return x / s;
    case ScalarOp::kRDiv:
      return s / x;
    case ScalarOp::kPower:
      return std::pow(x, s);
    case ScalarOp::kRPower:
      return std::pow(s, x);
    case ScalarOp::kMaximum:
      return x > s ? x : s;
    case ScalarOp::kMinimum:
      return x < s ? x : s;
    default:
      return NAN;
  }
}

/// LeakyReLU of one element with slope `gamma` for prelu (the non-random rrelu slope for rrelu).
inline double LeakyReLU(const LeakyReLUParams& p, double x, double gamma) {
  const double alpha = 1.6732632423543772848170429916717;
  const double lambda = 1.0507009873554804934193349852946;
  switch (p.type) {
    case LeakyType::kLeaky:
      return x > 0 ? x : p.slope * x;
    case LeakyType::kPrelu:
      return x > 0 ? x : gamma * x;
    case LeakyType::kRrelu:
      return x > 0 ? x : 0.5 * (p.lower_bound + p.upper_bound) * x;
    case LeakyType::kElu:
      return x > 0 ? x : p.slope * (std::exp(x) - 1);
    case LeakyType::kSelu:
      return lambda * (x > 0 ? x : alpha * (std::exp(x) - 1));
    case LeakyType::kGelu:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  return NAN;
}

/// Flat index into `shape` (aligned on the right to `full`) of the element at full's coordinate.
inline int64_t BroadcastIndex(const Shape& full, const Shape& shape, int64_t full_index) {
  std::vector<int64_t> coord(full.ndim());
  for (int d = full.ndim() - 1; d >= 0; --d) {
    coord[d] = full_index % full[d];
    full_index /= full[d];
  }
  int64_t index = 0;
  const int lead = full.ndim() - shape.ndim();
  for (int d = 0; d < shape.ndim(); ++d) {
    index = index * shape[d] + (shape[d] == 1 ? 0 : coord[d + lead]);
  }
  return index;
}

/// y (shape full) = a op b with numpy broadcasting.
inline void BroadcastBinary(BinaryOp op, const Shape& as, const Shape& bs, const Shape& full,
                            const double* a, const double* b, double* y) {
  for (int64_t i = 0; i < full.Size(); ++i) {
    y[i] = Binary(op, a[BroadcastIndex(full, as, i)], b[BroadcastIndex(full, bs, i)]);
  }
}

/// Reduction of x over `axes` (sorted), y in keepdims order.
inline void Reduce(ReduceOp op, const Shape& xs, const std::vector<int>& axes, const double* x,
                   double* y) {
  Shape kept = xs;
  for (int a : axes) kept[a] = 1;
  std::vector<std::vector<double>> groups(kept.Size());
  for (int64_t i = 0; i < xs.Size(); ++i) groups[BroadcastIndex(xs, kept, i)].push_back(x[i]);
  for (int64_t o = 0; o < kept.Size(); ++o) {
    const auto& g = groups[o];
    double r = op == ReduceOp::kProd ? 1.0 : 0.0;
    if (op == ReduceOp::kMax || op == ReduceOp::kMin) r = g.empty() ? 0.0 : g[0];
    for (double v : g) {
      switch (op) {
        case ReduceOp::kSum:
        case ReduceOp::kMean:
          r += v;
          break;
        case ReduceOp::kProd:
          r *= v;
          break;
        case ReduceOp::kMax:
          r = std::max(r, v);
          break;
        case ReduceOp::kMin:
          r = std::min(r, v);
          break;
        default:
          break;
      }
    }
    if (op == ReduceOp::kMean) r /= static_cast<double>(g.size());
    y[o] = r;
  }
}

}  // namespace loom::cpu::reference
