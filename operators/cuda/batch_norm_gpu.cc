// GPU kernels of BatchNorm and _backward_BatchNorm on nn_batch_norm.cu: training (batch
// statistics, the moving-average update) and inference, fix_gamma, use_global_stats, any
// channel axis, with the CPU kernel's conventions (mean and biased variance as the hidden
// outputs, moving = moving * momentum + batch * (1 - momentum)); float16 data with float32
// per-channel values, float32, float64. Custom kernels rather than cuDNN's, whose saved
// inverse standard deviation and unbiased running variance differ from these conventions.
#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/batch_norm_param.h"

namespace loom::gpu {
namespace {

using Views = std::span<const TensorView>;
using Reqs = std::span<const OpReq>;

constexpr const char* kOp = "BatchNorm";

cpu::AxisSplit Split(const ops::BatchNormParam& p, const TensorView& data,
                     std::initializer_list<std::pair<const TensorView*, const char*>> channel) {
  const cpu::AxisSplit s =
      cpu::SplitAt(data.shape, cpu::NormalizeAxis(static_cast<int>(p.axis), data.shape.ndim(), kOp));
  for (const auto& [t, name] : channel) cpu::CheckSize(*t, s.n, kOp, name);
  return s;
}

// Cross-replica statistics need the host-side reducer of the CPU kernel; the GPU kernel has none.
void CheckNoReducer(const ops::BatchNormParam& p, const OpContext& ctx) {
  LOOM_CHECK_TYPED(NotSupportedError,
                   ctx.replica_reducer == nullptr || !ctx.is_train || p.use_global_stats, kOp,
                   ": the GPU kernel does not compute cross-replica (synchronized) statistics");
}

// (data, gamma, beta, moving_mean, moving_var) -> (output, mean, var)
void BatchNormGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<ops::BatchNormParam>();
  CheckNoReducer(p, ctx);
  const cpu::AxisSplit s = Split(p, in[0],
                                 {{&in[1], "gamma"},
                                  {&in[2], "beta"},
                                  {&in[3], "moving_mean"},
                                  {&in[4], "moving_var"},
                                  {&out[1], "mean"},
                                  {&out[2], "var"}});
  cpu::CheckSameShape(in[0], out[0], kOp, "data", "out");
  cpu::CheckSameDType(in[0], out[0], kOp, "data", "out");
  for (size_t i = 2; i <= 4; ++i) cpu::CheckSameDType(in[1], in[i], kOp, "gamma", "statistics");
  cpu::CheckSameDType(in[1], out[1], kOp, "gamma", "mean");
  cpu::CheckSameDType(in[1], out[2], kOp, "gamma", "var");
  const bool batch_stats = ctx.is_train && !p.use_global_stats;
  BatchNormForwardGpu(in[0].dtype, in[1].dtype, in[0].ptr, in[1].ptr, in[2].ptr, in[3].ptr,
                      in[4].ptr, out[0].ptr, out[1].ptr, out[2].ptr, s.outer, s.n, s.inner, p.eps,
                      p.momentum, p.fix_gamma, batch_stats, static_cast<int>(req[0]),
                      ctx.run.stream);
}

// (out_grad, data, gamma, mean, var) -> (data_grad, gamma_grad, beta_grad)
void BatchNormGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                      Views out) {
  const auto& p = attrs.param<ops::BatchNormParam>();
  CheckNoReducer(p, ctx);
  const cpu::AxisSplit s = Split(p, in[1], {{&in[2], "gamma"}, {&in[3], "mean"}, {&in[4], "var"}});
  cpu::CheckSameShape(in[1], in[0], kOp, "data", "out_grad");
  cpu::CheckSameDType(in[1], in[0], kOp, "data", "out_grad");
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(in[1], out[0], kOp, "data", "data_grad");
  if (req[1] != OpReq::kNull) cpu::CheckSize(out[1], s.n, kOp, "gamma_grad");
  if (req[2] != OpReq::kNull) cpu::CheckSize(out[2], s.n, kOp, "beta_grad");
  const bool batch_stats = ctx.is_train && !p.use_global_stats;
  BatchNormBackwardGpu(in[1].dtype, in[2].dtype, in[0].ptr, in[1].ptr, in[2].ptr, in[3].ptr,
                       in[4].ptr, out[0].ptr, out[1].ptr, out[2].ptr, s.outer, s.n, s.inner,
                       p.eps, p.fix_gamma, batch_stats, static_cast<int>(req[0]),
                       static_cast<int>(req[1]), static_cast<int>(req[2]), ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("BatchNorm", kGPU, FCompute(BatchNormGpu));
LOOM_REGISTER_KERNEL("_backward_BatchNorm", kGPU, FCompute(BatchNormGradGpu));

}  // namespace loom::gpu
