// Launchers of the element-wise GPU kernels (operators/cuda/elemwise.cu): unary math, binary
// arithmetic on equal shapes, arithmetic with a scalar, clip, where, fills, accumulating copies,
// add_n and MakeLoss's constant gradient. Each enqueues on `stream` and returns; pointers are
// device memory; `req` is loom::OpReq's value (kNull skips, kAddTo accumulates). Outputs may alias
// inputs element for element (in place). C++17-safe: included by .cu and *_gpu.cc files.
//
//   UnaryForward(UnaryKind::kExp, DType::kFloat32, x, y, n, /*req=*/1, stream);
//   BinaryBackward(BinaryKind::kMul, DType::kFloat16, dy, a, b, da, 1, db, 3, n, stream);
//
// The arithmetic runs in float for float16 data, in the data's type otherwise; float kernels take
// float16, float32 and float64 and throw NotSupportedError naming the operator for other dtypes.
// Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::gpu {

enum class UnaryKind : int {
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
  kSin,
};
constexpr int kNumUnaryKinds = 12;

enum class BinaryKind : int { kAdd, kSub, kMul, kDiv, kMaximum, kMinimum, kPower };
constexpr int kNumBinaryKinds = 7;

enum class ScalarKind : int {
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
};
constexpr int kNumScalarKinds = 10;

/// y = f(x) over n elements. `what` names the operator in errors.
void UnaryForward(UnaryKind op, DType dtype, const void* x, void* y, int64_t n, int req,
                  void* stream, const char* what);
/// dx = dy * f'(x): abs, square, log and sin read x; exp, sqrt, rsqrt, relu, sigmoid and tanh
/// read y = f(x); copy and negative read neither (pass nullptr for what is not read).
void UnaryBackward(UnaryKind op, DType dtype, const void* dy, const void* x, const void* y,
                   void* dx, int64_t n, int req, void* stream, const char* what);

/// out = a op b over n elements.
void BinaryForward(BinaryKind op, DType dtype, const void* a, const void* b, void* out, int64_t n,
                   int req, void* stream, const char* what);
/// da = dy * d(a op b)/da, db = dy * d(a op b)/db (each skipped when its req is 0).
void BinaryBackward(BinaryKind op, DType dtype, const void* dy, const void* a, const void* b,
                    void* da, int a_req, void* db, int b_req, int64_t n, void* stream,
                    const char* what);

/// y = x op s (s converted to the arithmetic type first, as the CPU kernel does).
void ScalarForward(ScalarKind op, DType dtype, const void* x, double s, void* y, int64_t n, int req,
                   void* stream, const char* what);
/// dx = dy * d(x op s)/dx.
void ScalarBackward(ScalarKind op, DType dtype, const void* dy, const void* x, double s, void* dx,
                    int64_t n, int req, void* stream, const char* what);

/// y = min(max(x, lo), hi); dx = dy where lo <= x <= hi, else 0.
void ClipForward(DType dtype, const void* x, double lo, double hi, void* y, int64_t n, int req,
                 void* stream);
void ClipBackward(DType dtype, const void* dy, const void* x, double lo, double hi, void* dx,
                  int64_t n, int req, void* stream);

/// out[i] = cond[i / row_len] != 0 ? x[i] : y[i]; cond of any dtype (row_len 1: elementwise).
void WhereForward(DType cond_dtype, const void* cond, int64_t row_len, DType dtype, const void* x,
                  const void* y, void* out, int64_t n, int req, void* stream);
/// dx = cond ? dout : 0, dy = cond ? 0 : dout (each skipped when its req is 0).
void WhereBackward(DType cond_dtype, const void* cond, int64_t row_len, DType dtype,
                   const void* dout, void* dx, int x_req, void* dy, int y_req, int64_t n,
                   void* stream);

/// y = value converted to dtype (any dtype; bool arithmetic in int), or y += value for kAddTo.
void Fill(DType dtype, void* y, int64_t n, double value, int req, void* stream);
/// y += x elementwise, any dtype (the kAddTo half of a copy; integers wrap, bool adds as int).
void AddInto(DType dtype, const void* x, void* y, int64_t n, void* stream);
/// out = in[0] + ... + in[num - 1] (any dtype but bool sums in int), out may be in[0].
void AddN(DType dtype, const void* const* in, int num, void* out, int64_t n, int req, void* stream);

/// MakeLoss's gradient: dx = grad_scale / norm everywhere. With count_valid, norm is the number
/// of elements of `out` above valid_thresh (at least 1), counted on the device in `scratch` (8
/// bytes); otherwise norm is `norm`.
void MakeLossBackward(DType dtype, const void* out, int64_t n, double grad_scale, double norm,
                      bool count_valid, double valid_thresh, void* scratch, void* dx, int req,
                      void* stream);

}  // namespace loom::gpu
