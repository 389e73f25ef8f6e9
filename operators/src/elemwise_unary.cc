// Elementwise unary operators: math functions, copies, gradient stops, clip and *_like.
#include "operators/cpu/elementwise.h"
#include "operators/cpu/tensor_misc.h"
#include "shape_util.h"
#include "tensor_kernels.h"
#include "clip_param.h"

namespace loom::ops {
namespace {

using cpu::UnaryOp;

template <UnaryOp kOp>
void UnaryKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
  cpu::UnaryForward(kOp, in[0], out[0], req[0]);
}

// Inputs (out_grad, data) or (out_grad, out), as UnaryBackwardReadsInput/Output say.
template <UnaryOp kOp>
void UnaryBackwardKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
  const TensorView none;
  const bool reads_x = cpu::UnaryBackwardReadsInput(kOp);
  cpu::UnaryBackward(kOp, in[0], reads_x ? in[1] : none, reads_x ? none : in[1], out[0], req[0]);
}

std::vector<BackwardInput> UnaryBackwardReads(UnaryOp op) {
  return {kOutGrad, cpu::UnaryBackwardReadsInput(op) ? InputAt(0) : OutputAt(0)};
}

std::vector<std::string> UnaryBackwardInputs(UnaryOp op) {
  return {"out_grad", cpu::UnaryBackwardReadsInput(op) ? "data" : "out"};
}

#define LOOM_UNARY(Name, Doc)    \
  LOOM_REGISTER_OP(Name)         \
      .Describe(Doc)             \
      .Inputs({"data"})          \
      .InferShape(ElemwiseShape) \
      .InferType(ElemwiseType)   \
      .InplaceOptions(InplaceFirst)

// A math function with kernel, gradient and its backward operator `_backward_<Name>`.
#define LOOM_UNARY_MATH(Name, Op, Doc)                                            \
  LOOM_UNARY(Name, Doc)                                                           \
      .Kernel(DeviceType::kCPU, FCompute(UnaryKernel<UnaryOp::Op>))               \
      .Gradient(BackwardOf("_backward_" #Name, UnaryBackwardReads(UnaryOp::Op))); \
  LOOM_REGISTER_OP(_backward_##Name)                                              \
      .Describe("Gradient of " #Name ": out_grad times the derivative.")          \
      .Inputs(UnaryBackwardInputs(UnaryOp::Op))                                   \
      .InferShape(ElemwiseShape)                                                  \
      .InferType(ElemwiseType)                                                    \
      .InplaceOptions(InplaceFirst)                                               \
      .Kernel(DeviceType::kCPU, FCompute(UnaryBackwardKernel<UnaryOp::Op>))

LOOM_UNARY_MATH(exp, kExp, "exp(x) elementwise.");
LOOM_UNARY_MATH(log, kLog, "Natural logarithm elementwise.");
LOOM_UNARY_MATH(sqrt, kSqrt, "Square root elementwise.");
LOOM_UNARY_MATH(rsqrt, kRsqrt, "1 / sqrt(x) elementwise.");
LOOM_UNARY_MATH(square, kSquare, "x * x elementwise.");
LOOM_UNARY_MATH(tanh, kTanh, "Hyperbolic tangent elementwise.");
LOOM_UNARY_MATH(sigmoid, kSigmoid, "1 / (1 + exp(-x)) elementwise.");
LOOM_UNARY_MATH(relu, kRelu, "max(x, 0) elementwise.");
LOOM_UNARY_MATH(abs, kAbs, "|x| elementwise.");

#undef LOOM_UNARY_MATH

LOOM_UNARY(negative, "-x elementwise.")
    .Kernel(DeviceType::kCPU, FCompute(UnaryKernel<UnaryOp::kNegative>))
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      return std::vector<NodeEntry>{
          OutputOf(MakeGradOpNode("negative", n, "_backward", {g[0]}), 0)};
    });

LOOM_UNARY(sin, "Sine elementwise.")
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs&, const OpContext&, Inputs in, Reqs req,
                                          Outputs out) { cpu::SinForward(in[0], out[0], req[0]); }))
    .Gradient(BackwardOf("_backward_sin", {kOutGrad, InputAt(0)}));

LOOM_REGISTER_OP(_backward_sin)
    .Describe("Gradient of sin: out_grad * cos(data).")
    .Inputs({"out_grad", "data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU,
            FCompute([](const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
              cpu::SinBackward(in[0], in[1], out[0], req[0]);
            }));

void CopyKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
  cpu::CopyForward(in[0], out[0], req[0]);
}

LOOM_UNARY(_copy, "A copy of the input.")
    .Alias("identity")
    .Kernel(DeviceType::kCPU, FCompute(CopyKernel))
    .Gradient(IdentityGradient);

LOOM_UNARY(BlockGrad, "The identity forward; stops the gradient (zero backward).")
    .Alias("stop_gradient")
    .Kernel(DeviceType::kCPU, FCompute(CopyKernel))
    .Gradient(ZeroGradient);

template <int kValue>
void FillKernel(const NodeAttrs&, const OpContext&, Inputs, Reqs req, Outputs out) {
  cpu::FillForward(kValue, out[0], req[0]);
}

LOOM_UNARY(zeros_like, "Zeros with the input's shape and dtype.")
    .Kernel(DeviceType::kCPU, FCompute(FillKernel<0>))
    .Gradient(ZeroGradient);
LOOM_UNARY(ones_like, "Ones with the input's shape and dtype.")
    .Kernel(DeviceType::kCPU, FCompute(FillKernel<1>))
    .Gradient(ZeroGradient);

#undef LOOM_UNARY

LOOM_REGISTER_OP(clip)
    .Describe("min(max(x, a_min), a_max) elementwise.")
    .Params<ClipParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              const auto& p = attrs.param<ClipParam>();
              cpu::ClipForward(in[0], p.a_min, p.a_max, out[0], req[0]);
            }))
    .Gradient(BackwardOf("_backward_clip", {kOutGrad, InputAt(0)}));

LOOM_REGISTER_OP(_backward_clip)
    .Describe("Gradient of clip: out_grad where a_min <= data <= a_max, else 0.")
    .Inputs({"out_grad", "data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              const auto& p = attrs.param<ClipParam>();
              cpu::ClipBackward(in[0], in[1], p.a_min, p.a_max, out[0], req[0]);
            }));

LOOM_REGISTER_OP(_identity_with_attr_like_rhs)
    .Describe(R"(Returns lhs unchanged; rhs only lends its shape and dtype (lhs, rhs and the
output all have one shape), so inference can flow from rhs to lhs.)")
    .Inputs({"lhs", "rhs"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute(CopyKernel))
    .Gradient([](const NodePtr&, const std::vector<NodeEntry>& g) {
      return std::vector<NodeEntry>{g[0], NodeEntry{}};
    });

}  // namespace
}  // namespace loom::ops
