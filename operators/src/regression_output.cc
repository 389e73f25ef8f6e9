// Regression heads: LinearRegressionOutput, LogisticRegressionOutput and MAERegressionOutput. Loss
// heads: the gradient ignores the head gradient, so Backward() needs none.
#include "nn_util.h"
#include "operators/cpu/softmax.h"
#include "regression_output_param.h"

namespace loom::ops {
namespace {

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

// (data, label) -> output
template <cpu::RegressionType type>
void RegressionCompute(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  cpu::RegressionOutputForward(type, in[0], out[0], req[0]);
}

// (output, label) -> data_grad
template <cpu::RegressionType type>
void RegressionBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                               Views out) {
  cpu::RegressionOutputBackward(type, attrs.param<RegressionOutputParam>().grad_scale, in[0], in[1],
                                out[0], req[0]);
}

// The gradient reads the output and the label; the label gets none.
std::vector<NodeEntry> RegressionGradient(const NodePtr& n, const std::vector<NodeEntry>&) {
  NodePtr bw = MakeBackwardNode("_backward_" + n->attrs.op->name(), n, {Out(n, 0), n->inputs[1]});
  return {Out(bw, 0), NodeEntry{}};
}

#define LOOM_REGRESSION_OUTPUT(Name, Type, Doc)                                        \
  LOOM_REGISTER_OP(Name)                                                               \
      .Describe(Doc                                                                    \
                " The label defaults to the data's shape ((N,) for data (N, 1)). The " \
                "backward pass ignores the head gradient and scales by grad_scale / "  \
                "(label.size / N).")                                                   \
      .Params<RegressionOutputParam>()                                                 \
      .Inputs({"data", "label"})                                                       \
      .InferShape(RegressionOutputShape)                                               \
      .InferType(ElemwiseType)                                                         \
      .InplaceOptions(InplaceFirst)                                                    \
      .Gradient(RegressionGradient)                                                    \
      .Kernel(DeviceType::kCPU, FCompute(RegressionCompute<Type>));                    \
  LOOM_REGISTER_OP(_backward_##Name)                                                   \
      .Describe("Gradient of " #Name " from its output and label.")                    \
      .Inputs({"output", "label"})                                                     \
      .InferType(FirstInputType)                                                       \
      .Kernel(DeviceType::kCPU, FCompute(RegressionBackwardCompute<Type>))

LOOM_REGRESSION_OUTPUT(LinearRegressionOutput, cpu::RegressionType::kLinear,
                       "Identity forward; squared-loss gradient out - label backward.");
LOOM_REGRESSION_OUTPUT(LogisticRegressionOutput, cpu::RegressionType::kLogistic,
                       "Sigmoid forward; logistic-loss gradient sigmoid(x) - label backward.");
LOOM_REGRESSION_OUTPUT(MAERegressionOutput, cpu::RegressionType::kMAE,
                       "Identity forward; absolute-loss gradient sign(out - label) backward.");

#undef LOOM_REGRESSION_OUTPUT

}  // namespace
}  // namespace loom::ops
