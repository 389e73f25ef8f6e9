// Arithmetic between an array and a scalar (what `a + 1`, `1 - a`, `2 / a` on symbols create).
#include "operators/cpu/elementwise.h"
#include "scalar_kernels.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

using cpu::ScalarOp;

// The forward node's scalar as written (so the gradient node sees exactly the same value).
StrMap ScalarOf(const NodePtr& n) {
  auto it = n->attrs.dict.find("scalar");
  return {{"scalar", it == n->attrs.dict.end() ? FormatParam(1.0) : it->second}};
}

// The gradient is the head gradient passed through another scalar operator with the same scalar
// (d(x * s) = g * s, d(x / s) = g / s), or negated (d(s - x) = -g).
GradientFn ThroughScalarOp(const char* op) {
  return [op](const NodePtr& n, const std::vector<NodeEntry>& g) {
    return std::vector<NodeEntry>{
        OutputOf(MakeGradOpNode(op, n, "_backward", {g[0]}, ScalarOf(n)), 0)};
  };
}

#define LOOM_SCALAR_OP(Name, Op, AliasName, Doc) \
  LOOM_REGISTER_OP(Name)                         \
      .Describe(Doc)                             \
      .Alias(AliasName)                          \
      .Params<ScalarParam>()                     \
      .Inputs({"data"})                          \
      .InferShape(ElemwiseShape)                 \
      .InferType(ElemwiseType)                   \
      .InplaceOptions(InplaceFirst)              \
      .Kernel(DeviceType::kCPU, FCompute(ScalarKernel<ScalarOp::Op>))

LOOM_SCALAR_OP(_plus_scalar, kPlus, "_PlusScalar", "data + scalar.").Gradient(IdentityGradient);
LOOM_SCALAR_OP(_minus_scalar, kMinus, "_MinusScalar", "data - scalar.").Gradient(IdentityGradient);
LOOM_SCALAR_OP(_rminus_scalar, kRMinus, "_RMinusScalar", "scalar - data.")
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      return std::vector<NodeEntry>{
          OutputOf(MakeGradOpNode("negative", n, "_backward", {g[0]}), 0)};
    });
LOOM_SCALAR_OP(_mul_scalar, kMul, "_MulScalar", "data * scalar.")
    .Gradient(ThroughScalarOp("_mul_scalar"));
LOOM_SCALAR_OP(_div_scalar, kDiv, "_DivScalar", "data / scalar.")
    .Gradient(ThroughScalarOp("_div_scalar"));
LOOM_SCALAR_OP(_rdiv_scalar, kRDiv, "_RDivScalar", "scalar / data.")
    .Gradient(BackwardOf("_backward_rdiv_scalar", {kOutGrad, InputAt(0)}));

#undef LOOM_SCALAR_OP

LOOM_REGISTER_OP(_backward_rdiv_scalar)
    .Describe("Gradient of _rdiv_scalar: -out_grad * scalar / data^2.")
    .Inputs({"out_grad", "data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute(ScalarBackwardKernel<ScalarOp::kRDiv>));

}  // namespace
}  // namespace loom::ops
