// Axis permutations: transpose (any permutation) and SwapAxis (exchange two axes).
#include <algorithm>

#include "operators/cpu/layout.h"
#include "shape_util.h"
#include "tensor_kernels.h"
#include "transpose_param.h"

namespace loom::ops {
namespace {

// perm[i] = the input axis that becomes output axis i.
void Permute(ShapeContext& ctx, const std::vector<int>& perm) {
  const Shape& data = ctx.in(0);
  const int n = static_cast<int>(perm.size());
  Shape out = UnknownShape(n);
  if (data.ndim() > 0) {
    for (int i = 0; i < n; ++i) out[i] = data[perm[i]];
    ctx.SetOut(0, out, "data " + Str(data));
  }
  const Shape& o = ctx.out(0);
  if (o.ndim() == 0) return;
  if (o.ndim() != n) {
    ctx.Fail("output has shape " + Str(o) + " but expected " + std::to_string(n) + " dimensions");
  }
  Shape back = UnknownShape(n);
  for (int i = 0; i < n; ++i) back[perm[i]] = o[i];
  ctx.SetIn(0, back, "the output shape " + Str(o));
}

void TransposeShape(ShapeContext& ctx) {
  const auto& p = ctx.param<TransposeParam>();
  const int n = std::max(ctx.in(0).ndim(), ctx.out(0).ndim());
  if (n == 0) return;
  std::vector<int> perm(n);
  if (p.axes.ndim() == 0) {
    for (int i = 0; i < n; ++i) perm[i] = n - 1 - i;
  } else {
    if (p.axes.ndim() != n) {
      ctx.Fail("parameter axes=" + FormatParam(p.axes) + " permutes " +
               std::to_string(p.axes.ndim()) + " axes but the data has " + std::to_string(n) +
               " (" + ctx.DescribeInput(0) + " " + Str(ctx.in(0)) + ")");
    }
    for (int i = 0; i < n; ++i) perm[i] = static_cast<int>(p.axes[i]);
  }
  Permute(ctx, perm);
}

LOOM_REGISTER_OP(transpose)
    .Describe(R"(Permutes the axes: output axis i is input axis axes[i]; without axes the order
is reversed. Example: data (0,3,224,224) with axes (0,3,2,1) gives (0,224,224,3).)")
    .Params<TransposeParam>()
    .Inputs({"data"})
    .InferShape(TransposeShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              const Shape& axes = attrs.param<TransposeParam>().axes;
              const std::vector<int> perm(axes.begin(), axes.end());
              cpu::TransposeForward(in[0], perm, out[0], req[0]);
            }))
    // The gradient is the inverse permutation of the head gradient (reversal is its own).
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      const Shape& axes = n->attrs.param<TransposeParam>().axes;
      Shape inverse = axes;
      for (int i = 0; i < axes.ndim(); ++i) inverse[static_cast<int>(axes[i])] = i;
      StrMap params;
      if (axes.ndim() > 0) params["axes"] = FormatParam(inverse);
      return std::vector<NodeEntry>{
          OutputOf(MakeGradOpNode("transpose", n, "_backward", {g[0]}, params), 0)};
    });

void SwapAxisShape(ShapeContext& ctx) {
  const auto& p = ctx.param<SwapAxisParam>();
  const Shape& any = ctx.in(0).ndim() > 0 ? ctx.in(0) : ctx.out(0);
  const int n = any.ndim();
  if (n == 0) return;
  const int a = NormalizeAxis(ctx, p.dim1, any, "dim1");
  const int b = NormalizeAxis(ctx, p.dim2, any, "dim2");
  std::vector<int> perm(n);
  for (int i = 0; i < n; ++i) perm[i] = i;
  std::swap(perm[a], perm[b]);
  Permute(ctx, perm);
}

LOOM_REGISTER_OP(SwapAxis)
    .Alias("swapaxes")
    .Describe("Exchanges axes dim1 and dim2: data (2,3,4) with dim1=0, dim2=2 gives (4,3,2).")
    .Params<SwapAxisParam>()
    .Inputs({"data"})
    .InferShape(SwapAxisShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              const auto& p = attrs.param<SwapAxisParam>();
              cpu::SwapAxis(in[0], static_cast<int>(p.dim1), static_cast<int>(p.dim2), out[0],
                            req[0]);
            }))
    // Swapping is its own inverse.
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      const auto& p = n->attrs.param<SwapAxisParam>();
      return std::vector<NodeEntry>{
          OutputOf(MakeGradOpNode("SwapAxis", n, "_backward", {g[0]},
                                  {{"dim1", FormatParam(p.dim1)}, {"dim2", FormatParam(p.dim2)}}),
                   0)};
    });

}  // namespace
}  // namespace loom::ops
