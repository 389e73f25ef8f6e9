// GPU kernels of softmax, log_softmax, SoftmaxActivation and their gradients (axis,
// temperature, softmax's use_length) on nn_softmax.cu.
#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/softmax_param.h"

namespace loom::gpu {
namespace {

struct SoftmaxCall {
  cpu::AxisSplit s;
  double inv_t = 1;
};

SoftmaxCall Prepare(const char* op, int axis, std::optional<double> temperature,
                    const TensorView& data, const TensorView& out) {
  cpu::CheckSameShape(data, out, op, "data", "out");
  LOOM_CHECK_TYPED(NotSupportedError, data.dtype == out.dtype, op,
                   ": the kernel needs the output in the data's dtype (", ToString(data.dtype),
                   ") but got ", ToString(out.dtype));
  const double t = temperature.value_or(1.0);
  LOOM_CHECK(t != 0, op, ": expected a non-zero temperature");
  SoftmaxCall c;
  if (data.shape.ndim() > 0) {
    c.s = cpu::SplitAt(data.shape, cpu::NormalizeAxis(axis, data.shape.ndim(), op));
  }
  c.inv_t = 1.0 / t;
  return c;
}

// (data[, length]) -> output
template <bool kLog>
void SoftmaxGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const char* op = kLog ? "log_softmax" : "softmax";
  const auto& p = attrs.param<ops::SoftmaxParam>();
  const SoftmaxCall c = Prepare(op, static_cast<int>(p.axis), p.temperature, in[0], out[0]);
  const bool length = !kLog && in.size() == 2;
  if (length) cpu::CheckSize(in[1], c.s.outer * c.s.inner, op, "length");
  SoftmaxForwardGpu(in[0].dtype, in[0].ptr, out[0].ptr, c.s.outer, c.s.n, c.s.inner, c.inv_t, kLog,
                    length ? in[1].ptr : nullptr, length ? in[1].dtype : DType::kInt32,
                    static_cast<int>(req[0]), ctx.run.stream);
}

// (out_grad, output[, length]) -> data_grad
template <bool kLog>
void SoftmaxGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const char* op = kLog ? "_backward_log_softmax" : "_backward_softmax";
  const auto& p = attrs.param<ops::SoftmaxParam>();
  const SoftmaxCall c = Prepare(op, static_cast<int>(p.axis), p.temperature, out[0], in[1]);
  cpu::CheckSameShape(in[0], in[1], op, "out_grad", "output");
  cpu::CheckSameDType(in[0], in[1], op, "out_grad", "output");
  const bool length = !kLog && in.size() == 3;
  if (length) cpu::CheckSize(in[2], c.s.outer * c.s.inner, op, "length");
  SoftmaxBackwardGpu(in[1].dtype, in[0].ptr, in[1].ptr, out[0].ptr, c.s.outer, c.s.n, c.s.inner,
                     c.inv_t, kLog, length ? in[2].ptr : nullptr,
                     length ? in[2].dtype : DType::kInt32, static_cast<int>(req[0]),
                     ctx.run.stream);
}

// SoftmaxActivation: softmax over each instance's flattened values (instance) or over axis 1
// at each position (channel).
cpu::AxisSplit ActivationSplit(const NodeAttrs& attrs, const Shape& shape) {
  if (shape.ndim() == 0) return {};
  if (attrs.param<ops::SoftmaxActivationParam>().mode ==
      ops::SoftmaxActivationParam::Mode::kInstance) {
    const int64_t n = shape[0];
    return {.outer = n, .n = n == 0 ? 0 : shape.Size() / n, .inner = 1};
  }
  return cpu::SplitAt(shape, cpu::NormalizeAxis(1, shape.ndim(), "SoftmaxActivation"));
}

void SoftmaxActivationGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                          Views out) {
  cpu::CheckSameShape(in[0], out[0], "SoftmaxActivation", "data", "out");
  cpu::CheckSameDType(in[0], out[0], "SoftmaxActivation", "data", "out");
  const cpu::AxisSplit s = ActivationSplit(attrs, in[0].shape);
  SoftmaxForwardGpu(in[0].dtype, in[0].ptr, out[0].ptr, s.outer, s.n, s.inner, 1.0, false, nullptr,
                    DType::kInt32, static_cast<int>(req[0]), ctx.run.stream);
}

// (out_grad, output) -> data_grad
void SoftmaxActivationBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                                  Views out) {
  constexpr const char* kOp = "_backward_SoftmaxActivation";
  cpu::CheckSameShape(in[0], in[1], kOp, "out_grad", "output");
  cpu::CheckSameShape(in[1], out[0], kOp, "output", "data_grad");
  cpu::CheckSameDType(in[0], in[1], kOp, "out_grad", "output");
  cpu::CheckSameDType(in[1], out[0], kOp, "output", "data_grad");
  const cpu::AxisSplit s = ActivationSplit(attrs, in[1].shape);
  SoftmaxBackwardGpu(in[1].dtype, in[0].ptr, in[1].ptr, out[0].ptr, s.outer, s.n, s.inner, 1.0,
                     false, nullptr, DType::kInt32, static_cast<int>(req[0]), ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("softmax", kGPU, FCompute(SoftmaxGpu<false>));
LOOM_REGISTER_KERNEL("_backward_softmax", kGPU, FCompute(SoftmaxGradGpu<false>));
LOOM_REGISTER_KERNEL("log_softmax", kGPU, FCompute(SoftmaxGpu<true>));
LOOM_REGISTER_KERNEL("_backward_log_softmax", kGPU, FCompute(SoftmaxGradGpu<true>));
LOOM_REGISTER_KERNEL("SoftmaxActivation", kGPU, FCompute(SoftmaxActivationGpu));
LOOM_REGISTER_KERNEL("_backward_SoftmaxActivation", kGPU, FCompute(SoftmaxActivationBackwardGpu));

}  // namespace loom::gpu
