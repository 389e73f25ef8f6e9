// Launcher of the Cast GPU kernel (operators/cuda/cast.cu): element conversion between any two
// dtypes with core/src/elementwise.h's CastKernel rules: floats to integers truncate toward zero
// (NaN gives 0) and wrap modulo the integer's range, anything to bool tests for non-zero, float16
// converts through float. Enqueues on `stream`; `req` is loom::OpReq's value (kAddTo adds in the
// output's arithmetic type: float for float16, int for bool). C++17-safe.
//
//   Cast(DType::kInt32, x, DType::kFloat16, y, n, /*req=*/1, stream);
//
// Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::gpu {

/// y = x converted from `from` to `to` (from != to; equal dtypes are a copy).
void Cast(DType from, const void* x, DType to, void* y, int64_t n, int req, void* stream);

}  // namespace loom::gpu
