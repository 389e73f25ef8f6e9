// Pad (alias pad): pads the spatial axes of 4-D or 5-D arrays.
#include "operators/cpu/pad.h"

#include "pad_param.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

cpu::PadParams PadParamsOf(const NodeAttrs& attrs) {
  const auto& p = attrs.param<PadParam>();
  cpu::PadParams k;
  k.mode = p.mode == PadParam::Mode::kConstant
               ? cpu::PadMode::kConstant
               : (p.mode == PadParam::Mode::kEdge ? cpu::PadMode::kEdge : cpu::PadMode::kReflect);
  k.width = p.pad_width.dims();
  k.constant_value = p.constant_value;
  return k;
}

void PadShape(ShapeContext& ctx) {
  const auto& p = ctx.param<PadParam>();
  const Shape& data = ctx.in(0);
  const Shape& any = data.ndim() > 0 ? data : ctx.out(0);
  if (any.ndim() == 0) return;
  const int n = any.ndim();
  if (n != 4 && n != 5) {
    ctx.Fail("supports only 4-D or 5-D data but got " + ctx.DescribeInput(0) + " " + Str(any));
  }
  if (p.pad_width.ndim() != 2 * n) {
    ctx.Fail("parameter pad_width=" + FormatParam(p.pad_width) + " has " +
             std::to_string(p.pad_width.ndim()) + " values but data " + Str(any) + " needs " +
             std::to_string(2 * n) + " (before and after per axis)");
  }
  for (int i = 0; i < 4; ++i) {
    if (p.pad_width[i] != 0) {
      ctx.Fail("parameter pad_width=" + FormatParam(p.pad_width) +
               " pads the batch or channel axis; only spatial axes can be padded");
    }
  }
  Shape out = UnknownShape(n), back = UnknownShape(n);
  for (int i = 0; i < n; ++i) {
    const int64_t extra = p.pad_width[2 * i] + p.pad_width[2 * i + 1];
    if (data.ndim() > 0 && data[i] != 0) {
      if (p.mode == PadParam::Mode::kReflect &&
          (p.pad_width[2 * i] >= data[i] || p.pad_width[2 * i + 1] >= data[i])) {
        ctx.Fail("mode 'reflect' needs pad widths smaller than the axis but got pad_width=" +
                 FormatParam(p.pad_width) + " for data " + Str(data));
      }
      out[i] = data[i] + extra;
    }
    if (ctx.out(0).ndim() == n && ctx.out(0)[i] != 0) back[i] = ctx.out(0)[i] - extra;
  }
  if (data.ndim() > 0) ctx.SetOut(0, out, "data " + Str(data));
  ctx.SetIn(0, back, "the output shape " + Str(ctx.out(0)));
}

LOOM_REGISTER_OP(Pad)
    .Alias("pad")
    .Describe(R"(Pads the spatial axes of 4-D or 5-D data: each axis grows by its (before, after)
widths from pad_width (those of the batch and channel axes must be 0), with a constant, the
edge values or a reflection.)")
    .Params<PadParam>()
    .Inputs({"data"})
    .InferShape(PadShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::PadForward(PadParamsOf(attrs), in[0], out[0], req[0]);
            }))
    .Gradient(BackwardOf("_backward_Pad", {kOutGrad}));

LOOM_REGISTER_OP(_backward_Pad)
    .Describe(R"(Gradient of Pad: each element of out_grad added to the data element it was
copied from (the constant border gets nothing).)")
    .Inputs({"out_grad"})
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::PadBackward(PadParamsOf(attrs), in[0], out[0], req[0]);
            }));

}  // namespace
}  // namespace loom::ops
