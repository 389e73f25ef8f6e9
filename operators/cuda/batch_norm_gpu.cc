// GPU kernels of BatchNorm and _backward_BatchNorm on nn_batch_norm.cu: training (batch
// statistics, the moving-average update) and inference, fix_gamma, use_global_stats, any
// channel axis, with the CPU kernel's conventions (mean and biased variance as the hidden
// outputs, moving = moving * momentum + batch * (1 - momentum)); float16 data with float32
// per-channel values, float32, float64. Custom kernels rather than cuDNN's, whose saved
// inverse standard deviation and unbiased running variance differ from these conventions.
// Cross-replica (synchronized) BatchNorm: with ctx.replica_reducer and batch statistics, the
// per-channel sums (and the element count) go to the host, are summed over the replicas, and
// come back, as the CPU kernel does: the reducer works on host buffers, so these calls wait
// for their stream (twice in the forward, once in the backward).
#include <vector>

#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/batch_norm_param.h"

namespace loom::gpu {
namespace {

constexpr const char* kOp = "BatchNorm";

cpu::AxisSplit Split(const ops::BatchNormParam& p, const TensorView& data,
                     std::initializer_list<std::pair<const TensorView*, const char*>> channel) {
  const cpu::AxisSplit s = cpu::SplitAt(
      data.shape, cpu::NormalizeAxis(static_cast<int>(p.axis), data.shape.ndim(), kOp));
  for (const auto& [t, name] : channel) cpu::CheckSize(*t, s.n, kOp, name);
  return s;
}

// Sums `n` device doubles over the replicas in place (through the host; waits for the stream).
void ReduceOverReplicas(const OpContext& ctx, double* device, size_t n) {
  std::vector<double> host(n);
  LOOM_CUDA_CHECK(cudaMemcpyAsync(host.data(), device, n * sizeof(double), cudaMemcpyDeviceToHost,
                                  Stream(ctx)));
  LOOM_CUDA_CHECK(cudaStreamSynchronize(Stream(ctx)));  // the reducer reads host values
  ctx.replica_reducer->SumInPlace(host.data(), n);
  // From pageable memory: returns once `host` is staged, so it may go out of scope.
  LOOM_CUDA_CHECK(cudaMemcpyAsync(device, host.data(), n * sizeof(double), cudaMemcpyHostToDevice,
                                  Stream(ctx)));
}

// *device_at = count (staged from pageable memory before the call returns).
void PutCount(const OpContext& ctx, double* device_at, double count) {
  LOOM_CUDA_CHECK(
      cudaMemcpyAsync(device_at, &count, sizeof(double), cudaMemcpyHostToDevice, Stream(ctx)));
}

// (data, gamma, beta, moving_mean, moving_var) -> (output, mean, var)
void BatchNormGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<ops::BatchNormParam>();
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
  double* stats = nullptr;
  if (batch_stats && ctx.replica_reducer != nullptr && s.n > 0) {
    // Global statistics: sums and the count, then squared deviations from the global mean.
    const size_t c = static_cast<size_t>(s.n);
    double* sums = static_cast<double*>(Workspace(ctx, (3 * c + 1) * sizeof(double)));
    double* sq = sums + c + 1;
    BatchNormChannelSumsGpu(in[0].dtype, in[0].ptr, nullptr, sums, s.outer, s.n, s.inner,
                            ctx.run.stream);
    PutCount(ctx, sums + c, static_cast<double>(s.outer * s.inner));
    ReduceOverReplicas(ctx, sums, c + 1);
    BatchNormChannelSumsGpu(in[0].dtype, in[0].ptr, sums, sq, s.outer, s.n, s.inner,
                            ctx.run.stream);
    ReduceOverReplicas(ctx, sq, c);
    std::vector<double> host(3 * c + 1);
    LOOM_CUDA_CHECK(cudaMemcpyAsync(host.data(), sums, host.size() * sizeof(double),
                                    cudaMemcpyDeviceToHost, Stream(ctx)));
    LOOM_CUDA_CHECK(cudaStreamSynchronize(Stream(ctx)));
    const double count = host[c];
    std::vector<double> mv(2 * c);
    for (size_t j = 0; j < c; ++j) {
      mv[j] = count > 0 ? host[j] / count : 0.0;
      mv[c + j] = count > 0 ? host[c + 1 + j] / count : 0.0;
    }
    stats = sums;  // the means, then the variances, over the sums
    LOOM_CUDA_CHECK(cudaMemcpyAsync(stats, mv.data(), mv.size() * sizeof(double),
                                    cudaMemcpyHostToDevice, Stream(ctx)));
  }
  BatchNormForwardGpu(in[0].dtype, in[1].dtype, in[0].ptr, in[1].ptr, in[2].ptr, in[3].ptr,
                      in[4].ptr, out[0].ptr, out[1].ptr, out[2].ptr, s.outer, s.n, s.inner, p.eps,
                      p.momentum, p.fix_gamma, batch_stats, stats, static_cast<int>(req[0]),
                      ctx.run.stream);
}

// (out_grad, data, gamma, mean, var) -> (data_grad, gamma_grad, beta_grad)
void BatchNormGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<ops::BatchNormParam>();
  const cpu::AxisSplit s = Split(p, in[1], {{&in[2], "gamma"}, {&in[3], "mean"}, {&in[4], "var"}});
  cpu::CheckSameShape(in[1], in[0], kOp, "data", "out_grad");
  cpu::CheckSameDType(in[1], in[0], kOp, "data", "out_grad");
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(in[1], out[0], kOp, "data", "data_grad");
  if (req[1] != OpReq::kNull) cpu::CheckSize(out[1], s.n, kOp, "gamma_grad");
  if (req[2] != OpReq::kNull) cpu::CheckSize(out[2], s.n, kOp, "beta_grad");
  const bool batch_stats = ctx.is_train && !p.use_global_stats;
  const int data_req = static_cast<int>(req[0]), gamma_req = static_cast<int>(req[1]),
            beta_req = static_cast<int>(req[2]);
  if (!(batch_stats && ctx.replica_reducer != nullptr && s.n > 0)) {
    BatchNormBackwardGpu(in[1].dtype, in[2].dtype, in[0].ptr, in[1].ptr, in[2].ptr, in[3].ptr,
                         in[4].ptr, out[0].ptr, out[1].ptr, out[2].ptr, s.outer, s.n, s.inner,
                         p.eps, p.fix_gamma, batch_stats, data_req, gamma_req, beta_req, nullptr,
                         nullptr, ctx.run.stream);
    return;
  }
  // Cross-replica: this batch's sums (gamma's and beta's gradients stay local), summed with
  // the count over the replicas, then the data gradient from the global sums.
  const size_t c = static_cast<size_t>(s.n);
  double* sums = static_cast<double*>(Workspace(ctx, (2 * c + 1) * sizeof(double)));
  BatchNormBackwardGpu(in[1].dtype, in[2].dtype, in[0].ptr, in[1].ptr, in[2].ptr, in[3].ptr,
                       in[4].ptr, out[0].ptr, out[1].ptr, out[2].ptr, s.outer, s.n, s.inner, p.eps,
                       p.fix_gamma, batch_stats, 0, gamma_req, beta_req, nullptr, sums,
                       ctx.run.stream);
  PutCount(ctx, sums + 2 * c, static_cast<double>(s.outer * s.inner));
  ReduceOverReplicas(ctx, sums, 2 * c + 1);
  if (req[0] == OpReq::kNull) return;
  BatchNormBackwardGpu(in[1].dtype, in[2].dtype, in[0].ptr, in[1].ptr, in[2].ptr, in[3].ptr,
                       in[4].ptr, out[0].ptr, out[1].ptr, out[2].ptr, s.outer, s.n, s.inner, p.eps,
                       p.fix_gamma, batch_stats, data_req, 0, 0, sums, nullptr, ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("BatchNorm", kGPU, FCompute(BatchNormGpu));
LOOM_REGISTER_KERNEL("_backward_BatchNorm", kGPU, FCompute(BatchNormGradGpu));

}  // namespace loom::gpu
