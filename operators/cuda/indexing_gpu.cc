// GPU kernels of the index-driven operators: Embedding, one_hot, pick and batch_take, with the
// gradients of Embedding and pick. As the CPU kernels (operators/cpu/indexing.cc, pick.cc), except
// that out-of-range Embedding / one_hot indices are clipped / give a row of off_value instead of
// an error (see indexing_kernels.h).
#include "operators/cpu/common.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/indexing_kernels.h"
#include "operators/src/indexing_param.h"

namespace loom::ops {
namespace {

using gpu::Reqs;
using gpu::Views;

// (data, weight) -> output
void EmbeddingGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const TensorView &indices = in[0], &weight = in[1];
  LOOM_CHECK_TYPED(ShapeError, weight.shape.ndim() == 2, "Embedding: expected weight ",
                   "(input_dim, output_dim) but got ", weight.shape.ToString());
  const int64_t dim = weight.shape[1];
  cpu::CheckSize(out[0], indices.size() * dim, "Embedding", "out");
  cpu::CheckSameDType(weight, out[0], "Embedding", "weight", "out");
  gpu::EmbeddingForward(weight.dtype, indices.dtype, indices.ptr, weight.ptr, out[0].ptr,
                        indices.size(), weight.shape[0], dim, gpu::Req(req[0]), ctx.run.stream);
}

// (out_grad, data) -> weight_grad
void EmbeddingBackwardGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const TensorView &g = in[0], &indices = in[1], &dw = out[0];
  LOOM_CHECK_TYPED(ShapeError, dw.shape.ndim() == 2, "Embedding: expected weight_grad ",
                   "(input_dim, output_dim) but got ", dw.shape.ToString());
  const int64_t dim = dw.shape[1];
  cpu::CheckSize(g, indices.size() * dim, "Embedding", "out_grad");
  cpu::CheckSameDType(dw, g, "Embedding", "weight_grad", "out_grad");
  float* scratch = dw.dtype == DType::kFloat16
                       ? static_cast<float*>(gpu::Workspace(ctx, dw.size() * sizeof(float)))
                       : nullptr;
  gpu::EmbeddingBackward(dw.dtype, indices.dtype, g.ptr, indices.ptr, dw.ptr, scratch,
                         indices.size(), dw.shape[0], dim, gpu::Req(req[0]), ctx.run.stream);
}

void OneHotGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const auto& p = attrs.param<OneHotParam>();
  LOOM_CHECK(p.depth >= 1, "one_hot: expected depth >= 1 but got ", p.depth);
  cpu::CheckSize(out[0], in[0].size() * p.depth, "one_hot", "out");
  gpu::OneHot(out[0].dtype, in[0].dtype, in[0].ptr, out[0].ptr, in[0].size(), p.depth, p.on_value,
              p.off_value, gpu::Req(req[0]), ctx.run.stream);
}

cpu::AxisSplit CheckPick(const NodeAttrs& attrs, const TensorView& data, const TensorView& index,
                         const TensorView& out) {
  const int axis = static_cast<int>(*attrs.param<PickParam>().axis);
  const cpu::AxisSplit s =
      cpu::SplitAt(data.shape, cpu::NormalizeAxis(axis, data.shape.ndim(), "pick"));
  LOOM_CHECK_TYPED(ShapeError, s.n > 0 || s.outer * s.inner == 0,
                   "pick: cannot pick along an empty axis of data ", data.shape.ToString());
  cpu::CheckSize(index, s.outer * s.inner, "pick", "index");
  cpu::CheckSize(out, s.outer * s.inner, "pick", "out");
  cpu::CheckSameDType(data, out, "pick", "data", "out");
  return s;
}

bool Wrap(const NodeAttrs& attrs) {
  return attrs.param<PickParam>().mode == PickParam::Mode::kWrap;
}

// (data, index) -> output
void PickGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const cpu::AxisSplit s = CheckPick(attrs, in[0], in[1], out[0]);
  gpu::PickForward(in[0].dtype, in[1].dtype, in[0].ptr, in[1].ptr, out[0].ptr, s.outer, s.n,
                   s.inner, Wrap(attrs), gpu::Req(req[0]), ctx.run.stream);
}

// (out_grad, index) -> data_grad
void PickBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const cpu::AxisSplit s = CheckPick(attrs, out[0], in[1], in[0]);
  gpu::PickBackward(out[0].dtype, in[1].dtype, in[0].ptr, in[1].ptr, out[0].ptr, s.outer, s.n,
                    s.inner, Wrap(attrs), gpu::Req(req[0]), ctx.run.stream);
}

// (a, indices) -> output
void BatchTakeGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const TensorView &a = in[0], &indices = in[1];
  const int64_t n = indices.size();
  cpu::CheckSize(out[0], n, "batch_take", "out");
  cpu::CheckSameDType(a, out[0], "batch_take", "a", "out");
  LOOM_CHECK_TYPED(ShapeError, n > 0 ? a.size() % n == 0 && a.size() >= n : a.size() == 0,
                   "batch_take: expected a of shape (", n, ", K) for ", n, " indices but got ",
                   a.shape.ToString());
  gpu::BatchTake(a.dtype, indices.dtype, a.ptr, indices.ptr, out[0].ptr, n,
                 n > 0 ? a.size() / n : 0, gpu::Req(req[0]), ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("Embedding", kGPU, FCompute(EmbeddingGpu));
LOOM_REGISTER_KERNEL("_backward_Embedding", kGPU, FCompute(EmbeddingBackwardGpu));
LOOM_REGISTER_KERNEL("one_hot", kGPU, FCompute(OneHotGpu));
LOOM_REGISTER_KERNEL("pick", kGPU, FCompute(PickGpu));
LOOM_REGISTER_KERNEL("_backward_pick", kGPU, FCompute(PickBackwardGpu));
LOOM_REGISTER_KERNEL("batch_take", kGPU, FCompute(BatchTakeGpu));

}  // namespace loom::ops
