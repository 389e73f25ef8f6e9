// GPU kernels of the reductions: sum, mean, max, min, prod, nansum, nanprod (any axes, keepdims,
// exclude) with their backward operators, argmax and argmin.
#include "operators/cuda/reduce_gpu.h"

#include <algorithm>
#include <vector>

#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cpu/reduce.h"
#include "operators/cpu/walk.h"
#include "operators/cuda/gpu_util.h"
#include "operators/src/reduce_param.h"

namespace loom::gpu {

ReducePlan MakeReducePlan(const Shape& full, const Shape& kept, const char* what) {
  ReducePlan p;
  p.n_out = kept.Size();
  if (p.n_out == 0) return p;
  if (full.Size() == 0) {
    // Nothing to reduce: every output is the reduction's identity.
    p.n_red = 0;
    p.nk = 1;
    p.kdims[0] = p.n_out;
    return p;
  }
  p.n_red = full.Size() / p.n_out;
  const cpu::Walk walk(full, {&kept}, what);
  const std::vector<int64_t>& dims = walk.dims();
  const std::vector<int64_t>& kept_strides = walk.strides(0);
  LOOM_CHECK_TYPED(NotSupportedError, dims.size() <= static_cast<size_t>(kMaxIndexDims), what,
                   " on GPU: expected at most ", kMaxIndexDims,
                   " alternations of reduced and kept axes but got ", dims.size(), " for shape ",
                   full.ToString(), " reduced to ", kept.ToString());
  int64_t stride = 1;
  std::vector<int64_t> full_strides(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    full_strides[d] = stride;
    stride *= dims[d];
  }
  for (size_t d = 0; d < dims.size(); ++d) {
    if (kept_strides[d] == 0) {
      p.rdims[p.nr] = dims[d];
      p.rstrides[p.nr++] = full_strides[d];
    } else {
      p.kdims[p.nk] = dims[d];
      p.kstrides[p.nk++] = full_strides[d];
    }
  }
  p.reduce_inner = !dims.empty() && kept_strides.back() == 0;
  return p;
}

ReducePlan SumToShapePlan(const Shape& src, const Shape& dst, const char* what) {
  const int lead = src.ndim() - dst.ndim();
  LOOM_CHECK_TYPED(ShapeError, lead >= 0, what, ": cannot sum shape ", src.ToString(), " to ",
                   dst.ToString());
  Shape kept = src;
  for (int d = 0; d < src.ndim(); ++d) {
    const int64_t size = d < lead ? 1 : dst[d - lead];
    LOOM_CHECK_TYPED(ShapeError, size == src[d] || size == 1, what, ": cannot sum shape ",
                     src.ToString(), " to ", dst.ToString());
    kept[d] = size;
  }
  return MakeReducePlan(src, kept, what);
}

namespace {

// x's shape with the node's reduced axes set to 1.
Shape KeptShape(const NodeAttrs& attrs, const Shape& x, const char* name) {
  const auto& p = attrs.param<ops::ReduceAxesParam>();
  std::vector<int> axis;
  if (p.axis) {
    for (int64_t a : *p.axis) axis.push_back(static_cast<int>(a));
  }
  Shape kept = x;
  for (int a : cpu::ResolveReduceAxes(x.ndim(), axis, p.exclude, name)) kept[a] = 1;
  return kept;
}

template <ReduceKind kOp>
void ReduceForwardGpu(const char* name, const NodeAttrs& attrs, const OpContext& ctx, Views in,
                      Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const TensorView& x = in[0];
  const Shape kept = KeptShape(attrs, x.shape, name);
  cpu::CheckSize(out[0], kept.Size(), name, "out");
  cpu::CheckSameDType(x, out[0], name, "data", "out");
  const ReducePlan plan = MakeReducePlan(x.shape, kept, name);
  const size_t scratch_bytes = ReduceScratchBytes(plan, x.dtype);
  void* scratch = scratch_bytes > 0 ? Workspace(ctx, scratch_bytes) : nullptr;
  Reduce(kOp, x.dtype, x.ptr, plan, out[0].ptr, Req(req[0]), scratch, ctx.run.stream, name);
}

// dx from (dy, x, y); x and y are null for sum and mean, whose dx has the data's shape.
template <ReduceKind kOp>
void ReduceBackwardGpu(const char* name, const NodeAttrs& attrs, const OpContext& ctx,
                       const TensorView& dy, const TensorView* x, const TensorView* y,
                       const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  const Shape kept = KeptShape(attrs, dx.shape, name);
  cpu::CheckSize(dy, kept.Size(), name, "out_grad");
  cpu::CheckSameDType(dy, dx, name, "out_grad", "data_grad");
  if (y != nullptr) cpu::CheckSize(*y, kept.Size(), name, "out");
  if (x != nullptr) cpu::CheckSameShape(*x, dx, name, "data", "data_grad");
  const IndexMap m = MakeIndexMap(dx.shape, {&kept}, name);
  const double scale = kOp == ReduceKind::kMean
                           ? 1.0 / static_cast<double>(std::max<int64_t>(
                                       1, dx.size() / std::max<int64_t>(1, kept.Size())))
                           : 1.0;
  ReduceBackward(kOp, dx.dtype, dy.ptr, x != nullptr ? x->ptr : nullptr,
                 y != nullptr ? y->ptr : nullptr, m, scale, dx.ptr, dx.size(), Req(req),
                 ctx.run.stream, name);
}

#define LOOM_GPU_REDUCE(Name, Kind)                                                              \
  LOOM_REGISTER_KERNEL(                                                                          \
      #Name, kGPU,                                                                               \
      FCompute([](const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) { \
        ReduceForwardGpu<ReduceKind::Kind>(#Name, attrs, ctx, in, req, out);                     \
      }))

// sum and mean: inputs (out_grad).
#define LOOM_GPU_REDUCE_BACKWARD_GRAD_ONLY(Name, Kind)                                           \
  LOOM_REGISTER_KERNEL(                                                                          \
      "_backward_" #Name, kGPU,                                                                  \
      FCompute([](const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) { \
        ReduceBackwardGpu<ReduceKind::Kind>(#Name, attrs, ctx, in[0], nullptr, nullptr, out[0],  \
                                            req[0]);                                             \
      }))

// max, min, prod, nansum, nanprod: inputs (out_grad, data, out).
#define LOOM_GPU_REDUCE_BACKWARD(Name, Kind)                                                     \
  LOOM_REGISTER_KERNEL(                                                                          \
      "_backward_" #Name, kGPU,                                                                  \
      FCompute([](const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) { \
        ReduceBackwardGpu<ReduceKind::Kind>(#Name, attrs, ctx, in[0], &in[1], &in[2], out[0],    \
                                            req[0]);                                             \
      }))

LOOM_GPU_REDUCE(sum, kSum);
LOOM_GPU_REDUCE(mean, kMean);
LOOM_GPU_REDUCE(max, kMax);
LOOM_GPU_REDUCE(min, kMin);
LOOM_GPU_REDUCE(prod, kProd);
LOOM_GPU_REDUCE(nansum, kNanSum);
LOOM_GPU_REDUCE(nanprod, kNanProd);
LOOM_GPU_REDUCE_BACKWARD_GRAD_ONLY(sum, kSum);
LOOM_GPU_REDUCE_BACKWARD_GRAD_ONLY(mean, kMean);
LOOM_GPU_REDUCE_BACKWARD(max, kMax);
LOOM_GPU_REDUCE_BACKWARD(min, kMin);
LOOM_GPU_REDUCE_BACKWARD(prod, kProd);
LOOM_GPU_REDUCE_BACKWARD(nansum, kNanSum);
LOOM_GPU_REDUCE_BACKWARD(nanprod, kNanProd);

#undef LOOM_GPU_REDUCE_BACKWARD
#undef LOOM_GPU_REDUCE_BACKWARD_GRAD_ONLY
#undef LOOM_GPU_REDUCE

template <bool kMax>
void ArgReduceGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const char* name = kMax ? "argmax" : "argmin";
  const TensorView& x = in[0];
  const auto& p = attrs.param<ops::ReduceAxisParam>();
  cpu::AxisSplit split{1, x.size(), 1};
  if (p.axis) {
    split =
        cpu::SplitAt(x.shape, cpu::NormalizeAxis(static_cast<int>(*p.axis), x.shape.ndim(), name));
  }
  cpu::CheckSize(out[0], split.outer * split.inner, name, "out");
  cpu::CheckSameDType(x, out[0], name, "data", "out");
  LOOM_CHECK(split.n > 0, name, ": cannot reduce an empty axis of ", x.shape.ToString());
  ArgReduce(kMax, x.dtype, x.ptr, split.outer, split.n, split.inner, out[0].ptr, Req(req[0]),
            ctx.run.stream);
}

LOOM_REGISTER_KERNEL("argmax", kGPU, FCompute(ArgReduceGpu<true>));
LOOM_REGISTER_KERNEL("argmin", kGPU, FCompute(ArgReduceGpu<false>));

}  // namespace
}  // namespace loom::gpu
