// Elementwise binary arithmetic of two same-shaped arrays (what `a + b` on symbols creates).
#include "operators/cpu/elementwise.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

using cpu::BinaryOp;

std::vector<std::pair<int, int>> BinaryInplace(const NodeAttrs&) { return {{0, 0}, {1, 0}}; }

template <BinaryOp kOp>
void BinaryKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
  cpu::BinaryForward(kOp, in[0], in[1], out[0], req[0]);
}

// Inputs (out_grad, lhs, rhs); outputs (lhs_grad, rhs_grad).
template <BinaryOp kOp>
void BinaryBackwardKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
  cpu::BinaryBackward(kOp, in[0], in[1], in[2], out[0], req[0], out[1], req[1]);
}

#define LOOM_ELEMWISE_BINARY(Name, Op, Doc)                                          \
  LOOM_REGISTER_OP(Name)                                                             \
      .Describe(Doc " Both inputs and the output have one shape (no broadcasting).") \
      .Inputs({"lhs", "rhs"})                                                        \
      .InferShape(ElemwiseShape)                                                     \
      .InferType(ElemwiseType)                                                       \
      .InplaceOptions(BinaryInplace)                                                 \
      .Kernel(DeviceType::kCPU, FCompute(BinaryKernel<BinaryOp::Op>))

// The backward operator of a product-like operator: both gradients from (out_grad, lhs, rhs).
#define LOOM_ELEMWISE_BINARY_BACKWARD(Name, Op)                        \
  LOOM_REGISTER_OP(_backward_##Name)                                   \
      .Describe("Gradients of " #Name " with respect to lhs and rhs.") \
      .Inputs({"out_grad", "lhs", "rhs"})                              \
      .NumOutputs(2)                                                   \
      .InferShape(ElemwiseShape)                                       \
      .InferType(ElemwiseType)                                         \
      .Kernel(DeviceType::kCPU, FCompute(BinaryBackwardKernel<BinaryOp::Op>))

LOOM_ELEMWISE_BINARY(elemwise_add, kAdd, "lhs + rhs.")
    .Alias("_add")
    .Alias("_plus")
    .Alias("_Plus")
    .Gradient(IdentityGradient);

LOOM_ELEMWISE_BINARY(elemwise_sub, kSub, "lhs - rhs.")
    .Alias("_sub")
    .Alias("_minus")
    .Alias("_Minus")
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      return std::vector<NodeEntry>{
          g[0], OutputOf(MakeGradOpNode("negative", n, "_backward_rhs", {g[0]}), 0)};
    });

LOOM_ELEMWISE_BINARY(elemwise_mul, kMul, "lhs * rhs.")
    .Alias("_mul")
    .Alias("_Mul")
    .Gradient(BackwardOf("_backward_elemwise_mul", {kOutGrad, InputAt(0), InputAt(1)}));
LOOM_ELEMWISE_BINARY_BACKWARD(elemwise_mul, kMul);

LOOM_ELEMWISE_BINARY(elemwise_div, kDiv, "lhs / rhs.")
    .Alias("_div")
    .Alias("_Div")
    .Gradient(BackwardOf("_backward_elemwise_div", {kOutGrad, InputAt(0), InputAt(1)}));
LOOM_ELEMWISE_BINARY_BACKWARD(elemwise_div, kDiv);

#undef LOOM_ELEMWISE_BINARY_BACKWARD
#undef LOOM_ELEMWISE_BINARY

}  // namespace
}  // namespace loom::ops
