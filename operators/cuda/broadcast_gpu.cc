// GPU kernels of broadcast_add, _sub, _mul, _div, _maximum, _minimum, _power and their backward
// operators (the gradient summed back over the broadcast axes).
#include <algorithm>
#include <vector>

#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cpu/walk.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/reduce_gpu.h"

namespace loom::gpu {

IndexMap MakeIndexMap(const Shape& full, std::initializer_list<const Shape*> operands,
                      const char* what) {
  LOOM_INTERNAL_ASSERT(operands.size() <= static_cast<size_t>(kMaxIndexOperands));
  const cpu::Walk walk(full, operands, what);
  const std::vector<int64_t>& dims = walk.dims();
  LOOM_CHECK_TYPED(NotSupportedError, dims.size() <= static_cast<size_t>(kMaxIndexDims), what,
                   " on GPU: expected at most ", kMaxIndexDims,
                   " alternations of broadcast and full axes but got ", dims.size(), " for shape ",
                   full.ToString());
  IndexMap m;
  m.ndim = static_cast<int>(dims.size());
  for (int d = 0; d < m.ndim; ++d) {
    m.dims[d] = dims[d];
    for (int o = 0; o < walk.num_operands(); ++o) m.strides[o][d] = walk.strides(o)[d];
  }
  return m;
}

namespace {

// Bytes rounded up so that the next region of a shared workspace stays aligned.
size_t Aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

template <BinaryKind kOp>
void BroadcastForwardGpu(const char* name, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const TensorView &a = in[0], &b = in[1], &y = out[0];
  cpu::CheckSameDType(a, b, name, "lhs", "rhs");
  cpu::CheckSameDType(a, y, name, "lhs", "out");
  if (a.shape == b.shape && a.shape == y.shape) {
    BinaryForward(kOp, a.dtype, a.ptr, b.ptr, y.ptr, y.size(), Req(req[0]), ctx.run.stream, name);
    return;
  }
  const IndexMap m = MakeIndexMap(y.shape, {&a.shape, &b.shape}, name);
  BroadcastForward(kOp, a.dtype, a.ptr, b.ptr, m, y.ptr, y.size(), Req(req[0]), ctx.run.stream,
                   name);
}

// Inputs (out_grad, lhs, rhs); outputs (lhs_grad, rhs_grad).
template <BinaryKind kOp>
void BroadcastBackwardGpu(const char* name, const OpContext& ctx, Views in, Reqs req, Views out) {
  const TensorView &dy = in[0], &a = in[1], &b = in[2], &da = out[0], &db = out[1];
  const bool want_a = req[0] != OpReq::kNull, want_b = req[1] != OpReq::kNull;
  if (!want_a && !want_b) return;
  cpu::CheckSameDType(a, b, name, "lhs", "rhs");
  cpu::CheckSameDType(a, dy, name, "lhs", "out_grad");
  if (want_a) cpu::CheckSameShape(a, da, name, "lhs", "lhs_grad");
  if (want_b) cpu::CheckSameShape(b, db, name, "rhs", "rhs_grad");
  void* stream = ctx.run.stream;
  if (a.shape == b.shape && a.shape == dy.shape) {
    BinaryBackward(kOp, a.dtype, dy.ptr, a.ptr, b.ptr, da.ptr, Req(req[0]), db.ptr, Req(req[1]),
                   dy.size(), stream, name);
    return;
  }
  // A gradient with dy's size is written directly; the others go through a dy-sized buffer and
  // are summed over their broadcast axes.
  const bool reduce_a = want_a && a.size() != dy.size();
  const bool reduce_b = want_b && b.size() != dy.size();
  ReducePlan plan_a, plan_b;
  size_t scratch = 0;
  if (reduce_a) {
    plan_a = SumToShapePlan(dy.shape, a.shape, name);
    scratch = std::max(scratch, ReduceScratchBytes(plan_a, dy.dtype));
  }
  if (reduce_b) {
    plan_b = SumToShapePlan(dy.shape, b.shape, name);
    scratch = std::max(scratch, ReduceScratchBytes(plan_b, dy.dtype));
  }
  constexpr bool kLinear = kOp == BinaryKind::kAdd || kOp == BinaryKind::kSub;
  // add and sub: the gradients are dy and -dy, reduced straight from dy.
  const size_t full_bytes = kLinear ? 0 : Aligned(dy.bytes());
  const size_t temp_a = reduce_a ? full_bytes : 0, temp_b = reduce_b ? full_bytes : 0;
  const size_t total = temp_a + temp_b + scratch;
  auto* base = total > 0 ? static_cast<unsigned char*>(Workspace(ctx, total)) : nullptr;
  void* full_a = reduce_a ? base : nullptr;
  void* full_b = reduce_b ? base + temp_a : nullptr;
  void* reduce_scratch = scratch > 0 ? base + temp_a + temp_b : nullptr;
  if constexpr (kLinear) {
    const ReduceKind b_kind = kOp == BinaryKind::kSub ? ReduceKind::kNegSum : ReduceKind::kSum;
    if (want_a) {
      const ReducePlan p = reduce_a ? plan_a : SumToShapePlan(dy.shape, a.shape, name);
      Reduce(ReduceKind::kSum, dy.dtype, dy.ptr, p, da.ptr, Req(req[0]), reduce_scratch, stream,
             name);
    }
    if (want_b) {
      const ReducePlan p = reduce_b ? plan_b : SumToShapePlan(dy.shape, b.shape, name);
      Reduce(b_kind, dy.dtype, dy.ptr, p, db.ptr, Req(req[1]), reduce_scratch, stream, name);
    }
  } else {
    const IndexMap m = MakeIndexMap(dy.shape, {&a.shape, &b.shape}, name);
    const int write = Req(OpReq::kWriteTo);
    BroadcastGradFull(kOp, dy.dtype, dy.ptr, a.ptr, b.ptr, m, reduce_a ? full_a : da.ptr,
                      reduce_a ? write : Req(req[0]), reduce_b ? full_b : db.ptr,
                      reduce_b ? write : Req(req[1]), dy.size(), stream, name);
    if (reduce_a) {
      Reduce(ReduceKind::kSum, dy.dtype, full_a, plan_a, da.ptr, Req(req[0]), reduce_scratch,
             stream, name);
    }
    if (reduce_b) {
      Reduce(ReduceKind::kSum, dy.dtype, full_b, plan_b, db.ptr, Req(req[1]), reduce_scratch,
             stream, name);
    }
  }
}

#define LOOM_GPU_BROADCAST(Name, Kind)                                                     \
  LOOM_REGISTER_KERNEL(                                                                    \
      #Name, kGPU,                                                                         \
      FCompute([](const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) { \
        BroadcastForwardGpu<BinaryKind::Kind>(#Name, ctx, in, req, out);                   \
      }));                                                                                 \
  LOOM_REGISTER_KERNEL(                                                                    \
      "_backward_" #Name, kGPU,                                                            \
      FCompute([](const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) { \
        BroadcastBackwardGpu<BinaryKind::Kind>("_backward_" #Name, ctx, in, req, out);     \
      }))

LOOM_GPU_BROADCAST(broadcast_add, kAdd);
LOOM_GPU_BROADCAST(broadcast_sub, kSub);
LOOM_GPU_BROADCAST(broadcast_mul, kMul);
LOOM_GPU_BROADCAST(broadcast_div, kDiv);
LOOM_GPU_BROADCAST(broadcast_maximum, kMaximum);
LOOM_GPU_BROADCAST(broadcast_minimum, kMinimum);
LOOM_GPU_BROADCAST(broadcast_power, kPower);

#undef LOOM_GPU_BROADCAST

}  // namespace
}  // namespace loom::gpu
