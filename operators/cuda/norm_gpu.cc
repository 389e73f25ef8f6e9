// GPU kernels of L2Normalization and InstanceNorm with their gradients, as the CPU kernels
// (operators/cpu/normalization.cc) compute them.
#include "operators/cpu/common.h"
#include "operators/cpu/normalization.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/norm_kernels.h"
#include "operators/src/normalization_param.h"

namespace loom::ops {
namespace {

using gpu::Reqs;
using gpu::Views;

constexpr const char* kL2 = "L2Normalization";
constexpr const char* kInstance = "InstanceNorm";

// The CPU kernel's groups (cpu/normalization.h).
cpu::AxisSplit L2Groups(const NodeAttrs& attrs, const Shape& s) {
  return cpu::L2NormGroups(attrs.param<L2NormalizationParam>().kernel_mode(), s);
}

// data -> (output, norm)
void L2NormalizationGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                        Views out) {
  const TensorView &x = in[0], &y = out[0], &norm = out[1];
  cpu::CheckSameShape(x, y, kL2, "data", "out");
  cpu::CheckSameDType(x, y, kL2, "data", "out");
  cpu::CheckSameDType(x, norm, kL2, "data", "norm");
  const cpu::AxisSplit g = L2Groups(attrs, x.shape);
  cpu::CheckSize(norm, g.outer * g.inner, kL2, "norm");
  gpu::L2NormForward(x.dtype, g.outer, g.n, g.inner, attrs.param<L2NormalizationParam>().eps, x.ptr,
                     y.ptr, static_cast<int>(req[0]), norm.ptr, ctx.run.stream);
}

// (out_grad, output, norm) -> data_grad
void L2NormalizationBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                                Views out) {
  if (req[0] == OpReq::kNull) return;
  const TensorView &dy = in[0], &y = in[1], &norm = in[2], &dx = out[0];
  cpu::CheckSameShape(y, dy, kL2, "out", "out_grad");
  cpu::CheckSameShape(y, dx, kL2, "out", "data_grad");
  cpu::CheckSameDType(y, dy, kL2, "out", "out_grad");
  cpu::CheckSameDType(y, dx, kL2, "out", "data_grad");
  cpu::CheckSameDType(y, norm, kL2, "out", "norm");
  const cpu::AxisSplit g = L2Groups(attrs, y.shape);
  cpu::CheckSize(norm, g.outer * g.inner, kL2, "norm");
  gpu::L2NormBackward(y.dtype, g.outer, g.n, g.inner, dy.ptr, y.ptr, norm.ptr, dx.ptr,
                      static_cast<int>(req[0]), ctx.run.stream);
}

// (data, gamma, beta) -> (output, mean, var)
void InstanceNormGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const TensorView &x = in[0], &gamma = in[1], &beta = in[2];
  cpu::CheckSameShape(x, out[0], kInstance, "data", "out");
  cpu::CheckSameDType(x, out[0], kInstance, "data", "out");
  const cpu::InstanceNormLayout l = cpu::InstanceNormShapes(x, gamma, out[1], out[2]);
  cpu::CheckSize(beta, l.c, kInstance, "beta");
  cpu::CheckSameDType(x, beta, kInstance, "data", "beta");
  gpu::InstanceNormForward(x.dtype, l.n, l.c, l.m, attrs.param<InstanceNormParam>().eps, x.ptr,
                           gamma.ptr, beta.ptr, out[0].ptr, static_cast<int>(req[0]), out[1].ptr,
                           out[2].ptr, ctx.run.stream);
}

// (out_grad, data, gamma, mean, var) -> (data_grad, gamma_grad, beta_grad)
void InstanceNormBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                             Views out) {
  const TensorView &dy = in[0], &x = in[1], &gamma = in[2], &mean = in[3], &var = in[4];
  const cpu::InstanceNormLayout l = cpu::InstanceNormShapes(x, gamma, mean, var);
  cpu::CheckSameShape(x, dy, kInstance, "data", "out_grad");
  cpu::CheckSameDType(x, dy, kInstance, "data", "out_grad");
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(x, out[0], kInstance, "data", "data_grad");
  if (req[1] != OpReq::kNull) cpu::CheckSize(out[1], l.c, kInstance, "gamma_grad");
  if (req[2] != OpReq::kNull) cpu::CheckSize(out[2], l.c, kInstance, "beta_grad");
  auto* scratch = static_cast<double*>(gpu::Workspace(
      ctx, std::max<size_t>(1, 2 * static_cast<size_t>(l.n * l.c)) * sizeof(double)));
  gpu::InstanceNormBackward(x.dtype, l.n, l.c, l.m, attrs.param<InstanceNormParam>().eps, dy.ptr,
                            x.ptr, gamma.ptr, mean.ptr, var.ptr, out[0].ptr,
                            static_cast<int>(req[0]), out[1].ptr, static_cast<int>(req[1]),
                            out[2].ptr, static_cast<int>(req[2]), scratch, ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("L2Normalization", kGPU, FCompute(L2NormalizationGpu));
LOOM_REGISTER_KERNEL("_backward_L2Normalization", kGPU, FCompute(L2NormalizationBackwardGpu));
LOOM_REGISTER_KERNEL("InstanceNorm", kGPU, FCompute(InstanceNormGpu));
LOOM_REGISTER_KERNEL("_backward_InstanceNorm", kGPU, FCompute(InstanceNormBackwardGpu));

}  // namespace loom::ops
