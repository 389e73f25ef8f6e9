// GPU kernels of the loss heads: SoftmaxOutput and LinearRegressionOutput,
// LogisticRegressionOutput, MAERegressionOutput, with their gradients, as the CPU kernels
// (operators/cpu/softmax.cc) compute them (hard labels outside [0, K): see loss_kernels.h).
#include "operators/cpu/common.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/loss_kernels.h"
#include "operators/src/regression_output_param.h"
#include "operators/src/softmax_output_param.h"

namespace loom::ops {
namespace {

using gpu::Reqs;
using gpu::Views;

using Normalization = SoftmaxOutputParam::Normalization;

// SoftmaxOutput's softmax layout: (outer, K, inner).
cpu::AxisSplit OutputSplit(const SoftmaxOutputParam& p, const Shape& data) {
  LOOM_CHECK_TYPED(ShapeError, data.ndim() >= 1, "SoftmaxOutput: expected data with an axis");
  if (p.multi_output) {
    LOOM_CHECK_TYPED(ShapeError, data.ndim() >= 2, "SoftmaxOutput: multi_output expects data ",
                     "(N, C, ...) but got ", data.ToString());
    return cpu::SplitAt(data, 1);
  }
  if (p.preserve_shape) return cpu::SplitAt(data, data.ndim() - 1);
  cpu::AxisSplit s;
  s.outer = data[0];
  s.n = data[0] == 0 ? 0 : data.Size() / data[0];
  s.inner = 1;
  return s;
}

// (data, label) -> output
void SoftmaxOutputGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  cpu::CheckSameShape(in[0], out[0], "SoftmaxOutput", "data", "out");
  cpu::CheckSameDType(in[0], out[0], "SoftmaxOutput", "data", "out");
  const cpu::AxisSplit s = OutputSplit(attrs.param<SoftmaxOutputParam>(), in[0].shape);
  gpu::SoftmaxOutputForward(in[0].dtype, s.outer, s.n, s.inner, in[0].ptr, out[0].ptr,
                            static_cast<int>(req[0]), ctx.run.stream);
}

// (output, label[, out_grad]) -> data_grad
void SoftmaxOutputBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                              Views out) {
  if (req[0] == OpReq::kNull) return;
  constexpr const char* kOp = "SoftmaxOutput";
  const auto& p = attrs.param<SoftmaxOutputParam>();
  const TensorView &prob = in[0], &label = in[1], &grad = out[0];
  cpu::CheckSameShape(prob, grad, kOp, "out", "data_grad");
  cpu::CheckSameDType(prob, grad, kOp, "out", "data_grad");
  if (p.out_grad) {
    cpu::CheckSameShape(prob, in[2], kOp, "out", "out_grad");
    cpu::CheckSameDType(prob, in[2], kOp, "out", "out_grad");
  }
  const cpu::AxisSplit s = OutputSplit(p, prob.shape);
  const int64_t positions = s.outer * s.inner;
  gpu::SoftmaxOutputGrad g;
  g.grad_scale = p.grad_scale;
  g.ignore_label = p.ignore_label;
  g.use_ignore = p.use_ignore;
  g.smooth_alpha = p.smooth_alpha;
  g.soft = label.size() == prob.size() && positions != prob.size();
  LOOM_CHECK_TYPED(ShapeError, g.soft || label.size() == positions, kOp, ": expected ", positions,
                   " labels (or soft labels of data's shape ", prob.shape.ToString(),
                   ") but got label ", label.shape.ToString());
  int64_t* scratch = nullptr;
  if (p.normalization == Normalization::kBatch) {
    g.norm = static_cast<double>(prob.shape[0]);
  } else if (p.normalization == Normalization::kValid) {
    if (!g.soft && p.use_ignore) {
      g.count_valid = true;
      scratch = static_cast<int64_t*>(gpu::Workspace(ctx, sizeof(int64_t)));
    } else {
      g.norm = static_cast<double>(std::max<int64_t>(positions, 1));
    }
  }
  gpu::SoftmaxOutputBackward(prob.dtype, label.dtype, g, s.outer, s.n, s.inner, prob.ptr, label.ptr,
                             p.out_grad ? in[2].ptr : nullptr, grad.ptr, scratch,
                             static_cast<int>(req[0]), ctx.run.stream);
}

// (data, label) -> output
template <int kind>
void RegressionGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  cpu::CheckSameShape(in[0], out[0], "RegressionOutput", "data", "out");
  cpu::CheckSameDType(in[0], out[0], "RegressionOutput", "data", "out");
  gpu::RegressionForward(in[0].dtype, kind, in[0].ptr, out[0].ptr, in[0].size(),
                         static_cast<int>(req[0]), ctx.run.stream);
}

// (output, label) -> data_grad
template <int kind>
void RegressionBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                           Views out) {
  if (req[0] == OpReq::kNull) return;
  constexpr const char* kOp = "RegressionOutput";
  const TensorView &y = in[0], &label = in[1];
  cpu::CheckSameShape(y, out[0], kOp, "out", "data_grad");
  cpu::CheckSameDType(y, out[0], kOp, "out", "data_grad");
  LOOM_CHECK_TYPED(ShapeError, label.size() == y.size() && label.shape.ndim() >= 1, kOp,
                   ": expected label with the ", y.size(), " elements of data ", y.shape.ToString(),
                   " but got ", label.shape.ToString());
  const int64_t num_output = label.shape[0] == 0 ? 1 : label.size() / label.shape[0];
  const double scale =
      attrs.param<RegressionOutputParam>().grad_scale / static_cast<double>(num_output);
  gpu::RegressionBackward(y.dtype, label.dtype, kind, scale, y.ptr, label.ptr, out[0].ptr, y.size(),
                          static_cast<int>(req[0]), ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("SoftmaxOutput", kGPU, FCompute(SoftmaxOutputGpu));
LOOM_REGISTER_KERNEL("_backward_SoftmaxOutput", kGPU, FCompute(SoftmaxOutputBackwardGpu));
LOOM_REGISTER_KERNEL("LinearRegressionOutput", kGPU, FCompute(RegressionGpu<0>));
LOOM_REGISTER_KERNEL("_backward_LinearRegressionOutput", kGPU, FCompute(RegressionBackwardGpu<0>));
LOOM_REGISTER_KERNEL("LogisticRegressionOutput", kGPU, FCompute(RegressionGpu<1>));
LOOM_REGISTER_KERNEL("_backward_LogisticRegressionOutput", kGPU,
                     FCompute(RegressionBackwardGpu<1>));
LOOM_REGISTER_KERNEL("MAERegressionOutput", kGPU, FCompute(RegressionGpu<2>));
LOOM_REGISTER_KERNEL("_backward_MAERegressionOutput", kGPU, FCompute(RegressionBackwardGpu<2>));

}  // namespace loom::ops
