// Index-driven operators: Embedding, one_hot, pick, batch_take. Indices get no gradient;
// Embedding's weight gradient is a scatter-add, pick's data gradient a scatter. one_hot and
// batch_take are not differentiable (as in MXNet).
#include "operators/cpu/indexing.h"

#include "indexing_param.h"
#include "nn_util.h"
#include "operators/cpu/pick.h"

namespace loom::ops {
namespace {

// Output = indices' shape + (n,): fills either side from the other.
void AppendAxisShape(ShapeContext& ctx, int64_t n, const std::string& why) {
  const Shape& idx = ctx.in(0);
  if (idx.ndim() > 0) {
    Shape out = idx;
    out.push_back(n);
    ctx.SetOut(0, out, Str(idx) + " and " + why);
  }
  const Shape& o = ctx.out(0);
  if (o.ndim() == 0) return;
  if (o.ndim() < 2 || (o[o.ndim() - 1] != 0 && o[o.ndim() - 1] != n)) {
    ctx.Fail("output has shape " + Str(o) + " but expected (..., " + std::to_string(n) + ") from " +
             why);
  }
  ctx.SetIn(0, Shape(std::vector<int64_t>(o.begin(), o.end() - 1)), "the output shape " + Str(o));
}

// ---- Embedding ----

void EmbeddingShape(ShapeContext& ctx) {
  const auto& p = ctx.param<EmbeddingParam>();
  ctx.SetIn(
      1, Shape{p.input_dim, p.output_dim},
      "input_dim=" + std::to_string(p.input_dim) + ", output_dim=" + std::to_string(p.output_dim));
  AppendAxisShape(ctx, p.output_dim, "output_dim=" + std::to_string(p.output_dim));
}

// Weight and output share a dtype: a given one, else `dtype`. The indices' dtype is free.
void EmbeddingType(TypeContext& ctx) {
  const auto& p = ctx.param<EmbeddingParam>();
  ctx.SetIn(1, ctx.out(0));
  ctx.SetOut(0, ctx.in(1));
  const DType t = ctx.in(1) != DType::kUnknown ? ctx.in(1) : p.dtype;
  ctx.SetIn(1, t, "parameter dtype");
  ctx.SetOut(0, t, "the weight's dtype");
}

// (data, weight) -> output; an index outside [0, input_dim) is an error naming it.
void EmbeddingCompute(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  cpu::EmbeddingForward(in[0], in[1], out[0], req[0]);
}

// (out_grad, data) -> weight_grad
void EmbeddingBackwardCompute(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  cpu::EmbeddingBackward(in[0], in[1], out[0], req[0]);
}

LOOM_REGISTER_OP(Embedding)
    .Describe(R"(Looks up rows of weight (input_dim, output_dim) by the indices in data (held as
floats or integers): the output is data.shape + (output_dim,).)")
    .Params<EmbeddingParam>()
    .Inputs({"data", "weight"})
    .InferShape(EmbeddingShape)
    .InferType(EmbeddingType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_Embedding", n, {g[0], n->inputs[0]});
      return std::vector<NodeEntry>{NodeEntry{}, Out(bw, 0)};
    })
    .Kernel(DeviceType::kCPU, FCompute(EmbeddingCompute));

LOOM_REGISTER_OP(_backward_Embedding)
    .Describe("Gradient of Embedding wrt its weight: out_grad rows summed into the indexed rows.")
    .Inputs({"out_grad", "data"})
    .InferType(OutputsLikeInput<0>)
    .Kernel(DeviceType::kCPU, FCompute(EmbeddingBackwardCompute));

// ---- one_hot ----

void OneHotCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<OneHotParam>();
  cpu::OneHot(in[0], p.depth, p.on_value, p.off_value, out[0], req[0]);
}

LOOM_REGISTER_OP(one_hot)
    .Describe(R"(One-hot encoding: output indices.shape + (depth,), on_value at each index and
off_value elsewhere, with dtype `dtype`. An index outside [0, depth) is an error naming it
(MXNet gives a row of off_value). Not differentiable.)")
    .Params<OneHotParam>()
    .Inputs({"indices"})
    .InferShape([](ShapeContext& ctx) {
      const auto& p = ctx.param<OneHotParam>();
      AppendAxisShape(ctx, p.depth, "depth=" + std::to_string(p.depth));
    })
    .InferType([](TypeContext& ctx) {
      ctx.SetOut(0, ctx.param<OneHotParam>().dtype, "parameter dtype");
    })
    .Kernel(DeviceType::kCPU, FCompute(OneHotCompute));

// ---- pick ----

void PickShape(ShapeContext& ctx) {
  const auto& p = ctx.param<PickParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int axis = NormalizeAxis(ctx, *p.axis, data);
  // The index has the data's shape without `axis`; the output too, or keeps it as 1.
  Shape index, out;
  for (int i = 0; i < data.ndim(); ++i) {
    if (i != axis) {
      index.push_back(data[i]);
      out.push_back(data[i]);
    } else if (p.keepdims) {
      out.push_back(1);
    }
  }
  if (index.ndim() == 0) index.push_back(1);
  if (out.ndim() == 0) out.push_back(1);
  ctx.SetOut(0, out, "data " + Str(data));
  ctx.SetIn(1, index, "data " + Str(data) + " without axis " + std::to_string(axis));
}

int PickAxis(const NodeAttrs& attrs) { return static_cast<int>(*attrs.param<PickParam>().axis); }
cpu::PickMode PickMode(const NodeAttrs& attrs) {
  return attrs.param<PickParam>().mode == PickParam::Mode::kWrap ? cpu::PickMode::kWrap
                                                                 : cpu::PickMode::kClip;
}

// (data, index) -> output
void PickCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  cpu::PickForward(in[0], in[1], PickAxis(attrs), PickMode(attrs), out[0], req[0]);
}

// (out_grad, index) -> data_grad
void PickBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  cpu::PickBackward(in[0], in[1], PickAxis(attrs), PickMode(attrs), out[0], req[0]);
}

LOOM_REGISTER_OP(pick)
    .Describe(R"(Picks one element along `axis` per position: out[i, k] = data[i, index[i, k], k].
index has the data's shape without `axis`; so has the output, which keeps the axis with size 1
with keepdims. Example: data (0,3,3), index (0,3), axis 1 gives (0,3).)")
    .Params<PickParam>()
    .Inputs({"data", "index"})
    .InferShape(PickShape)
    .InferType(FirstInputType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_pick", n, {g[0], n->inputs[1]});
      return std::vector<NodeEntry>{Out(bw, 0), NodeEntry{}};
    })
    .Kernel(DeviceType::kCPU, FCompute(PickCompute));

LOOM_REGISTER_OP(_backward_pick)
    .Describe("Gradient of pick wrt its data: out_grad scattered to the picked elements.")
    .Inputs({"out_grad", "index"})
    .InferType(OutputsLikeInput<0>)
    .Kernel(DeviceType::kCPU, FCompute(PickBackwardCompute));

// ---- batch_take ----

void BatchTakeCompute(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  cpu::BatchTake(in[0], in[1], out[0], req[0]);
}

LOOM_REGISTER_OP(batch_take)
    .Describe(R"(Takes one element per row: out[i] = a[i, indices[i]] for a (N, K) and indices
(N,), indices clipped to [0, K). Deprecated in MXNet in favour of pick; not differentiable.)")
    .Inputs({"a", "indices"})
    .InferShape([](ShapeContext& ctx) {
      ctx.SetOut(0, ctx.in(1), "indices");
      ctx.SetIn(1, ctx.out(0), "the output shape");
    })
    .InferType(FirstInputType)
    .Kernel(DeviceType::kCPU, FCompute(BatchTakeCompute));

}  // namespace
}  // namespace loom::ops
