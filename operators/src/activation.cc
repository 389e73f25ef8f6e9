// Activation: elementwise relu, sigmoid, tanh, softrelu or softsign. The gradient reads the
// output (softsign: the input), so the forward pass may run in place.
#include "operators/cpu/activation.h"

#include "nn_util.h"
#include "activation_param.h"

namespace loom::ops {
namespace {

cpu::ActType KernelType(const NodeAttrs& attrs) {
  switch (attrs.param<ActivationParam>().act_type) {
    case ActivationParam::Act::kSigmoid:
      return cpu::ActType::kSigmoid;
    case ActivationParam::Act::kTanh:
      return cpu::ActType::kTanh;
    case ActivationParam::Act::kSoftRelu:
      return cpu::ActType::kSoftrelu;
    case ActivationParam::Act::kSoftSign:
      return cpu::ActType::kSoftsign;
    default:
      return cpu::ActType::kRelu;
  }
}

bool BackwardReadsInput(const NodeAttrs& attrs) {
  return attrs.param<ActivationParam>().act_type == ActivationParam::Act::kSoftSign;
}

void ActivationCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  cpu::ActivationForward(KernelType(attrs), in[0], out[0], req[0]);
}

// (out_grad, output) -> data_grad; softsign: (out_grad, data) -> data_grad.
void ActivationBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                               Views out) {
  const TensorView none;
  const bool reads_input = BackwardReadsInput(attrs);
  cpu::ActivationBackward(KernelType(attrs), in[0], reads_input ? in[1] : none,
                          reads_input ? none : in[1], out[0], req[0]);
}

LOOM_REGISTER_OP(Activation)
    .Describe("Applies an activation function elementwise; the output has the input's shape.")
    .Params<ActivationParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      const NodeEntry read = BackwardReadsInput(n->attrs) ? n->inputs[0] : Out(n, 0);
      return BackwardOutputs(MakeBackwardNode("_backward_Activation", n, {g[0], read}), 1);
    })
    .Kernel(DeviceType::kCPU, FCompute(ActivationCompute));

LOOM_REGISTER_OP(_backward_Activation)
    .Describe("Gradient of Activation from the head gradient and the output (softsign: the data).")
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (BackwardReadsInput(attrs)) return {"out_grad", "data"};
      return {"out_grad", "output"};
    })
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute(ActivationBackwardCompute));

}  // namespace
}  // namespace loom::ops
