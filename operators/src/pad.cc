// Pad (alias pad): pads the spatial axes of 4-D or 5-D arrays.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct PadParam {
  enum class Mode { kConstant, kEdge, kReflect };
  Mode mode = Mode::kConstant;
  Shape pad_width;
  double constant_value = 0;
  static void Declare(ParamDeclarer<PadParam>& d) {
    d("mode", &PadParam::mode)
        .Enum<Mode>(
            {{"constant", Mode::kConstant}, {"edge", Mode::kEdge}, {"reflect", Mode::kReflect}})
        .Describe("constant: constant_value; edge: repeat the border; reflect: mirror it.");
    d("pad_width", &PadParam::pad_width)
        .Describe("(before, after) per axis, flattened; the first two axes get (0, 0).");
    d("constant_value", &PadParam::constant_value)
        .Default(0)
        .Describe("The value for mode 'constant'.");
    d.Validate([](PadParam& p) {
      for (int64_t w : p.pad_width) {
        LOOM_CHECK(w >= 0, "parameter 'pad_width': expected non-negative widths but got ",
                   FormatParam(p.pad_width));
      }
    });
  }
};

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
    .InferType(ElemwiseType);

}  // namespace
}  // namespace loom::ops
