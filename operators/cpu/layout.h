// Data-movement CPU kernels: transpose / SwapAxis, Concat, SliceChannel (split), slice /
// slice_axis / Crop, with their gradients (each other's transposes).
//
//   TransposeForward(x, {1, 0, 2}, y, OpReq::kWriteTo);
//   ConcatForward({a, b}, /*dim=*/1, out, OpReq::kWriteTo);
//   SliceSpec s = ResolveSlice(x.shape, {1, std::nullopt}, {std::nullopt, -1}, {});
//   SliceForward(x, s, y, OpReq::kWriteTo);
//
// Every dtype (kAddTo needs arithmetic, done in the element type; float16 in float32). Shapes
// are checked by size where an axis may be squeezed (SliceChannel's squeeze_axis). Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "loom/core/kernel.h"

namespace loom::cpu {

/// y = x with axes permuted: y.shape[i] = x.shape[axes[i]]; empty axes reverse them.
void TransposeForward(const TensorView& x, std::span<const int> axes, const TensorView& y,
                      OpReq req);
/// dx = dy permuted back.
void TransposeBackward(const TensorView& dy, std::span<const int> axes, const TensorView& dx,
                       OpReq req);
/// SwapAxis: the transpose exchanging dim1 and dim2 (its own inverse, so also the gradient).
void SwapAxis(const TensorView& x, int dim1, int dim2, const TensorView& y, OpReq req);

/// out = the inputs joined along dim (all other axes equal).
void ConcatForward(std::span<const TensorView> inputs, int dim, const TensorView& out, OpReq req);
/// grads[i] = the slice of out_grad that inputs[i] filled (reqs per grad; kNull skips).
void ConcatBackward(const TensorView& out_grad, int dim, std::span<const TensorView> grads,
                    std::span<const OpReq> reqs);

/// SliceChannel: x split into outputs.size() equal parts along axis (outputs may drop the axis
/// when squeezed: their sizes are what is checked).
void SplitForward(const TensorView& x, int axis, std::span<const TensorView> outputs,
                  std::span<const OpReq> reqs);
void SplitBackward(std::span<const TensorView> out_grads, int axis, const TensorView& dx,
                   OpReq req);

/// A resolved slice: per axis of x, the first index, the step and the count.
struct SliceSpec {
  std::vector<int64_t> begin, step, count;
  Shape OutShape() const { return Shape(count); }
};

/// MXNet's slice(begin, end, step): missing entries (or None) take the whole axis in the step's
/// direction, negative indices count from the end, indices are clipped to the axis. Axes past
/// begin's length are taken whole. Throws loom::Error for a zero step or too many entries.
SliceSpec ResolveSlice(const Shape& x, std::span<const std::optional<int64_t>> begin,
                       std::span<const std::optional<int64_t>> end,
                       std::span<const std::optional<int64_t>> step);
/// slice_axis(axis, begin, end): the slice of one axis (end None = to the end).
SliceSpec ResolveSliceAxis(const Shape& x, int axis, int64_t begin, std::optional<int64_t> end);
/// Crop: the window of size (h, w) at offset (y, x) over the last two axes (center_crop: the
/// offset centring it).
SliceSpec ResolveCrop(const Shape& x, int64_t h, int64_t w, int64_t offset_y, int64_t offset_x,
                      bool center);

void SliceForward(const TensorView& x, const SliceSpec& s, const TensorView& y, OpReq req);
/// dx = zeros with dy scattered into the slice (kAddTo: dy added into the slice only).
void SliceBackward(const TensorView& dy, const SliceSpec& s, const TensorView& dx, OpReq req);

}  // namespace loom::cpu
