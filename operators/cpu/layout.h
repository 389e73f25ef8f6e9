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
#include <string_view>
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
/// Checks that input i of Concat matches out outside axis (ShapeError).
void CheckConcatInput(const Shape& input, size_t i, const Shape& out, int axis);
/// grads[i] = the slice of out_grad that inputs[i] filled (reqs per grad; kNull skips).
void ConcatBackward(const TensorView& out_grad, int dim, std::span<const TensorView> grads,
                    std::span<const OpReq> reqs);

/// SliceChannel: x split into outputs.size() equal parts along axis (outputs may drop the axis
/// when squeezed: their sizes are what is checked).
void SplitForward(const TensorView& x, int axis, std::span<const TensorView> outputs,
                  std::span<const OpReq> reqs);
void SplitBackward(std::span<const TensorView> out_grads, int axis, const TensorView& dx,
                   OpReq req);
/// SliceChannel's split of x's axis (normalised) into `parts` parts of length n each; throws
/// loom::Error when the axis does not divide evenly.
struct SplitAxis {
  int axis;
  int64_t n;
};
SplitAxis ResolveSplit(const Shape& x, int axis, int64_t parts);

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

/// The strided copies above, shared with the GPU kernels (operators/cuda/layout_gpu.cc): the
/// strided side's element offset and per-axis strides over `dims` (the contiguous side's shape).
struct StridedLayout {
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;
  int64_t offset = 0;
  /// Drops size-1 axes and merges axes the strided side walks contiguously across; leaves at
  /// least one axis (a (1) view with stride 1 when nothing is left).
  void Simplify();
};

/// The row-major element strides of shape s.
std::vector<int64_t> RowMajorStrides(const Shape& s);
/// transpose's axes resolved to a permutation of ndim axes (empty axes reverse them).
std::vector<int> ResolvePermutation(std::span<const int> axes, int ndim);
/// y = x permuted by perm (y axis i = x axis perm[i]) as a gather from x; checks y's shape and
/// dtype, naming op.
StridedLayout PermutedLayout(const TensorView& x, std::span<const int> perm, const TensorView& y,
                             std::string_view op);
/// Slice s of x (checked to stay inside x, naming op).
StridedLayout SliceLayout(const Shape& x, const SliceSpec& s, std::string_view op);
/// Part [begin, begin + n) of `whole` along axis, over the part's shape.
StridedLayout PartLayout(const Shape& whole, int axis, int64_t begin, int64_t n);

}  // namespace loom::cpu
