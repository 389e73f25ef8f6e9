// Binary arithmetic with NumPy broadcasting: broadcast_add, _sub, _mul, _div, _maximum,
// _minimum and _power.
#include <algorithm>

#include "operators/cpu/elementwise.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

// Aligns the shapes from the right; axes of size 1 stretch to the other operand's size.
void BroadcastShape(ShapeContext& ctx) {
  const Shape& lhs = ctx.in(0);
  const Shape& rhs = ctx.in(1);
  if (lhs.ndim() == 0 || rhs.ndim() == 0) return;
  if (lhs == rhs) {
    ctx.SetOut(0, lhs, "lhs and rhs");
    return;
  }
  const int n = std::max(lhs.ndim(), rhs.ndim());
  const int bl = n - lhs.ndim(), br = n - rhs.ndim();
  Shape out = UnknownShape(n);
  for (int i = 0; i < n; ++i) {
    const int64_t l = i >= bl ? lhs[i - bl] : 1;
    const int64_t r = i >= br ? rhs[i - br] : 1;
    if (l == 0 || r == 0) continue;
    if (l != r && l != 1 && r != 1) {
      ctx.Fail("cannot broadcast " + ctx.DescribeInput(0) + " " + Str(lhs) + " with " +
               ctx.DescribeInput(1) + " " + Str(rhs) + ": sizes " + std::to_string(l) + " and " +
               std::to_string(r) + " differ and neither is 1");
    }
    out[i] = l == 1 ? r : l;
  }
  ctx.SetOut(0, out, "broadcasting lhs " + Str(lhs) + " with rhs " + Str(rhs));
}

template <cpu::BinaryOp kOp>
void BroadcastKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
  cpu::BroadcastForward(kOp, in[0], in[1], out[0], req[0]);
}

// Inputs (out_grad, lhs, rhs); outputs (lhs_grad, rhs_grad), summed over the broadcast axes.
template <cpu::BinaryOp kOp>
void BroadcastBackwardKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
  cpu::BroadcastBackward(kOp, in[0], in[1], in[2], out[0], req[0], out[1], req[1]);
}

#define LOOM_BROADCAST_BINARY(Name, Op, Doc)                                              \
  LOOM_REGISTER_OP(Name)                                                                  \
      .Describe(Doc                                                                       \
                " Shapes broadcast as in NumPy: aligned from the right, an axis of size " \
                "1 (or a missing one) stretches to the other operand's size.")            \
      .Inputs({"lhs", "rhs"})                                                             \
      .InferShape(BroadcastShape)                                                         \
      .InferType(ElemwiseType)                                                            \
      .Kernel(DeviceType::kCPU, FCompute(BroadcastKernel<cpu::BinaryOp::Op>))             \
      .Gradient(BackwardOf("_backward_" #Name, {kOutGrad, InputAt(0), InputAt(1)}))

#define LOOM_BROADCAST_BINARY_BACKWARD(Name, Op)                       \
  LOOM_REGISTER_OP(_backward_##Name)                                   \
      .Describe("Gradients of " #Name " with respect to lhs and rhs.") \
      .Inputs({"out_grad", "lhs", "rhs"})                              \
      .NumOutputs(2)                                                   \
      .InferType([](TypeContext& ctx) {                                \
        ctx.SetOut(0, ctx.in(1));                                      \
        ctx.SetOut(1, ctx.in(2));                                      \
      })                                                               \
      .Kernel(DeviceType::kCPU, FCompute(BroadcastBackwardKernel<cpu::BinaryOp::Op>))

LOOM_BROADCAST_BINARY(broadcast_add, kAdd, "lhs + rhs.").Alias("broadcast_plus");
LOOM_BROADCAST_BINARY_BACKWARD(broadcast_add, kAdd);
LOOM_BROADCAST_BINARY(broadcast_sub, kSub, "lhs - rhs.").Alias("broadcast_minus");
LOOM_BROADCAST_BINARY_BACKWARD(broadcast_sub, kSub);
LOOM_BROADCAST_BINARY(broadcast_mul, kMul, "lhs * rhs.");
LOOM_BROADCAST_BINARY_BACKWARD(broadcast_mul, kMul);
LOOM_BROADCAST_BINARY(broadcast_div, kDiv, "lhs / rhs.");
LOOM_BROADCAST_BINARY_BACKWARD(broadcast_div, kDiv);
LOOM_BROADCAST_BINARY(broadcast_maximum, kMaximum, "max(lhs, rhs).");
LOOM_BROADCAST_BINARY_BACKWARD(broadcast_maximum, kMaximum);
LOOM_BROADCAST_BINARY(broadcast_minimum, kMinimum, "min(lhs, rhs).");
LOOM_BROADCAST_BINARY_BACKWARD(broadcast_minimum, kMinimum);
LOOM_BROADCAST_BINARY(broadcast_power, kPower, "lhs ** rhs.");
LOOM_BROADCAST_BINARY_BACKWARD(broadcast_power, kPower);

#undef LOOM_BROADCAST_BINARY_BACKWARD

#undef LOOM_BROADCAST_BINARY

}  // namespace
}  // namespace loom::ops
