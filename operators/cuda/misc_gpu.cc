// GPU kernels of LeakyReLU and its gradient (leaky, prelu, rrelu, elu, selu, gelu), as the CPU
// kernels (operators/cpu/activation.cc) and the operator's registration (operators/src/
// leaky_relu.cc) compute them. rrelu's training slopes come from a counter-based generator seeded
// from ctx.rng, so they differ from the CPU's draws (both uniform in [lower_bound, upper_bound]).
#include "operators/cpu/common.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/misc_kernels.h"
#include "operators/src/leaky_relu_param.h"

namespace loom::ops {
namespace {

using gpu::Reqs;
using gpu::Views;

using Act = LeakyReLUParam::Act;

constexpr const char* kOp = "LeakyReLU";

gpu::LeakyParams Params(const NodeAttrs& attrs) {
  const auto& p = attrs.param<LeakyReLUParam>();
  gpu::LeakyParams k;
  k.slope = p.slope;
  k.lower_bound = p.lower_bound;
  k.upper_bound = p.upper_bound;
  switch (p.act_type) {
    case Act::kPRelu:
      k.type = gpu::LeakyKind::kPrelu;
      break;
    case Act::kRRelu:
      k.type = gpu::LeakyKind::kRrelu;
      k.slope = (static_cast<double>(p.lower_bound) + p.upper_bound) / 2;
      break;
    case Act::kElu:
      k.type = gpu::LeakyKind::kElu;
      break;
    case Act::kSelu:
      k.type = gpu::LeakyKind::kSelu;
      break;
    case Act::kGelu:
      k.type = gpu::LeakyKind::kGelu;
      break;
    default:
      k.type = gpu::LeakyKind::kLeaky;
  }
  return k;
}

// prelu's channel layout: one shared slope, or one per channel (axis 1).
void SetChannels(gpu::LeakyParams& k, const TensorView& x, const TensorView& gamma) {
  cpu::CheckSameDType(x, gamma, kOp, "data", "gamma");
  if (gamma.size() == 1) return;
  LOOM_CHECK_TYPED(ShapeError, x.shape.ndim() >= 2 && gamma.size() == x.shape[1], kOp,
                   ": expected prelu's gamma to hold 1 or data.shape[1] slopes for data ",
                   x.shape.ToString(), " but got ", gamma.shape.ToString());
  LOOM_CHECK(gamma.size() <= 65535, kOp, ": prelu on GPU supports at most 65535 channels but got ",
             gamma.size());
  k.channels = x.shape[1];
  k.inner = x.shape.Size(2, x.shape.ndim());
}

// (data[, gamma]) -> (output[, mask])
void LeakyReLUGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  gpu::LeakyParams k = Params(attrs);
  const TensorView& x = in[0];
  const bool rrelu = k.type == gpu::LeakyKind::kRrelu;
  if (req[0] != OpReq::kNull) {
    cpu::CheckSameShape(x, out[0], kOp, "data", "out");
    cpu::CheckSameDType(x, out[0], kOp, "data", "out");
    if (k.type == gpu::LeakyKind::kPrelu) SetChannels(k, x, in[1]);
    if (rrelu && ctx.is_train) {
      LOOM_CHECK(ctx.rng != nullptr, kOp, ": rrelu in training needs a random generator");
      cpu::CheckSameShape(x, out[1], kOp, "data", "mask");
      cpu::CheckSameDType(x, out[1], kOp, "data", "mask");
      k.rrelu_train = true;
      k.seed = (*ctx.rng)();
    }
    gpu::LeakyReLUForward(x.dtype, k, x.ptr, k.type == gpu::LeakyKind::kPrelu ? in[1].ptr : nullptr,
                          out[0].ptr, rrelu ? out[1].ptr : nullptr, x.size(),
                          static_cast<int>(req[0]), ctx.run.stream);
  }
  if (rrelu && !ctx.is_train && req[1] != OpReq::kNull) {
    gpu::FillValue(out[1].dtype, out[1].ptr, out[1].size(), k.slope, ctx.run.stream);
  }
}

// (out_grad, data[, gamma][, mask]) -> (data_grad[, gamma_grad])
void LeakyReLUBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                          Views out) {
  gpu::LeakyParams k = Params(attrs);
  const TensorView &dy = in[0], &x = in[1];
  cpu::CheckSameShape(x, dy, kOp, "data", "out_grad");
  cpu::CheckSameDType(x, dy, kOp, "data", "out_grad");
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(x, out[0], kOp, "data", "data_grad");
  const bool prelu = k.type == gpu::LeakyKind::kPrelu;
  const bool rrelu = k.type == gpu::LeakyKind::kRrelu;
  const OpReq gamma_req = prelu ? req[1] : OpReq::kNull;
  const void* gamma = nullptr;
  const void* mask = nullptr;
  int64_t gamma_size = 0;
  double* scratch = nullptr;
  if (prelu) {
    SetChannels(k, x, in[2]);
    gamma = in[2].ptr;
    gamma_size = in[2].size();
    if (gamma_req != OpReq::kNull) {
      cpu::CheckSameShape(in[2], out[1], kOp, "gamma", "gamma_grad");
      scratch = static_cast<double*>(gpu::Workspace(ctx, gamma_size * sizeof(double)));
    }
  }
  if (rrelu) {
    cpu::CheckSameShape(x, in[2], kOp, "data", "mask");
    mask = in[2].ptr;
  }
  gpu::LeakyReLUBackward(x.dtype, k, dy.ptr, x.ptr, gamma, mask, out[0].ptr,
                         static_cast<int>(req[0]), prelu ? out[1].ptr : nullptr,
                         static_cast<int>(gamma_req), gamma_size, scratch, x.size(),
                         ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("LeakyReLU", kGPU, FCompute(LeakyReLUGpu));
LOOM_REGISTER_KERNEL("_backward_LeakyReLU", kGPU, FCompute(LeakyReLUBackwardGpu));

}  // namespace loom::ops
