// Reductions over axes: sum, mean, max, min, prod, nansum, nanprod; argmax and argmin.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct ReduceAxesParam {
  std::optional<Shape> axis;
  bool keepdims = false;
  bool exclude = false;
  static void Declare(ParamDeclarer<ReduceAxesParam>& d) {
    using P = ReduceAxesParam;
    d("axis", &P::axis)
        .Default(std::nullopt)
        .Describe("Axes to reduce (negative from the end); None or () reduces all.");
    d("keepdims", &P::keepdims).Default(false).Describe("Keep reduced axes with size 1.");
    d("exclude", &P::exclude).Default(false).Describe("Reduce every axis except those given.");
  }
};

void ReduceAxesShape(ShapeContext& ctx) {
  const auto& p = ctx.param<ReduceAxesParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int n = data.ndim();
  Shape out;
  if (!p.axis || p.axis->ndim() == 0) {
    out = p.keepdims ? Shape(std::vector<int64_t>(n, 1)) : Shape{1};
  } else {
    std::vector<bool> listed(n, false);
    for (int64_t a : *p.axis) {
      const int axis = NormalizeAxis(ctx, a, data);
      if (listed[axis]) {
        ctx.Fail("parameter axis=" + FormatParam(*p.axis) + " lists axis " + std::to_string(axis) +
                 " twice");
      }
      listed[axis] = true;
    }
    for (int i = 0; i < n; ++i) {
      const bool reduced = listed[i] != p.exclude;
      if (!reduced) {
        out.push_back(data[i]);
      } else if (p.keepdims) {
        out.push_back(1);
      }
    }
    if (out.ndim() == 0) out.push_back(1);
  }
  ctx.SetOut(0, out, "data " + Str(data));
}

#define LOOM_REDUCE(Name, Doc)                                                             \
  LOOM_REGISTER_OP(Name)                                                                   \
      .Describe(Doc                                                                        \
                " Over `axis` (all axes by default, the others with exclude); the output " \
                "drops reduced axes ((1,) when none is left) or keeps them as 1 with "     \
                "keepdims.")                                                               \
      .Params<ReduceAxesParam>()                                                           \
      .Inputs({"data"})                                                                    \
      .InferShape(ReduceAxesShape)                                                         \
      .InferType(ElemwiseType)

LOOM_REDUCE(sum, "Sum.").Alias("sum_axis");
LOOM_REDUCE(mean, "Arithmetic mean.");
LOOM_REDUCE(max, "Maximum.").Alias("max_axis");
LOOM_REDUCE(min, "Minimum.").Alias("min_axis");
LOOM_REDUCE(prod, "Product.");
LOOM_REDUCE(nansum, "Sum, treating NaN as 0.");
LOOM_REDUCE(nanprod, "Product, treating NaN as 1.");

#undef LOOM_REDUCE

struct ReduceAxisParam {
  std::optional<int64_t> axis;
  bool keepdims = false;
  static void Declare(ParamDeclarer<ReduceAxisParam>& d) {
    d("axis", &ReduceAxisParam::axis)
        .Default(std::nullopt)
        .Describe("The axis (negative from the end); None searches the flattened array.");
    d("keepdims", &ReduceAxisParam::keepdims)
        .Default(false)
        .Describe("Keep the reduced axis with size 1.");
  }
};

void ReduceAxisShape(ShapeContext& ctx) {
  const auto& p = ctx.param<ReduceAxisParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  Shape out;
  if (!p.axis || data.ndim() == 1) {
    out = p.keepdims ? Shape(std::vector<int64_t>(data.ndim(), 1)) : Shape{1};
  } else {
    const int axis = NormalizeAxis(ctx, *p.axis, data);
    for (int i = 0; i < data.ndim(); ++i) {
      if (i != axis) {
        out.push_back(data[i]);
      } else if (p.keepdims) {
        out.push_back(1);
      }
    }
  }
  ctx.SetOut(0, out, "data " + Str(data));
}

#define LOOM_ARG_REDUCE(Name, Doc)                                                         \
  LOOM_REGISTER_OP(Name)                                                                   \
      .Describe(Doc                                                                        \
                " The indices have the data's dtype; the axis is dropped (kept as 1 with " \
                "keepdims); without an axis the result is (1,).")                          \
      .Params<ReduceAxisParam>()                                                           \
      .Inputs({"data"})                                                                    \
      .InferShape(ReduceAxisShape)                                                         \
      .InferType(ElemwiseType)

LOOM_ARG_REDUCE(argmax, "Index of the maximum along `axis`.");
LOOM_ARG_REDUCE(argmin, "Index of the minimum along `axis`.");

#undef LOOM_ARG_REDUCE

}  // namespace
}  // namespace loom::ops
