// slice (alias crop) and slice_axis: sub-ranges of an array along its axes.
#include "operators/cpu/layout.h"
#include "shape_util.h"
#include "slice_param.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

cpu::SliceSpec SliceOf(const NodeAttrs& attrs, const Shape& data) {
  const auto& p = attrs.param<SliceParam>();
  return cpu::ResolveSlice(data, p.begin, p.end, p.step);
}

// The number of elements of range(begin, end, step) over an axis of `len` (> 0) elements,
// with Python's clamping of out-of-range indices.
int64_t SliceLength(int64_t len, std::optional<int64_t> begin, std::optional<int64_t> end,
                    int64_t step) {
  int64_t b = begin.value_or(step < 0 ? len - 1 : 0);
  int64_t e = end.value_or(step < 0 ? -1 : len);
  if (b < 0) b += len;
  if (end && e < 0) e += len;
  if (b < 0 && step > 0) b = 0;
  if (b > len - 1 && step < 0) b = len - 1;
  if (b < 0 || b > len - 1) return 0;
  e = std::min(std::max(e, int64_t{-1}), len);
  if (step > 0) return e > b ? (e - b - 1) / step + 1 : 0;
  return e < b ? (b - e - 1) / (-step) + 1 : 0;
}

void SliceShape(ShapeContext& ctx) {
  const auto& p = ctx.param<SliceParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  if (static_cast<int>(p.begin.size()) > data.ndim()) {
    ctx.Fail("slices " + std::to_string(p.begin.size()) + " axes but " + ctx.DescribeInput(0) +
             " " + Str(data) + " has only " + std::to_string(data.ndim()));
  }
  Shape out = data;
  for (size_t i = 0; i < p.begin.size(); ++i) {
    const int64_t len = data[static_cast<int>(i)];
    const int64_t step = p.step.empty() ? 1 : p.step[i].value_or(1);
    out[static_cast<int>(i)] = len == 0 ? 0 : SliceLength(len, p.begin[i], p.end[i], step);
  }
  ctx.SetOut(0, out, "data " + Str(data));
}

LOOM_REGISTER_OP(slice)
    .Alias("crop")
    .Describe(R"(Takes data[begin:end:step] along the leading len(begin) axes, with Python's
rules: None for defaults, negative indices from the end, out-of-range indices clamped, negative
steps walking backwards. Example: data (3,4,5), begin (0,1), end (2,3) gives (2,2,5).)")
    .Params<SliceParam>()
    .Inputs({"data"})
    .InferShape(SliceShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::SliceForward(in[0], SliceOf(attrs, in[0].shape), out[0], req[0]);
            }))
    .Gradient(BackwardOf("_backward_slice", {kOutGrad}));

LOOM_REGISTER_OP(_backward_slice)
    .Describe("Gradient of slice: out_grad scattered into zeros of the data's shape.")
    .Inputs({"out_grad"})
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::SliceBackward(in[0], SliceOf(attrs, out[0].shape), out[0], req[0]);
            }));

cpu::SliceSpec SliceAxisOf(const NodeAttrs& attrs, const Shape& data) {
  const auto& p = attrs.param<SliceAxisParam>();
  return cpu::ResolveSliceAxis(data, static_cast<int>(p.axis), p.begin, p.end);
}

void SliceAxisShape(ShapeContext& ctx) {
  const auto& p = ctx.param<SliceAxisParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int axis = NormalizeAxis(ctx, p.axis, data);
  const int64_t len = data[axis];
  Shape out = data;
  if (len != 0) {
    const int64_t b = p.begin < 0 ? p.begin + len : p.begin;
    int64_t e = p.end.value_or(len);
    if (e < 0) e += len;
    if (b < 0 || e > len || b >= e) {
      ctx.Fail("expected 0 <= begin < end <= " + std::to_string(len) + " along axis " +
               std::to_string(axis) + " of data " + Str(data) +
               " but got begin=" + std::to_string(p.begin) +
               ", end=" + detail::ParamTraits<std::optional<int64_t>>::Format(p.end));
    }
    out[axis] = e - b;
  }
  ctx.SetOut(0, out, "data " + Str(data));
}

LOOM_REGISTER_OP(slice_axis)
    .Describe(R"(Takes data[begin:end] along one axis: data (3,4,5), axis 1, begin 1, end 3
gives (3,2,5). Indices may be negative (from the end); end None is the axis' end.)")
    .Params<SliceAxisParam>()
    .Inputs({"data"})
    .InferShape(SliceAxisShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::SliceForward(in[0], SliceAxisOf(attrs, in[0].shape), out[0], req[0]);
            }))
    .Gradient(BackwardOf("_backward_slice_axis", {kOutGrad}));

LOOM_REGISTER_OP(_backward_slice_axis)
    .Describe("Gradient of slice_axis: out_grad scattered into zeros of the data's shape.")
    .Inputs({"out_grad"})
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::SliceBackward(in[0], SliceAxisOf(attrs, out[0].shape), out[0], req[0]);
            }));

}  // namespace
}  // namespace loom::ops
