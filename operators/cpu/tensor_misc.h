// CPU kernels of the small tensor operators the other families do not cover: copies and fills,
// Cast between any two dtypes, add_n, sin, and the NaN-skipping reductions nansum / nanprod.
//
//   CopyForward(x, y, OpReq::kWriteTo);                 // _copy, Reshape, Flatten, BlockGrad, ...
//   FillForward(1.0, y, OpReq::kWriteTo);               // _ones, ones_like
//   CastForward(x_int32, y_float64, OpReq::kWriteTo);   // any dtype to any dtype
//   AddNForward({a, b, c}, out, OpReq::kWriteTo);
//   NanReduceForward(/*prod=*/false, x, {1}, y, OpReq::kWriteTo);
//
// Copies, fills and casts take every dtype (bool included); the arithmetic takes float16 (in
// float32), float32 and float64. Outputs may alias an input of the same shape and dtype (in
// place): a copy onto itself does nothing (kAddTo then doubles), add_n's output may be its first
// input. Thread-safe.
#pragma once

#include <span>

#include "loom/core/kernel.h"

namespace loom::cpu {

/// y = x (equal element counts; the shapes may differ: reshapes). The dtypes must match.
void CopyForward(const TensorView& x, const TensorView& y, OpReq req);
/// y = value (converted to y's dtype).
void FillForward(double value, const TensorView& y, OpReq req);
/// y = x converted to y's dtype (floats to integers truncate toward zero, as static_cast does).
void CastForward(const TensorView& x, const TensorView& y, OpReq req);

/// out = inputs[0] + inputs[1] + ..., all of one shape and dtype.
void AddNForward(std::span<const TensorView> inputs, const TensorView& out, OpReq req);

/// y = sin(x); dx = dy * cos(x).
void SinForward(const TensorView& x, const TensorView& y, OpReq req);
void SinBackward(const TensorView& dy, const TensorView& x, const TensorView& dx, OpReq req);

/// nansum (prod false) or nanprod (true) over `axes` (sorted, as ResolveReduceAxes gives them):
/// NaN counts as 0 in a sum and as 1 in a product.
void NanReduceForward(bool prod, const TensorView& x, std::span<const int> axes,
                      const TensorView& y, OpReq req);
/// nansum: dx = dy where x is not NaN, else 0; nanprod: dy * y / x where x is not NaN, else 0.
void NanReduceBackward(bool prod, const TensorView& dy, const TensorView& x, const TensorView& y,
                       std::span<const int> axes, const TensorView& dx, OpReq req);

}  // namespace loom::cpu
