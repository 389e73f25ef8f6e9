// Elementwise maximum, minimum and power between same-shaped arrays or with a scalar.
#include "operators/cpu/elementwise.h"
#include "shape_util.h"
#include "scalar_kernels.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

using cpu::BinaryOp;
using cpu::ScalarOp;

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

#define LOOM_ELEMWISE_BINARY(Name, Op, AliasName, Doc)                               \
  LOOM_REGISTER_OP(Name)                                                             \
      .Describe(Doc " Both inputs and the output have one shape (no broadcasting).") \
      .Alias(AliasName)                                                              \
      .Inputs({"lhs", "rhs"})                                                        \
      .InferShape(ElemwiseShape)                                                     \
      .InferType(ElemwiseType)                                                       \
      .InplaceOptions(BinaryInplace)                                                 \
      .Kernel(DeviceType::kCPU, FCompute(BinaryKernel<BinaryOp::Op>))                \
      .Gradient(BackwardOf("_backward" #Name, {kOutGrad, InputAt(0), InputAt(1)}));  \
  LOOM_REGISTER_OP(_backward##Name)                                                  \
      .Describe("Gradients of " #Name " with respect to lhs and rhs.")               \
      .Inputs({"out_grad", "lhs", "rhs"})                                            \
      .NumOutputs(2)                                                                 \
      .InferShape(ElemwiseShape)                                                     \
      .InferType(ElemwiseType)                                                       \
      .Kernel(DeviceType::kCPU, FCompute(BinaryBackwardKernel<BinaryOp::Op>))

// maximum / minimum send the gradient to lhs on ties (lhs >= rhs / lhs <= rhs).
LOOM_ELEMWISE_BINARY(_maximum, kMaximum, "_Maximum", "max(lhs, rhs).");
LOOM_ELEMWISE_BINARY(_minimum, kMinimum, "_Minimum", "min(lhs, rhs).");
LOOM_ELEMWISE_BINARY(_power, kPower, "_Power", "lhs ** rhs.");

#undef LOOM_ELEMWISE_BINARY

#define LOOM_SCALAR_OP(Name, Op, AliasName, Doc)                        \
  LOOM_REGISTER_OP(Name)                                                \
      .Describe(Doc)                                                    \
      .Alias(AliasName)                                                 \
      .Params<ScalarParam>()                                            \
      .Inputs({"data"})                                                 \
      .InferShape(ElemwiseShape)                                        \
      .InferType(ElemwiseType)                                          \
      .InplaceOptions(InplaceFirst)                                     \
      .Kernel(DeviceType::kCPU, FCompute(ScalarKernel<ScalarOp::Op>))   \
      .Gradient(BackwardOf("_backward" #Name, {kOutGrad, InputAt(0)})); \
  LOOM_REGISTER_OP(_backward##Name)                                     \
      .Describe("Gradient of " #Name " with respect to data.")          \
      .Inputs({"out_grad", "data"})                                     \
      .InferShape(ElemwiseShape)                                        \
      .InferType(ElemwiseType)                                          \
      .InplaceOptions(InplaceFirst)                                     \
      .Kernel(DeviceType::kCPU, FCompute(ScalarBackwardKernel<ScalarOp::Op>))

// maximum / minimum pass the gradient where data >= scalar / data <= scalar.
LOOM_SCALAR_OP(_maximum_scalar, kMaximum, "_MaximumScalar", "max(data, scalar).");
LOOM_SCALAR_OP(_minimum_scalar, kMinimum, "_MinimumScalar", "min(data, scalar).");
LOOM_SCALAR_OP(_power_scalar, kPower, "_PowerScalar", "data ** scalar.");
LOOM_SCALAR_OP(_rpower_scalar, kRPower, "_RPowerScalar", "scalar ** data.");

#undef LOOM_SCALAR_OP

}  // namespace
}  // namespace loom::ops
