// FullyConnected: out = data · weightᵀ + bias; its gradient is one _backward_FullyConnected node.
#include "operators/cpu/fully_connected.h"

#include "fully_connected_param.h"
#include "nn_util.h"

namespace loom::ops {
namespace {

void FullyConnectedShape(ShapeContext& ctx) {
  const auto& p = ctx.param<FullyConnectedParam>();
  Shape data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int64_t k = p.flatten ? data.Size(1, data.ndim()) : data[data.ndim() - 1];
  std::string why = "num_hidden=" + std::to_string(p.num_hidden) + " and data " + data.ToString();
  ctx.SetIn(1, Shape{p.num_hidden, k}, why);
  if (!p.no_bias) {
    Shape bias = ctx.in(2);
    if (!MergeShape(&bias, Shape{p.num_hidden}) && !MergeShape(&bias, Shape{p.num_hidden, 1})) {
      ctx.Fail(ctx.DescribeInput(2) + " has shape " + ctx.in(2).ToString() + " but expected (" +
               std::to_string(p.num_hidden) + ",) or (" + std::to_string(p.num_hidden) +
               ",1) from num_hidden=" + std::to_string(p.num_hidden));
    }
    ctx.SetIn(2, bias);
  }
  Shape out;
  if (p.flatten) {
    out = Shape{data[0], p.num_hidden};
  } else {
    out = data;
    out[out.ndim() - 1] = p.num_hidden;
  }
  ctx.SetOut(0, out, why);
  if (ctx.out(0).ndim() > 0) {
    data[0] = ctx.out(0)[0];
    ctx.SetIn(0, data, "the output's batch size");
  }
}

void FullyConnectedCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                           Views out) {
  const cpu::FullyConnectedParams p = attrs.param<FullyConnectedParam>().kernel_params();
  cpu::FullyConnectedForward(p, in[0], in[1], p.no_bias ? nullptr : &in[2], out[0], req[0]);
}

// (out_grad, data, weight) -> (data_grad, weight_grad[, bias_grad])
void FullyConnectedBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                   Views out) {
  const cpu::FullyConnectedParams p = attrs.param<FullyConnectedParam>().kernel_params();
  cpu::FullyConnectedBackward(p, in[0], in[1], in[2], out[0], req[0], out[1], req[1],
                              p.no_bias ? nullptr : &out[2], p.no_bias ? OpReq::kNull : req[2]);
}

LOOM_REGISTER_OP(FullyConnected)
    .Describe(R"(Applies a linear transformation: out = data · weightᵀ + bias.

With flatten=True, data (N, d1, ..., dk) is treated as (N, d1*...*dk); weight is
(num_hidden, d1*...*dk), bias (num_hidden,), out (N, num_hidden). With flatten=False the
transformation applies to the last axis: out = data.shape[:-1] + (num_hidden,).)")
    .Params<FullyConnectedParam>()
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<FullyConnectedParam>().no_bias) return {"data", "weight"};
      return {"data", "weight", "bias"};
    })
    .InferShape(FullyConnectedShape)
    .InferType(ElemwiseType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw =
          MakeBackwardNode("_backward_FullyConnected", n, {g[0], n->inputs[0], n->inputs[1]});
      return BackwardOutputs(bw, n->inputs.size());
    })
    .Kernel(DeviceType::kCPU, FCompute(FullyConnectedCompute));

LOOM_REGISTER_OP(_backward_FullyConnected)
    .Describe("Gradients of FullyConnected with respect to data, weight and bias.")
    .Inputs({"out_grad", "data", "weight"})
    .NumOutputs([](const NodeAttrs& attrs) -> uint32_t {
      return attrs.param<FullyConnectedParam>().no_bias ? 2 : 3;
    })
    .Kernel(DeviceType::kCPU, FCompute(FullyConnectedBackwardCompute));

}  // namespace
}  // namespace loom::ops
