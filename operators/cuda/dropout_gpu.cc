// GPU kernels of Dropout and _backward_Dropout (mode training/always, p, axes, the hidden mask
// output holding 0 or 1 / (1 - p)) on nn_dropout.cu. Each call draws one 64-bit seed from the
// executor's generator (ctx.rng) on the host; the kernel's counter-based generator (Philox)
// turns (seed, draw index) into the element's draw, so elements along `axes` share one draw.
#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cpu/dropout.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/dropout_param.h"

namespace loom::gpu {
namespace {

constexpr const char* kOp = "Dropout";

cpu::DropoutParams KernelParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<ops::DropoutParam>();
  cpu::DropoutParams k;
  k.p = p.p;
  k.always = p.mode == ops::DropoutParam::Mode::kAlways;
  return k;
}

// data -> (output, mask)
void DropoutGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<ops::DropoutParam>();
  const cpu::DropoutParams k = KernelParams(attrs);
  LOOM_CHECK(k.p >= 0 && k.p <= 1, kOp, ": expected p in [0, 1] but got ", k.p);
  cpu::CheckSameShape(in[0], out[0], kOp, "data", "out");
  cpu::CheckSameDType(in[0], out[0], kOp, "data", "out");
  if (!cpu::DropoutActive(k, ctx.is_train)) {
    MultiplyGpu(in[0].dtype, in[0].ptr, nullptr, out[0].ptr, in[0].size(), static_cast<int>(req[0]),
                ctx.run.stream);
    return;
  }
  LOOM_CHECK(ctx.rng != nullptr, kOp, ": training needs a random generator (kRandom resource)");
  cpu::CheckSameShape(in[0], out[1], kOp, "data", "mask");
  cpu::CheckSameDType(in[0], out[1], kOp, "data", "mask");
  const Shape& shape = in[0].shape;
  LOOM_CHECK_TYPED(NotSupportedError, shape.ndim() <= 8, kOp,
                   ": the GPU kernel supports up to 8 axes but got data ", shape.ToString());
  DropoutGeometryGpu g;
  g.ndim = shape.ndim();
  std::vector<bool> shared(static_cast<size_t>(g.ndim), false);
  for (int64_t a : p.axes) {
    shared[cpu::NormalizeAxis(static_cast<int>(a), g.ndim, kOp)] = true;
  }
  int64_t stride = 1;  // row-major strides of the drawn shape (size 1 along shared axes)
  for (int d = g.ndim - 1; d >= 0; --d) {
    g.shape[d] = shape[d];
    g.draw_stride[d] = shared[d] ? 0 : stride;
    if (!shared[d]) stride *= shape[d];
  }
  const uint64_t seed = (*ctx.rng)();
  const double keep_value = k.p >= 1 ? 0.0 : 1.0 / (1.0 - k.p);
  const uint64_t threshold = static_cast<uint64_t>(k.p * 4294967296.0);
  DropoutForwardGpu(in[0].dtype, g, in[0].ptr, out[0].ptr, out[1].ptr, seed, threshold, keep_value,
                    static_cast<int>(req[0]), ctx.run.stream);
}

// (out_grad, mask) -> data_grad
void DropoutGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  cpu::CheckSameShape(in[0], out[0], kOp, "out_grad", "data_grad");
  cpu::CheckSameDType(in[0], out[0], kOp, "out_grad", "data_grad");
  const bool active = cpu::DropoutActive(KernelParams(attrs), ctx.is_train);
  if (active) cpu::CheckSameShape(in[0], in[1], kOp, "out_grad", "mask");
  MultiplyGpu(in[0].dtype, in[0].ptr, active ? in[1].ptr : nullptr, out[0].ptr, in[0].size(),
              static_cast<int>(req[0]), ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("Dropout", kGPU, FCompute(DropoutGpu));
LOOM_REGISTER_KERNEL("_backward_Dropout", kGPU, FCompute(DropoutGradGpu));

}  // namespace loom::gpu
