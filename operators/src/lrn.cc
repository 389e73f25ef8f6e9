// LRN: local response normalisation across neighbouring channels. The gradient reads the data
// and the hidden tmp_norm output.
#include "operators/cpu/lrn.h"

#include "nn_util.h"
#include "lrn_param.h"

namespace loom::ops {
namespace {

cpu::LRNParams KernelParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<LRNParam>();
  return {.alpha = p.alpha, .beta = p.beta, .knorm = p.knorm, .nsize = p.nsize};
}

// data -> (output, tmp_norm)
void LRNCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  cpu::LRNForward(KernelParams(attrs), in[0], out[0], req[0], out[1]);
}

// (out_grad, data, tmp_norm) -> data_grad
void LRNBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  cpu::LRNBackward(KernelParams(attrs), in[0], in[1], in[2], out[0], req[0]);
}

LOOM_REGISTER_OP(LRN)
    .Describe(R"(Local response normalisation across channels: out = data / (knorm +
alpha/nsize * sum of squares over nsize neighbouring channels)^beta. Outputs output and the
hidden tmp_norm, both with the data's shape.)")
    .Params<LRNParam>()
    .Inputs({"data"})
    .Outputs({"output", "tmp_norm"})
    .NumVisibleOutputs(1)
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      return BackwardOutputs(MakeBackwardNode("_backward_LRN", n, {g[0], n->inputs[0], Out(n, 1)}),
                             1);
    })
    .Kernel(DeviceType::kCPU, FCompute(LRNCompute));

LOOM_REGISTER_OP(_backward_LRN)
    .Describe("Gradient of LRN from the head gradient, the data and tmp_norm.")
    .Inputs({"out_grad", "data", "tmp_norm"})
    .Kernel(DeviceType::kCPU, FCompute(LRNBackwardCompute));

}  // namespace
}  // namespace loom::ops
