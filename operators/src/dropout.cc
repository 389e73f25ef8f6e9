// Dropout: zeroes elements with probability p while training; the mask is a hidden output.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct DropoutParam {
  enum class Mode { kTraining, kAlways };
  float p = 0.5f;
  Mode mode = Mode::kTraining;
  Shape axes;
  std::optional<bool> cudnn_off = false;
  static void Declare(ParamDeclarer<DropoutParam>& d) {
    using P = DropoutParam;
    d("p", &P::p).Default(0.5f).Min(0).Max(1).Describe("Fraction of the input set to zero.");
    d("mode", &P::mode)
        .Default(Mode::kTraining)
        .Enum<Mode>({{"training", Mode::kTraining}, {"always", Mode::kAlways}})
        .Describe("training: only while training; always: also at inference.");
    d("axes", &P::axes)
        .Default(Shape{})
        .Describe("Axes along which one mask value is shared (variational dropout).");
    d("cudnn_off", &P::cudnn_off).Default(false).Describe("Do not use cuDNN.");
  }
};

void DropoutShape(ShapeContext& ctx) {
  const auto& p = ctx.param<DropoutParam>();
  ctx.SetIn(0, ctx.out(0), "the output shape");
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  ctx.SetOut(0, data, "data " + Str(data));
  Shape mask = data;
  for (int64_t a : p.axes) mask[NormalizeAxis(ctx, a, data, "axes")] = 1;
  ctx.SetOut(1, mask, "data " + Str(data) + " and axes " + FormatParam(p.axes));
}

LOOM_REGISTER_OP(Dropout)
    .Describe(R"(While training (or always, with mode='always'), sets each element to zero with
probability p and scales the others by 1/(1-p); otherwise the identity. Outputs output (the
data's shape) and the hidden mask (the data's shape, 1 along `axes`).)")
    .Params<DropoutParam>()
    .Inputs({"data"})
    .Outputs({"output", "mask"})
    .NumVisibleOutputs(1)
    .InferShape(DropoutShape)
    .InferType(ElemwiseType)
    .Resources([](const NodeAttrs&) { return std::vector<ResourceKind>{ResourceKind::kRandom}; });

}  // namespace
}  // namespace loom::ops
