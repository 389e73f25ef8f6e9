// The CPU kernels behind NDArray's creation, casts and elementwise arithmetic: plain loops the
// compiler vectorises. The operator layer brings the fast kernels; these serve NDArray itself.
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::detail {

/// Elementwise arithmetic. kCount keeps ArithOpName's table in step.
enum class ArithOp : uint8_t { kAdd, kSub, kMul, kDiv, kCount };

/// The engine name of the operation: "_plus", "_minus", "_mul", "_div"; with scalar and reverse
/// "_plus_scalar", "_rminus_scalar", ...
const char* ArithOpName(ArithOp op, bool scalar, bool reverse);
/// The verb for error messages: "add", "subtract", "multiply", "divide".
const char* ArithOpVerb(ArithOp op);

/// out[i] = a[i] op b[i] for n elements of dtype (not bool). Integer arithmetic wraps around;
/// integer division by zero throws loom::Error. out may alias a or b exactly.
void BinaryKernel(ArithOp op, DType dtype, const void* a, const void* b, void* out, size_t n);
/// out[i] = a[i] op scalar, or scalar op a[i] when reverse; the scalar is first cast to dtype.
void ScalarKernel(ArithOp op, bool reverse, DType dtype, const void* a, double scalar, void* out,
                  size_t n);
/// out[i] = value cast to dtype.
void FillKernel(DType dtype, void* out, size_t n, double value);
/// out[i] = in[i] converted from `from` to `to`: floats to integers truncate (NaN gives 0) and
/// wrap around modulo the integer's range, anything to bool tests for non-zero.
void CastKernel(DType from, const void* in, DType to, void* out, size_t n);

}  // namespace loom::detail
