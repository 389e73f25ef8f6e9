// Dropout: zeroes elements with probability p while training; the mask is a hidden output that
// the gradient multiplies by.
#include "operators/cpu/dropout.h"

#include "nn_util.h"
#include "dropout_param.h"

namespace loom::ops {
namespace {

void DropoutShape(ShapeContext& ctx) {
  const auto& p = ctx.param<DropoutParam>();
  ctx.SetIn(0, ctx.out(0), "the output shape");
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  ctx.SetOut(0, data, "data " + Str(data));
  for (int64_t a : p.axes) NormalizeAxis(ctx, a, data, "axes");
  // MXNet's mask is 1 along `axes`; Loom's holds the broadcast values (the data's shape).
  ctx.SetOut(1, data, "data " + Str(data));
}

cpu::DropoutParams KernelParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<DropoutParam>();
  cpu::DropoutParams k;
  k.p = p.p;
  k.always = p.mode == DropoutParam::Mode::kAlways;
  for (int64_t a : p.axes) k.axes.push_back(static_cast<int>(a));
  return k;
}

// data -> (output, mask)
void DropoutCompute(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  cpu::DropoutForward(KernelParams(attrs), ctx, in[0], out[0], req[0], out[1]);
}

// (out_grad, mask) -> data_grad; backward follows a training forward pass.
void DropoutBackwardCompute(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                            Views out) {
  cpu::DropoutBackward(KernelParams(attrs), ctx.is_train, in[0], in[1], out[0], req[0]);
}

LOOM_REGISTER_OP(Dropout)
    .Describe(R"(While training (or always, with mode='always'), sets each element to zero with
probability p and scales the others by 1/(1-p); otherwise the identity. With `axes`, one draw
is shared along those axes. Outputs output and the hidden mask (0 or 1/(1-p) per element), both
of the data's shape.)")
    .Params<DropoutParam>()
    .Inputs({"data"})
    .Outputs({"output", "mask"})
    .NumVisibleOutputs(1)
    .InferShape(DropoutShape)
    .InferType(ElemwiseType)
    .Resources([](const NodeAttrs&) { return std::vector<ResourceKind>{ResourceKind::kRandom}; })
    .InplaceOptions(InplaceFirst)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      return BackwardOutputs(MakeBackwardNode("_backward_Dropout", n, {g[0], Out(n, 1)}), 1);
    })
    .Kernel(DeviceType::kCPU, FCompute(DropoutCompute));

LOOM_REGISTER_OP(_backward_Dropout)
    .Describe("Gradient of Dropout: the head gradient times the mask of the training pass.")
    .Inputs({"out_grad", "mask"})
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute(DropoutBackwardCompute));

}  // namespace
}  // namespace loom::ops
