// Loss heads without a label: MakeLoss (with scaling and normalisation) and make_loss. Identity
// forward; the gradient ignores the head gradient, so Backward() needs none.
#include "operators/cpu/make_loss.h"

#include "nn_util.h"
#include "operators/cpu/elementwise.h"
#include "make_loss_param.h"

namespace loom::ops {
namespace {

void IdentityCompute(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  cpu::UnaryForward(cpu::UnaryOp::kCopy, in[0], out[0], req[0]);
}

// output -> data_grad
void MakeLossBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                             Views out) {
  const auto& p = attrs.param<MakeLossParam>();
  cpu::MakeLossParams k{.grad_scale = p.grad_scale, .valid_thresh = p.valid_thresh};
  if (p.normalization == MakeLossParam::Normalization::kBatch) {
    k.normalization = cpu::MakeLossNormalization::kBatch;
  } else if (p.normalization == MakeLossParam::Normalization::kValid) {
    k.normalization = cpu::MakeLossNormalization::kValid;
  }
  cpu::MakeLossBackward(k, in[0], out[0], req[0]);
}

// output -> data_grad (ones)
void OnesBackwardCompute(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  cpu::MakeLossBackward(cpu::MakeLossParams{}, in[0], out[0], req[0]);
}

// The backward node reads the output (for its shape, and MakeLoss's 'valid' count).
std::vector<NodeEntry> LossGradient(const NodePtr& n, const std::vector<NodeEntry>&) {
  return {Out(MakeBackwardNode("_backward_" + n->attrs.op->name(), n, {Out(n, 0)}), 0)};
}

LOOM_REGISTER_OP(MakeLoss)
    .Describe(R"(Marks its input as a loss: identity forward; backward ignores the head gradient
and gives grad_scale (divided by the batch size or the number of elements above valid_thresh,
per normalization).)")
    .Params<MakeLossParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Gradient(LossGradient)
    .Kernel(DeviceType::kCPU, FCompute(IdentityCompute));

LOOM_REGISTER_OP(_backward_MakeLoss)
    .Describe("Gradient of MakeLoss: grad_scale / (1, the batch size or the valid count).")
    .Inputs({"output"})
    .Kernel(DeviceType::kCPU, FCompute(MakeLossBackwardCompute));

LOOM_REGISTER_OP(make_loss)
    .Describe(R"(Marks its input as a loss: identity forward; backward gives ones (the head
gradient is ignored). Its output is named `loss`.)")
    .Inputs({"data"})
    .Outputs({"loss"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Gradient(LossGradient)
    .Kernel(DeviceType::kCPU, FCompute(IdentityCompute));

LOOM_REGISTER_OP(_backward_make_loss)
    .Describe("Gradient of make_loss: ones.")
    .Inputs({"output"})
    .Kernel(DeviceType::kCPU, FCompute(OnesBackwardCompute));

}  // namespace
}  // namespace loom::ops
