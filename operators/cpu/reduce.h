// Reduction CPU kernels (sum, mean, max, min, prod over any set of axes; argmax/argmin) and the
// broadcast helpers built on the same walk (broadcast to a shape, sum back to a shape).
//
//   std::vector<int> axes = ResolveReduceAxes(3, {1}, /*exclude=*/false, "sum");
//   ReduceForward(ReduceOp::kSum, x, axes, y, OpReq::kWriteTo);   // x (2,3,4) -> y (2,4)
//   ReduceBackward(ReduceOp::kSum, dy, x, y, axes, dx, OpReq::kWriteTo);
//
// y may have keepdims' shape or not: only its size is checked. float16 (float32 accumulation),
// float32 and float64. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "loom/core/kernel.h"

namespace loom::cpu {

enum class ReduceOp : uint8_t { kSum, kMean, kMax, kMin, kProd, kCount };
const char* ToString(ReduceOp op);

/// MXNet's axis/exclude: an empty list means every axis; negative axes count from the end;
/// exclude reduces every axis not listed. Sorted and unique; throws loom::Error naming op for an
/// out-of-range or repeated axis.
std::vector<int> ResolveReduceAxes(int ndim, std::span<const int> axis, bool exclude,
                                   std::string_view op);

void ReduceForward(ReduceOp op, const TensorView& x, std::span<const int> axes, const TensorView& y,
                   OpReq req);
/// sum: dx = dy; mean: dy / count; max/min: dy where x equals the result (every tie); prod:
/// dy * y / x (MXNet's formula).
void ReduceBackward(ReduceOp op, const TensorView& dy, const TensorView& x, const TensorView& y,
                    std::span<const int> axes, const TensorView& dx, OpReq req);

/// dst = src repeated along the axes where src (aligned on the right) has size 1.
void BroadcastTo(const TensorView& src, const TensorView& dst, OpReq req);
/// dst = src summed over the axes that dst (aligned on the right) has as 1 (the transpose of
/// BroadcastTo).
void SumToShape(const TensorView& src, const TensorView& dst, OpReq req);

/// Index of the first maximum (is_max) or minimum along axis, or over the flattened array when
/// axis is empty, written as out's dtype (MXNet returns float indices).
void ArgReduce(bool is_max, const TensorView& x, std::optional<int> axis, const TensorView& out,
               OpReq req);

}  // namespace loom::cpu
