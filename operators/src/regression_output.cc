// Regression heads: LinearRegressionOutput, LogisticRegressionOutput and MAERegressionOutput.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct RegressionOutputParam {
  float grad_scale = 1;
  static void Declare(ParamDeclarer<RegressionOutputParam>& d) {
    d("grad_scale", &RegressionOutputParam::grad_scale).Default(1).Describe("Scales the gradient.");
  }
};

// The output has the data's shape. The label defaults to the data's shape, except (N,) for
// data (N, 1); a given label must have the data's batch size and number of elements.
void RegressionOutputShape(ShapeContext& ctx) {
  ctx.SetIn(0, ctx.out(0), "the output shape");
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  ctx.SetOut(0, data, "data " + Str(data));
  const Shape& label = ctx.in(1);
  if (label.ndim() == 0) {
    const bool column = data.ndim() == 2 && data[1] == 1;
    ctx.SetIn(1, column ? Shape{data[0]} : data, "data " + Str(data));
  } else if (data.IsKnown() && label.IsKnown() &&
             (label[0] != data[0] || label.Size() != data.Size())) {
    ctx.Fail(ctx.DescribeInput(1) + " has shape " + Str(label) + " but expected the batch size " +
             std::to_string(data[0]) + " and " + std::to_string(data.Size()) +
             " elements of data " + Str(data));
  }
}

#define LOOM_REGRESSION_OUTPUT(Name, Doc)                                              \
  LOOM_REGISTER_OP(Name)                                                               \
      .Describe(Doc                                                                    \
                " The label defaults to the data's shape ((N,) for data (N, 1)). The " \
                "backward pass ignores the head gradient and scales by grad_scale / "  \
                "(label.size / N).")                                                   \
      .Params<RegressionOutputParam>()                                                 \
      .Inputs({"data", "label"})                                                       \
      .InferShape(RegressionOutputShape)                                               \
      .InferType(ElemwiseType)                                                         \
      .InplaceOptions([](const NodeAttrs&) {                                           \
        return std::vector<std::pair<int, int>>{{0, 0}};                               \
      })

LOOM_REGRESSION_OUTPUT(LinearRegressionOutput,
                       "Identity forward; squared-loss gradient out - label backward.");
LOOM_REGRESSION_OUTPUT(LogisticRegressionOutput,
                       "Sigmoid forward; logistic-loss gradient sigmoid(x) - label backward.");
LOOM_REGRESSION_OUTPUT(MAERegressionOutput,
                       "Identity forward; absolute-loss gradient sign(out - label) backward.");

#undef LOOM_REGRESSION_OUTPUT

}  // namespace
}  // namespace loom::ops
