// Concat (alias concat): joins a variable number of arrays along one axis.
#include "concat_param.h"
#include "operators/cpu/layout.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

void ConcatShape(ShapeContext& ctx) {
  const auto& p = ctx.param<ConcatParam>();
  const size_t n = ctx.num_inputs();
  // Every input and the output agree on all dimensions but `dim`: gather them in `common`,
  // with `dim` itself unknown.
  Shape common;
  int axis = -1;
  auto gather = [&](const Shape& s, const std::string& what) {
    if (s.ndim() == 0) return;
    axis = NormalizeAxis(ctx, p.dim, s, "dim");
    Shape t = s;
    t[axis] = 0;
    if (!MergeShape(&common, t)) {
      ctx.Fail(what + " has shape " + Str(s) + " but expected " + Str(common) +
               " (equal except along dim=" + std::to_string(p.dim) + ")");
    }
  };
  for (size_t i = 0; i < n; ++i) gather(ctx.in(i), ctx.DescribeInput(i));
  gather(ctx.out(0), "output");
  if (common.ndim() == 0) return;
  for (size_t i = 0; i < n; ++i) ctx.SetIn(i, common, "the other inputs of the concatenation");
  ctx.SetOut(0, common, "the inputs");
  // Along `dim`: the output is the sum; one unknown input follows from a known output.
  int64_t sum = 0;
  int unknown = -1, unknowns = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t d = ctx.in(i)[axis];
    if (d == 0) {
      ++unknowns;
      unknown = static_cast<int>(i);
    }
    sum += d;
  }
  Shape out = ctx.out(0);
  if (unknowns == 0) {
    out[axis] = sum;
    ctx.SetOut(0, out, "the sum of the inputs along dim=" + std::to_string(p.dim));
  } else if (unknowns == 1 && out[axis] != 0) {
    if (out[axis] <= sum) {
      ctx.Fail("output has size " + std::to_string(out[axis]) +
               " along dim=" + std::to_string(p.dim) + " but the known inputs already add up to " +
               std::to_string(sum));
    }
    Shape in = ctx.in(unknown);
    in[axis] = out[axis] - sum;
    ctx.SetIn(unknown, in, "the output's size along dim=" + std::to_string(p.dim));
  }
}

LOOM_REGISTER_OP(Concat)
    .Alias("concat")
    .Describe(R"(Concatenates num_args arrays along `dim`: all dimensions but `dim` must agree;
the output's `dim` is the sum of the inputs'. Example: (2,3) and (2,5) along dim 1 give (2,8).)")
    .Params<ConcatParam>()
    .VariadicInputs("num_args")
    .InferShape(ConcatShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::ConcatForward(in, static_cast<int>(attrs.param<ConcatParam>().dim), out[0],
                                 req[0]);
            }))
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_Concat", n, {g[0]});
      std::vector<NodeEntry> grads;
      for (uint32_t i = 0; i < n->inputs.size(); ++i) grads.push_back(OutputOf(bw, i));
      return grads;
    });

LOOM_REGISTER_OP(_backward_Concat)
    .Describe("Gradient of Concat: out_grad cut back into the inputs' parts along dim.")
    .Inputs({"out_grad"})
    .NumOutputs([](const NodeAttrs& attrs) {
      return static_cast<uint32_t>(attrs.param<ConcatParam>().num_args);
    })
    .InferType([](TypeContext& ctx) {
      for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.SetOut(i, ctx.in(0));
    })
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::ConcatBackward(in[0], static_cast<int>(attrs.param<ConcatParam>().dim), out,
                                  req);
            }));

}  // namespace
}  // namespace loom::ops
