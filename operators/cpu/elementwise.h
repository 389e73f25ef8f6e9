// Element-wise CPU kernels: unary math, binary arithmetic on equal shapes, arithmetic with a
// scalar, numpy-style broadcast arithmetic, clip and where; each with its gradient.
//
//   UnaryForward(UnaryOp::kSigmoid, x, y, OpReq::kWriteTo);
//   UnaryBackward(UnaryOp::kSigmoid, dy, x, y, dx, OpReq::kWriteTo);   // uses y
//   BroadcastForward(BinaryOp::kAdd, a, b, out, OpReq::kWriteTo);     // (4,3) + (1,3)
//   BroadcastBackward(BinaryOp::kAdd, dy, a, b, da, OpReq::kWriteTo, db, OpReq::kAddTo);
//
// float16 (computed in float32), float32 and float64. Outputs may alias inputs of the same
// shape (in-place). Loops run on ParallelFor above a few tens of thousands of elements.
// Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"

namespace loom::cpu {

enum class UnaryOp : uint8_t {
  kCopy,
  kNegative,
  kAbs,
  kSquare,
  kSqrt,
  kRsqrt,
  kExp,
  kLog,
  kRelu,
  kSigmoid,
  kTanh,
  kSoftrelu,
  kSoftsign,
  kCount
};
const char* ToString(UnaryOp op);

/// Which of x (the input) and y (the output) UnaryBackward reads for op; the other may be an
/// empty view. exp, sqrt, rsqrt, relu, sigmoid, tanh and softrelu read y (as MXNet does);
/// abs, square, log and softsign read x; copy and negative read neither.
bool UnaryBackwardReadsInput(UnaryOp op);
bool UnaryBackwardReadsOutput(UnaryOp op);

void UnaryForward(UnaryOp op, const TensorView& x, const TensorView& y, OpReq req);
/// dx = dy * f'(x).
void UnaryBackward(UnaryOp op, const TensorView& dy, const TensorView& x, const TensorView& y,
                   const TensorView& dx, OpReq req);

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kMaximum, kMinimum, kPower, kCount };
const char* ToString(BinaryOp op);

/// out = a op b, all three of one shape.
void BinaryForward(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out,
                   OpReq req);
/// da, db from dy (each skipped when its req is kNull). maximum/minimum send the gradient to a
/// where a >= b (maximum) or a <= b (minimum), to b elsewhere.
void BinaryBackward(BinaryOp op, const TensorView& dy, const TensorView& a, const TensorView& b,
                    const TensorView& da, OpReq a_req, const TensorView& db, OpReq b_req);

/// out = a op b with numpy broadcasting (out has the broadcast shape).
void BroadcastForward(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out,
                      OpReq req);
/// Gradients summed back over the broadcast axes to a's and b's shapes.
void BroadcastBackward(BinaryOp op, const TensorView& dy, const TensorView& a, const TensorView& b,
                       const TensorView& da, OpReq a_req, const TensorView& db, OpReq b_req);

enum class ScalarOp : uint8_t {
  kPlus,     ///< x + s
  kMinus,    ///< x - s
  kRMinus,   ///< s - x
  kMul,      ///< x * s
  kDiv,      ///< x / s
  kRDiv,     ///< s / x
  kPower,    ///< x ^ s
  kRPower,   ///< s ^ x
  kMaximum,  ///< max(x, s)
  kMinimum,  ///< min(x, s)
  kCount
};
const char* ToString(ScalarOp op);

void ScalarForward(ScalarOp op, const TensorView& x, double scalar, const TensorView& y, OpReq req);
/// dx = dy * d(x op s)/dx. maximum/minimum pass the gradient where x >= s / x <= s.
void ScalarBackward(ScalarOp op, const TensorView& dy, const TensorView& x, double scalar,
                    const TensorView& dx, OpReq req);

/// y = min(max(x, a_min), a_max); the gradient passes where a_min <= x <= a_max.
void ClipForward(const TensorView& x, double a_min, double a_max, const TensorView& y, OpReq req);
void ClipBackward(const TensorView& dy, const TensorView& x, double a_min, double a_max,
                  const TensorView& dx, OpReq req);

/// out = cond ? x : y, elementwise; cond has x's shape, or is 1-D of length x.shape[0] and picks
/// whole rows. cond may have any dtype (non-zero is true).
void WhereForward(const TensorView& cond, const TensorView& x, const TensorView& y,
                  const TensorView& out, OpReq req);
void WhereBackward(const TensorView& dout, const TensorView& cond, const TensorView& dx,
                   OpReq x_req, const TensorView& dy, OpReq y_req);

}  // namespace loom::cpu
