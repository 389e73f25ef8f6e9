// GPU kernels of the data-movement operators: transpose, SwapAxis, slice, slice_axis, Crop,
// Concat, SliceChannel, Pad and UpSampling, with their gradients. They do what the CPU kernels
// (operators/cpu/layout.cc, pad.cc, upsampling.cc) do, on ctx's stream.
#include <cstring>
#include <numeric>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/layout.h"
#include "operators/cpu/upsampling.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/layout_kernels.h"
#include "operators/src/concat_param.h"
#include "operators/src/crop_param.h"
#include "operators/src/pad_param.h"
#include "operators/src/slice_channel_param.h"
#include "operators/src/slice_param.h"
#include "operators/src/transpose_param.h"
#include "operators/src/upsampling_param.h"

namespace loom::ops {
namespace {

using gpu::Reqs;
using gpu::Views;

void* S(const OpContext& ctx) { return ctx.run.stream; }

// The CPU kernel's strided view (cpu/layout.h), simplified, for the GPU's strided copy.
gpu::StridedView MakeView(cpu::StridedLayout layout, std::string_view op) {
  layout.Simplify();
  const auto& d = layout.dims;
  LOOM_CHECK(d.size() <= static_cast<size_t>(gpu::kMaxStridedDims), op,
             " on GPU: expected at most ", gpu::kMaxStridedDims, " non-mergeable axes but got ",
             d.size());
  gpu::StridedView v;
  v.ndim = static_cast<int>(d.size());
  for (size_t i = 0; i < d.size(); ++i) {
    v.dims[i] = d[i];
    v.strides[i] = layout.strides[i];
  }
  v.offset = layout.offset;
  return v;
}

// y = x permuted by perm (y axis i = x axis perm[i]).
void Permute(const OpContext& ctx, const TensorView& x, std::span<const int> perm,
             const TensorView& y, OpReq req, const char* op) {
  if (req == OpReq::kNull) return;
  gpu::StridedMove(x.dtype, MakeView(cpu::PermutedLayout(x, perm, y, op), op), x.ptr, y.ptr, true,
                   gpu::Req(req), S(ctx), op);
}

void TransposeGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const Shape& axes = attrs.param<TransposeParam>().axes;
  const std::vector<int> given(axes.begin(), axes.end());
  Permute(ctx, in[0], cpu::ResolvePermutation(given, in[0].shape.ndim()), out[0], req[0],
          "transpose");
}

void SwapAxisGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<SwapAxisParam>();
  const int nd = in[0].shape.ndim();
  std::vector<int> perm(nd);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[cpu::NormalizeAxis(static_cast<int>(p.dim1), nd, "SwapAxis")],
            perm[cpu::NormalizeAxis(static_cast<int>(p.dim2), nd, "SwapAxis")]);
  Permute(ctx, in[0], perm, out[0], req[0], "SwapAxis");
}

// ---- slice, slice_axis, Crop ----

gpu::StridedView SliceView(const Shape& x, const cpu::SliceSpec& s, const char* op) {
  return MakeView(cpu::SliceLayout(x, s, op), op);
}

void SliceForward(const OpContext& ctx, const TensorView& x, const cpu::SliceSpec& s,
                  const TensorView& y, OpReq req, const char* op) {
  if (req == OpReq::kNull) return;
  cpu::CheckSameDType(x, y, op, "data", "out");
  cpu::CheckSize(y, s.OutShape().Size(), op, "out");
  if (y.size() == 0) return;
  gpu::StridedMove(x.dtype, SliceView(x.shape, s, op), x.ptr, y.ptr, true, gpu::Req(req), S(ctx),
                   op);
}

void SliceBackward(const OpContext& ctx, const TensorView& dy, const cpu::SliceSpec& s,
                   const TensorView& dx, OpReq req, const char* op) {
  if (req == OpReq::kNull) return;
  cpu::CheckSameDType(dx, dy, op, "data_grad", "out_grad");
  cpu::CheckSize(dy, s.OutShape().Size(), op, "out_grad");
  if (req != OpReq::kAddTo && dx.bytes() > 0) {
    LOOM_CUDA_CHECK(cudaMemsetAsync(dx.ptr, 0, dx.bytes(), gpu::Stream(ctx)));
  }
  if (dy.size() == 0) return;
  gpu::StridedMove(dx.dtype, SliceView(dx.shape, s, op), dy.ptr, dx.ptr, false,
                   gpu::Req(req == OpReq::kAddTo ? OpReq::kAddTo : OpReq::kWriteTo), S(ctx), op);
}

cpu::SliceSpec SliceOf(const NodeAttrs& attrs, const Shape& data) {
  const auto& p = attrs.param<SliceParam>();
  return cpu::ResolveSlice(data, p.begin, p.end, p.step);
}
cpu::SliceSpec SliceAxisOf(const NodeAttrs& attrs, const Shape& data) {
  const auto& p = attrs.param<SliceAxisParam>();
  return cpu::ResolveSliceAxis(data, static_cast<int>(p.axis), p.begin, p.end);
}
cpu::SliceSpec CropOf(const NodeAttrs& attrs, const Shape& data, const Shape& out) {
  const auto& p = attrs.param<CropParam>();
  return cpu::ResolveCrop(data, out[2], out[3], p.offset[0], p.offset[1], p.center_crop);
}

void SliceGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  SliceForward(ctx, in[0], SliceOf(attrs, in[0].shape), out[0], req[0], "slice");
}
void SliceBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  SliceBackward(ctx, in[0], SliceOf(attrs, out[0].shape), out[0], req[0], "_backward_slice");
}
void SliceAxisGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  SliceForward(ctx, in[0], SliceAxisOf(attrs, in[0].shape), out[0], req[0], "slice_axis");
}
void SliceAxisBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                          Views out) {
  SliceBackward(ctx, in[0], SliceAxisOf(attrs, out[0].shape), out[0], req[0],
                "_backward_slice_axis");
}
void CropGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  SliceForward(ctx, in[0], CropOf(attrs, in[0].shape, out[0].shape), out[0], req[0], "Crop");
}
void CropBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  SliceBackward(ctx, in[0], CropOf(attrs, out[0].shape, in[0].shape), out[0], req[0],
                "_backward_Crop");
}

// ---- Concat, SliceChannel ----

// The strided view of part [begin, begin + n) of `whole` along axis, over the part's shape.
gpu::StridedView Part(const Shape& whole, int axis, int64_t begin, int64_t n, const char* op) {
  return MakeView(cpu::PartLayout(whole, axis, begin, n), op);
}

void ConcatGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  constexpr const char* kOp = "Concat";
  const int axis = cpu::NormalizeAxis(static_cast<int>(attrs.param<ConcatParam>().dim),
                                      out[0].shape.ndim(), kOp);
  int64_t begin = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    cpu::CheckConcatInput(in[i].shape, i, out[0].shape, axis);
    cpu::CheckSameDType(out[0], in[i], kOp, "out", "an input");
    if (in[i].size() > 0) {
      gpu::StridedMove(out[0].dtype, Part(out[0].shape, axis, begin, in[i].shape[axis], kOp),
                       in[i].ptr, out[0].ptr, false, gpu::Req(req[0]), S(ctx), kOp);
    }
    begin += in[i].shape[axis];
  }
  LOOM_CHECK_TYPED(ShapeError, begin == out[0].shape[axis], "Concat: inputs add up to ", begin,
                   " along axis ", axis, " but out ", out[0].shape.ToString(), " has ",
                   out[0].shape[axis]);
}

void ConcatBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                       Views out) {
  constexpr const char* kOp = "_backward_Concat";
  const TensorView& g = in[0];
  const int axis =
      cpu::NormalizeAxis(static_cast<int>(attrs.param<ConcatParam>().dim), g.shape.ndim(), kOp);
  int64_t begin = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t n = out[i].shape[axis];
    if (req[i] != OpReq::kNull && out[i].size() > 0) {
      cpu::CheckSameDType(g, out[i], kOp, "out_grad", "an input gradient");
      gpu::StridedMove(g.dtype, Part(g.shape, axis, begin, n, kOp), g.ptr, out[i].ptr, true,
                       gpu::Req(req[i]), S(ctx), kOp);
    }
    begin += n;
  }
  LOOM_CHECK_TYPED(ShapeError, begin == g.shape[axis], "Concat: gradients add up to ", begin,
                   " along axis ", axis, " but out_grad has ", g.shape[axis]);
}

void SliceChannelGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  constexpr const char* kOp = "SliceChannel";
  const TensorView& x = in[0];
  const int64_t parts = static_cast<int64_t>(out.size());
  const auto [a, n] =
      cpu::ResolveSplit(x.shape, static_cast<int>(attrs.param<SliceChannelParam>().axis), parts);
  for (int64_t i = 0; i < parts; ++i) {
    if (req[i] == OpReq::kNull) continue;
    cpu::CheckSize(out[i], x.size() / parts, kOp, "an output");
    cpu::CheckSameDType(x, out[i], kOp, "data", "an output");
    if (out[i].size() == 0) continue;
    gpu::StridedMove(x.dtype, Part(x.shape, a, i * n, n, kOp), x.ptr, out[i].ptr, true,
                     gpu::Req(req[i]), S(ctx), kOp);
  }
}

void SliceChannelBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                             Views out) {
  constexpr const char* kOp = "_backward_SliceChannel";
  const TensorView& dx = out[0];
  if (req[0] == OpReq::kNull) return;
  const int64_t parts = static_cast<int64_t>(in.size());
  const auto [a, n] =
      cpu::ResolveSplit(dx.shape, static_cast<int>(attrs.param<SliceChannelParam>().axis), parts);
  for (int64_t i = 0; i < parts; ++i) {
    cpu::CheckSize(in[i], dx.size() / parts, kOp, "an output gradient");
    cpu::CheckSameDType(dx, in[i], kOp, "data_grad", "an output gradient");
    if (in[i].size() == 0) continue;
    gpu::StridedMove(dx.dtype, Part(dx.shape, a, i * n, n, kOp), in[i].ptr, dx.ptr, false,
                     gpu::Req(req[0]), S(ctx), kOp);
  }
}

// ---- Pad ----

struct PadPlan {
  int ndim = 0;
  std::vector<int64_t> x_dims, y_dims, before;
  int mode = 0;
};

PadPlan PlanPad(const NodeAttrs& attrs, const Shape& x, const Shape& y) {
  const auto& p = attrs.param<PadParam>();
  LOOM_CHECK(p.pad_width.ndim() == 2 * x.ndim(), "Pad: expected ", 2 * x.ndim(),
             " pad widths for data ", x.ToString(), " but got ", p.pad_width.ndim());
  LOOM_CHECK_TYPED(ShapeError, y.ndim() == x.ndim(), "Pad: expected an output of ", x.ndim(),
                   " dimensions but got ", y.ToString());
  PadPlan plan;
  plan.ndim = x.ndim();
  plan.mode = p.mode == PadParam::Mode::kConstant ? 0 : (p.mode == PadParam::Mode::kEdge ? 1 : 2);
  for (int d = 0; d < x.ndim(); ++d) {
    const int64_t before = p.pad_width[2 * d], after = p.pad_width[2 * d + 1];
    LOOM_CHECK_TYPED(ShapeError, y[d] == x[d] + before + after, "Pad: expected output shape ",
                     "with ", x[d] + before + after, " along axis ", d, " but got ", y.ToString());
    LOOM_CHECK(plan.mode != 2 || (before < x[d] && after < x[d]),
               "Pad: mode 'reflect' needs widths smaller than the axis but got (", before, ", ",
               after, ") for axis ", d, " of ", x.ToString());
    LOOM_CHECK(plan.mode == 0 || x[d] > 0, "Pad: cannot pad an empty axis");
    plan.x_dims.push_back(x[d]);
    plan.y_dims.push_back(y[d]);
    plan.before.push_back(before);
  }
  return plan;
}

void PadGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  cpu::CheckSameDType(in[0], out[0], "Pad", "data", "out");
  const PadPlan plan = PlanPad(attrs, in[0].shape, out[0].shape);
  gpu::PadForward(in[0].dtype, plan.ndim, plan.x_dims.data(), plan.y_dims.data(),
                  plan.before.data(), plan.mode, attrs.param<PadParam>().constant_value, in[0].ptr,
                  out[0].ptr, gpu::Req(req[0]), S(ctx));
}

void PadBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  cpu::CheckSameDType(out[0], in[0], "_backward_Pad", "data_grad", "out_grad");
  const PadPlan plan = PlanPad(attrs, out[0].shape, in[0].shape);
  gpu::PadBackward(in[0].dtype, plan.ndim, plan.x_dims.data(), plan.y_dims.data(),
                   plan.before.data(), plan.mode, in[0].ptr, out[0].ptr, gpu::Req(req[0]), S(ctx));
}

// ---- UpSampling ----

// Bilinear UpSampling's depthwise deconvolution (UpSamplingParam's kernel, stride and pad).
gpu::DepthwiseDeconv BilinearGeometry(const NodeAttrs& attrs, const TensorView& data,
                                      const TensorView& weight, const TensorView& out) {
  const auto& p = attrs.param<UpSamplingParam>();
  const int64_t s = p.scale, k = p.bilinear_kernel(), pad = p.bilinear_pad();
  LOOM_CHECK_TYPED(ShapeError, data.shape.ndim() == 4 && out.shape.ndim() == 4,
                   "UpSampling: expected (N, C, H, W) data and output but got ",
                   data.shape.ToString(), " and ", out.shape.ToString());
  LOOM_CHECK_TYPED(ShapeError, weight.size() == data.shape[1] * k * k,
                   "UpSampling: expected a bilinear weight (", data.shape[1], ", 1, ", k, ", ", k,
                   ") but got ", weight.shape.ToString());
  cpu::CheckSameDType(data, weight, "UpSampling", "data", "weight");
  cpu::CheckSameDType(data, out, "UpSampling", "data", "out");
  const Shape& x = data.shape;
  return {x[0], x[1], x[2], x[3], out.shape[2], out.shape[3], k, s, pad};
}

// nearest: (arg0, ...) -> output; bilinear: (data, weight) -> output
void UpSamplingGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<UpSamplingParam>();
  if (p.bilinear()) {
    gpu::DepthwiseDeconvForward(in[0].dtype, BilinearGeometry(attrs, in[0], in[1], out[0]),
                                in[0].ptr, in[1].ptr, out[0].ptr, gpu::Req(req[0]), S(ctx));
    return;
  }
  if (req[0] == OpReq::kNull) return;
  const bool sum = p.multi_input_mode == UpSamplingParam::MultiInput::kSum;
  for (size_t i = 0; i < in.size(); ++i) {
    const OpReq r = sum && i > 0 ? OpReq::kAddTo : req[0];
    const int64_t offset = p.ChannelOffset(in, i);
    const cpu::UpSamplingGeometry g = cpu::UpSamplingNearestGeometry(in[i], out[0], offset);
    gpu::UpSamplingNearestForward(in[i].dtype, g.n, g.c, g.big_c, g.h, g.w, g.sh, g.sw, offset,
                                  in[i].ptr, out[0].ptr, gpu::Req(r), S(ctx));
  }
}

// nearest: out_grad -> (arg0_grad, ...); bilinear: (out_grad, data, weight) -> (data_grad,
// weight_grad)
void UpSamplingBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                           Views out) {
  const auto& p = attrs.param<UpSamplingParam>();
  if (p.bilinear()) {
    gpu::DepthwiseDeconvBackward(in[1].dtype, BilinearGeometry(attrs, in[1], in[2], in[0]),
                                 in[0].ptr, in[1].ptr, in[2].ptr, out[0].ptr, gpu::Req(req[0]),
                                 out[1].ptr, gpu::Req(req[1]), S(ctx));
    return;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (req[i] == OpReq::kNull) continue;
    const int64_t offset = p.ChannelOffset(out, i);
    const cpu::UpSamplingGeometry g = cpu::UpSamplingNearestGeometry(out[i], in[0], offset);
    gpu::UpSamplingNearestBackward(in[0].dtype, g.n, g.c, g.big_c, g.h, g.w, g.sh, g.sw, offset,
                                   in[0].ptr, out[i].ptr, gpu::Req(req[i]), S(ctx));
  }
}

}  // namespace

LOOM_REGISTER_KERNEL("transpose", kGPU, FCompute(TransposeGpu));
LOOM_REGISTER_KERNEL("SwapAxis", kGPU, FCompute(SwapAxisGpu));
LOOM_REGISTER_KERNEL("slice", kGPU, FCompute(SliceGpu));
LOOM_REGISTER_KERNEL("_backward_slice", kGPU, FCompute(SliceBackwardGpu));
LOOM_REGISTER_KERNEL("slice_axis", kGPU, FCompute(SliceAxisGpu));
LOOM_REGISTER_KERNEL("_backward_slice_axis", kGPU, FCompute(SliceAxisBackwardGpu));
LOOM_REGISTER_KERNEL("Crop", kGPU, FCompute(CropGpu));
LOOM_REGISTER_KERNEL("_backward_Crop", kGPU, FCompute(CropBackwardGpu));
LOOM_REGISTER_KERNEL("Concat", kGPU, FCompute(ConcatGpu));
LOOM_REGISTER_KERNEL("_backward_Concat", kGPU, FCompute(ConcatBackwardGpu));
LOOM_REGISTER_KERNEL("SliceChannel", kGPU, FCompute(SliceChannelGpu));
LOOM_REGISTER_KERNEL("_backward_SliceChannel", kGPU, FCompute(SliceChannelBackwardGpu));
LOOM_REGISTER_KERNEL("Pad", kGPU, FCompute(PadGpu));
LOOM_REGISTER_KERNEL("_backward_Pad", kGPU, FCompute(PadBackwardGpu));
LOOM_REGISTER_KERNEL("UpSampling", kGPU, FCompute(UpSamplingGpu));
LOOM_REGISTER_KERNEL("_backward_UpSampling", kGPU, FCompute(UpSamplingBackwardGpu));

}  // namespace loom::ops
