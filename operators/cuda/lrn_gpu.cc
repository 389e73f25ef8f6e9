// GPU kernels of LRN and _backward_LRN (across channels, MXNet's formula, the hidden tmp_norm
// output) on nn_lrn.cu.
#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/lrn_param.h"

namespace loom::gpu {
namespace {

constexpr const char* kOp = "LRN";

cpu::AxisSplit Split(const ops::LRNParam& p, const TensorView& x,
                     std::initializer_list<std::pair<const TensorView*, const char*>> same) {
  LOOM_CHECK(p.nsize >= 1, kOp, ": expected nsize >= 1 but got ", p.nsize);
  LOOM_CHECK_TYPED(ShapeError, x.shape.ndim() >= 2, kOp, ": expected data (N, C, ...) but got ",
                   x.shape.ToString());
  for (const auto& [t, name] : same) {
    cpu::CheckSameShape(x, *t, kOp, "data", name);
    cpu::CheckSameDType(x, *t, kOp, "data", name);
  }
  return cpu::SplitAt(x.shape, 1);
}

// data -> (output, tmp_norm)
void LRNGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<ops::LRNParam>();
  const cpu::AxisSplit s = Split(p, in[0], {{&out[0], "out"}, {&out[1], "tmp_norm"}});
  LRNForwardGpu(in[0].dtype, in[0].ptr, out[0].ptr, out[1].ptr, s.outer, s.n, s.inner, p.alpha,
                p.beta, p.knorm, p.nsize, static_cast<int>(req[0]), ctx.run.stream);
}

// (out_grad, data, tmp_norm) -> data_grad
void LRNGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const auto& p = attrs.param<ops::LRNParam>();
  const cpu::AxisSplit s =
      Split(p, in[1], {{&in[0], "out_grad"}, {&in[2], "tmp_norm"}, {&out[0], "data_grad"}});
  LRNBackwardGpu(in[1].dtype, in[0].ptr, in[1].ptr, in[2].ptr, out[0].ptr, s.outer, s.n, s.inner,
                 p.alpha, p.beta, p.nsize, static_cast<int>(req[0]), ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("LRN", kGPU, FCompute(LRNGpu));
LOOM_REGISTER_KERNEL("_backward_LRN", kGPU, FCompute(LRNGradGpu));

}  // namespace loom::gpu
