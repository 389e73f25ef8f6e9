// GPU kernels of Activation and _backward_Activation (relu, sigmoid, tanh, softrelu, softsign):
// the element-wise kernels of nn_activation.cu, with the CPU kernel's formulas.
#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/activation_param.h"

namespace loom::gpu {
namespace {

using Act = ops::ActivationParam::Act;

// nn_activation.cu's codes: relu 0, sigmoid 1, tanh 2, softrelu 3, softsign 4.
int ActCode(const NodeAttrs& attrs) {
  switch (attrs.param<ops::ActivationParam>().act_type) {
    case Act::kRelu:
      return 0;
    case Act::kSigmoid:
      return 1;
    case Act::kTanh:
      return 2;
    case Act::kSoftRelu:
      return 3;
    case Act::kSoftSign:
      return 4;
  }
  return 0;
}

void ActivationGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  cpu::CheckSameShape(in[0], out[0], "Activation", "data", "out");
  cpu::CheckSameDType(in[0], out[0], "Activation", "data", "out");
  ActivationForwardGpu(in[0].dtype, ActCode(attrs), in[0].ptr, out[0].ptr, in[0].size(),
                       static_cast<int>(req[0]), ctx.run.stream);
}

// (out_grad, output) -> data_grad; softsign: (out_grad, data) -> data_grad.
void ActivationGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                       Views out) {
  constexpr const char* kOp = "_backward_Activation";
  cpu::CheckSameShape(in[0], in[1], kOp, "out_grad", "output");
  cpu::CheckSameShape(in[0], out[0], kOp, "out_grad", "data_grad");
  cpu::CheckSameDType(in[0], in[1], kOp, "out_grad", "output");
  cpu::CheckSameDType(in[0], out[0], kOp, "out_grad", "data_grad");
  ActivationBackwardGpu(in[0].dtype, ActCode(attrs), in[0].ptr, in[1].ptr, out[0].ptr, in[0].size(),
                        static_cast<int>(req[0]), ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("Activation", kGPU, FCompute(ActivationGpu));
LOOM_REGISTER_KERNEL("_backward_Activation", kGPU, FCompute(ActivationGradGpu));

}  // namespace loom::gpu
