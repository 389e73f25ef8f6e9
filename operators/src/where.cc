// where: elementwise selection between two arrays by a condition.
#include "operators/cpu/elementwise.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

void WhereShape(ShapeContext& ctx) {
  // x, y and the output share one shape.
  Shape t = ctx.in(1);
  if (!MergeShape(&t, ctx.in(2))) {
    ctx.Fail(ctx.DescribeInput(1) + " has shape " + Str(ctx.in(1)) + " but " +
             ctx.DescribeInput(2) + " has shape " + Str(ctx.in(2)) +
             "; x and y must have the same shape");
  }
  if (!MergeShape(&t, ctx.out(0))) {
    ctx.Fail("output has shape " + Str(ctx.out(0)) + " but x and y have " + Str(t));
  }
  const Shape& cond = ctx.in(0);
  // A condition of more than one dimension has the shape of x (a 1-D one selects rows).
  if (cond.ndim() > 1 || (cond.ndim() == 1 && t.ndim() == 1)) {
    if (!MergeShape(&t, cond)) {
      ctx.Fail(ctx.DescribeInput(0) + " has shape " + Str(cond) + " but x and y have " + Str(t));
    }
  }
  if (t.ndim() == 0) return;
  ctx.SetIn(1, t, "x, y and the output");
  ctx.SetIn(2, t, "x, y and the output");
  ctx.SetOut(0, t, "x and y");
  if (cond.ndim() == t.ndim()) {
    ctx.SetIn(0, t, "x and y");
  } else if (cond.ndim() == 1 && cond[0] != 0 && t[0] != 0 && cond[0] != t[0]) {
    ctx.Fail(ctx.DescribeInput(0) + " has shape " + Str(cond) +
             " but a 1-D condition needs one element per row of x " + Str(t));
  }
}

void WhereType(TypeContext& ctx) {
  // x, y and the output share a dtype; the condition's is free.
  DType t = ctx.in(1);
  if (!MergeType(&t, ctx.in(2))) {
    ctx.Fail(ctx.DescribeInput(1) + " has dtype " + ToString(ctx.in(1)) + " but " +
             ctx.DescribeInput(2) + " has dtype " + ToString(ctx.in(2)));
  }
  ctx.SetOut(0, t);
  ctx.SetIn(1, ctx.out(0));
  ctx.SetIn(2, ctx.out(0));
}

LOOM_REGISTER_OP(where)
    .Describe(R"(out = condition ? x : y elementwise. x, y and the output share one shape; the
condition has that shape too, or is 1-D with one element per row (selecting whole rows).)")
    .Inputs({"condition", "x", "y"})
    .InferShape(WhereShape)
    .InferType(WhereType)
    .Kernel(DeviceType::kCPU,
            FCompute([](const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
              cpu::WhereForward(in[0], in[1], in[2], out[0], req[0]);
            }))
    // The condition gets no gradient; x and y get out_grad where they were picked.
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_where", n, {g[0], n->inputs[0]});
      return std::vector<NodeEntry>{NodeEntry{}, OutputOf(bw, 0), OutputOf(bw, 1)};
    });

LOOM_REGISTER_OP(_backward_where)
    .Describe("Gradients of where for x and y from (out_grad, condition).")
    .Inputs({"out_grad", "condition"})
    .NumOutputs(2)
    .InferType([](TypeContext& ctx) {
      ctx.SetOut(0, ctx.in(0));
      ctx.SetOut(1, ctx.in(0));
    })
    .Kernel(DeviceType::kCPU,
            FCompute([](const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
              cpu::WhereBackward(in[0], in[1], out[0], req[0], out[1], req[1]);
            }));

}  // namespace
}  // namespace loom::ops
