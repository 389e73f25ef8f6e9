// Matrix products: dot (tensordot over one axis) and batch_dot (batched matrix products).
#include "operators/cpu/dot.h"

#include "dot_param.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

// Inputs (out_grad, lhs, rhs); outputs (lhs_grad, rhs_grad).
template <bool kBatch>
void DotBackwardKernel(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req, Outputs out) {
  if constexpr (kBatch) {
    cpu::BatchDotBackward(attrs.param<DotParam>().kernel_params(), in[0], in[1], in[2], out[0],
                          req[0], out[1], req[1]);
  } else {
    cpu::DotBackward(attrs.param<DotParam>().kernel_params(), in[0], in[1], in[2], out[0], req[0],
                     out[1], req[1]);
  }
}

std::string Operands(const ShapeContext& ctx) { return Str(ctx.in(0)) + " x " + Str(ctx.in(1)); }

// lhs (a..., k) . rhs (k, b...) = (a..., b...); transpose_a moves lhs' k to the front,
// transpose_b moves rhs' k to the back. Two vectors give (1,).
void DotShape(ShapeContext& ctx) {
  const auto& p = ctx.param<DotParam>();
  const Shape& l = ctx.in(0);
  const Shape& r = ctx.in(1);
  if (l.ndim() == 0 || r.ndim() == 0) return;
  if (l.ndim() == 1 && r.ndim() == 1) {
    if (p.transpose_a || p.transpose_b) ctx.Fail("cannot transpose vectors: " + Operands(ctx));
    if (l[0] != 0 && r[0] != 0 && l[0] != r[0]) {
      ctx.Fail("cannot multiply vectors of different lengths: " + Operands(ctx));
    }
    ctx.SetOut(0, Shape{1}, "two vectors");
    return;
  }
  // Split each operand into (kept axes, contracted axes).
  auto part = [](const Shape& s, int begin, int end) {
    return Shape(std::vector<int64_t>(s.begin() + begin, s.begin() + end));
  };
  const int ln = l.ndim(), rn = r.ndim();
  const Shape l_keep = p.transpose_a ? part(l, 1, ln) : part(l, 0, ln - 1);
  const Shape l_sum = p.transpose_a ? part(l, 0, 1) : part(l, ln - 1, ln);
  const Shape r_keep = p.transpose_b ? part(r, 0, rn - 1) : part(r, 1, rn);
  const Shape r_sum = p.transpose_b ? part(r, rn - 1, rn) : part(r, 0, 1);
  // MXNet compares element counts: lhs' contracted axis against rhs', whichever side is 1-D.
  const Shape& lk = ln > 1 ? l_sum : l;
  const Shape& rk = rn > 1 ? r_sum : r;
  if (lk.IsKnown() && rk.IsKnown() && lk.Size() != rk.Size()) {
    ctx.Fail("cannot multiply " + Operands(ctx) + ": the contracted sizes " +
             std::to_string(lk.Size()) + " and " + std::to_string(rk.Size()) + " differ" +
             (p.transpose_a || p.transpose_b ? " (after transpose_a/transpose_b)" : ""));
  }
  Shape out;
  if (ln > 1) {
    for (int64_t d : l_keep) out.push_back(d);
  }
  if (rn > 1) {
    for (int64_t d : r_keep) out.push_back(d);
  }
  ctx.SetOut(0, out, Operands(ctx));
}

LOOM_REGISTER_OP(dot)
    .Describe(R"(Tensor product over one axis: lhs (a..., k) and rhs (k, b...) give (a..., b...)
(transpose_a / transpose_b take lhs' first and rhs' last axis as k). Two vectors give (1,).
Examples: (2,3)x(3,4) -> (2,4); (2,3,4)x(4,5,6) -> (2,3,5,6); (0,3,4)x(4,5) -> (0,3,5).)")
    .Params<DotParam>()
    .Inputs({"lhs", "rhs"})
    .InferShape(DotShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::DotForward(attrs.param<DotParam>().kernel_params(), in[0], in[1], out[0],
                              req[0]);
            }))
    .Gradient(BackwardOf("_backward_dot", {kOutGrad, InputAt(0), InputAt(1)}));

LOOM_REGISTER_OP(_backward_dot)
    .Describe("Gradients of dot: lhs_grad = out_grad . rhs^T, rhs_grad = lhs^T . out_grad.")
    .Inputs({"out_grad", "lhs", "rhs"})
    .NumOutputs(2)
    .Kernel(DeviceType::kCPU, FCompute(DotBackwardKernel<false>));

// lhs (B..., m, k) and rhs (B..., k, n) give (B..., m, n), both at least 3-D with equal batch
// axes.
void BatchDotShape(ShapeContext& ctx) {
  const auto& p = ctx.param<DotParam>();
  const Shape& l = ctx.in(0);
  const Shape& r = ctx.in(1);
  if (l.ndim() == 0 || r.ndim() == 0) return;
  const int n = l.ndim();
  if (n < 3 || r.ndim() != n) {
    ctx.Fail("needs lhs and rhs of the same number (>= 3) of dimensions but got " + Operands(ctx));
  }
  Shape out = UnknownShape(n);
  for (int i = 0; i < n - 2; ++i) {
    if (l[i] != 0 && r[i] != 0 && l[i] != r[i]) {
      ctx.Fail("needs equal batch dimensions but got " + Operands(ctx));
    }
    out[i] = l[i] != 0 ? l[i] : r[i];
  }
  const int64_t m = p.transpose_a ? l[n - 1] : l[n - 2];
  const int64_t lk = p.transpose_a ? l[n - 2] : l[n - 1];
  const int64_t rk = p.transpose_b ? r[n - 1] : r[n - 2];
  const int64_t cols = p.transpose_b ? r[n - 2] : r[n - 1];
  // Like MXNet, nothing is inferred until both contracted sizes are known.
  if (lk == 0 || rk == 0) return;
  if (lk != rk) {
    ctx.Fail("cannot multiply " + Operands(ctx) + ": the contracted sizes " + std::to_string(lk) +
             " and " + std::to_string(rk) + " differ" +
             (p.transpose_a || p.transpose_b ? " (after transpose_a/transpose_b)" : ""));
  }
  out[n - 2] = m;
  out[n - 1] = cols;
  ctx.SetOut(0, out, Operands(ctx));
}

LOOM_REGISTER_OP(batch_dot)
    .Describe(R"(Batched matrix products: lhs (B..., m, k) and rhs (B..., k, n) give
(B..., m, n), with transpose_a / transpose_b transposing the last two axes first.)")
    .Params<DotParam>()
    .Inputs({"lhs", "rhs"})
    .InferShape(BatchDotShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::BatchDotForward(attrs.param<DotParam>().kernel_params(), in[0], in[1], out[0],
                                   req[0]);
            }))
    .Gradient(BackwardOf("_backward_batch_dot", {kOutGrad, InputAt(0), InputAt(1)}));

LOOM_REGISTER_OP(_backward_batch_dot)
    .Describe("Gradients of batch_dot with respect to lhs and rhs, per batch.")
    .Inputs({"out_grad", "lhs", "rhs"})
    .NumOutputs(2)
    .Kernel(DeviceType::kCPU, FCompute(DotBackwardKernel<true>));

}  // namespace
}  // namespace loom::ops
