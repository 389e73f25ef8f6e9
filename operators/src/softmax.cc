// softmax, log_softmax (along an axis) and SoftmaxActivation (per instance or per channel). The
// gradients read the head gradient and the output.
#include "operators/cpu/softmax.h"

#include "nn_util.h"
#include "operators/cpu/softmax_length.h"
#include "softmax_param.h"

namespace loom::ops {
namespace {

void SoftmaxShape(ShapeContext& ctx) {
  const auto& p = ctx.param<SoftmaxParam>();
  ctx.SetIn(0, ctx.out(0), "the output shape");
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int axis = NormalizeAxis(ctx, p.axis, data);
  ctx.SetOut(0, data, "data " + Str(data));
  if (ctx.num_inputs() == 2) {
    // The valid length per position of the other axes.
    Shape length;
    for (int i = 0; i < data.ndim(); ++i) {
      if (i != axis) length.push_back(data[i]);
    }
    if (length.ndim() == 0) length.push_back(1);
    ctx.SetIn(1, length, "data " + Str(data) + " and axis=" + std::to_string(p.axis));
  }
}

// The output has `dtype` when given (and gives it to unknown data); otherwise the data's. The
// length input's dtype is independent, as in MXNet.
void SoftmaxType(TypeContext& ctx) {
  const auto& p = ctx.param<SoftmaxParam>();
  if (p.dtype) {
    ctx.SetOut(0, *p.dtype, "parameter dtype");
    if (ctx.in(0) == DType::kUnknown) ctx.SetIn(0, *p.dtype);
    return;
  }
  ctx.SetOut(0, ctx.in(0));
  ctx.SetIn(0, ctx.out(0));
}

// The kernel's parameters; the CPU kernel needs the output in the data's dtype.
template <bool log>
cpu::SoftmaxParams KernelParams(const NodeAttrs& attrs, const TensorView& data,
                                const TensorView& out) {
  const auto& p = attrs.param<SoftmaxParam>();
  const char* op = log ? "log_softmax" : "softmax";
  LOOM_CHECK_TYPED(NotSupportedError, data.dtype == out.dtype, op,
                   ": the CPU kernel needs the output in the data's dtype (", ToString(data.dtype),
                   ") but parameter dtype asks for ", ToString(out.dtype));
  return {.axis = static_cast<int>(p.axis), .temperature = p.temperature};
}

// softmax (and its backward node) with use_length has an input `length`.
bool HasLength(const NodeAttrs& attrs) { return attrs.param<SoftmaxParam>().length(); }

// (data[, length]) -> output
template <bool log>
void SoftmaxCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const cpu::SoftmaxParams p = KernelParams<log>(attrs, in[0], out[0]);
  if (!log && in.size() == 2) {
    cpu::SoftmaxLengthForward(p, in[0], in[1], out[0], req[0]);
  } else {
    cpu::SoftmaxForward(p, log, in[0], out[0], req[0]);
  }
}

// (out_grad, output[, length]) -> data_grad
template <bool log>
void SoftmaxBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                            Views out) {
  const cpu::SoftmaxParams p = KernelParams<log>(attrs, out[0], in[1]);
  if (!log && in.size() == 3) {
    cpu::SoftmaxLengthBackward(p, in[0], in[1], in[2], out[0], req[0]);
  } else {
    cpu::SoftmaxBackward(p, log, in[0], in[1], out[0], req[0]);
  }
}

std::vector<NodeEntry> SoftmaxGradient(const NodePtr& n, const std::vector<NodeEntry>& g) {
  std::vector<NodeEntry> in{g[0], Out(n, 0)};
  if (n->inputs.size() == 2) in.push_back(n->inputs[1]);
  NodePtr bw = MakeBackwardNode("_backward_" + n->attrs.op->name(), n, std::move(in));
  std::vector<NodeEntry> grads{Out(bw, 0)};
  if (n->inputs.size() == 2) grads.push_back(NodeEntry{});  // the length gets none
  return grads;
}

LOOM_REGISTER_OP(softmax)
    .Describe(R"(softmax along `axis`: exp(x/t) / sum(exp(x/t)) with temperature t. With
use_length, an input `length` (the data's shape without `axis`) limits each softmax to the
first `length` elements. The output has the data's shape and `dtype` (default: the data's).)")
    .Params<SoftmaxParam>()
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<SoftmaxParam>().length()) return {"data", "length"};
      return {"data"};
    })
    .InferShape(SoftmaxShape)
    .InferType(SoftmaxType)
    .Gradient(SoftmaxGradient)
    .Kernel(DeviceType::kCPU, FCompute(SoftmaxCompute<false>));

LOOM_REGISTER_OP(_backward_softmax)
    .Describe("Gradient of softmax from the head gradient and the output (and the length).")
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (HasLength(attrs)) return {"out_grad", "output", "length"};
      return {"out_grad", "output"};
    })
    .InferType(FirstInputType)
    .Kernel(DeviceType::kCPU, FCompute(SoftmaxBackwardCompute<false>));

LOOM_REGISTER_OP(log_softmax)
    .Describe(R"(log(softmax(data)) along `axis`, computed stably. The output has the data's
shape and `dtype` (default: the data's). use_length is accepted and has no effect.)")
    .Params<SoftmaxParam>()
    .Inputs({"data"})
    .InferShape(SoftmaxShape)
    .InferType(SoftmaxType)
    .Gradient(SoftmaxGradient)
    .Kernel(DeviceType::kCPU, FCompute(SoftmaxCompute<true>));

LOOM_REGISTER_OP(_backward_log_softmax)
    .Describe("Gradient of log_softmax from the head gradient and the output.")
    .Inputs({"out_grad", "output"})
    .InferType(FirstInputType)
    .Kernel(DeviceType::kCPU, FCompute(SoftmaxBackwardCompute<true>));

// SoftmaxActivation as softmax over the last axis of (N, rest) (instance) or axis 1 (channel).
TensorView ActivationView(const NodeAttrs& attrs, TensorView t) {
  if (attrs.param<SoftmaxActivationParam>().mode == SoftmaxActivationParam::Mode::kInstance &&
      t.shape.ndim() > 0) {
    const int64_t n = t.shape[0];
    t.shape = Shape{n, n == 0 ? 0 : t.size() / n};
  }
  return t;
}

cpu::SoftmaxParams ActivationParams(const NodeAttrs& attrs) {
  const bool channel =
      attrs.param<SoftmaxActivationParam>().mode == SoftmaxActivationParam::Mode::kChannel;
  cpu::SoftmaxParams k;
  k.axis = channel ? 1 : -1;
  return k;
}

void SoftmaxActivationCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                              Views out) {
  cpu::SoftmaxForward(ActivationParams(attrs), false, ActivationView(attrs, in[0]),
                      ActivationView(attrs, out[0]), req[0]);
}

// (out_grad, output) -> data_grad
void SoftmaxActivationBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                      Views out) {
  cpu::SoftmaxBackward(ActivationParams(attrs), false, ActivationView(attrs, in[0]),
                       ActivationView(attrs, in[1]), ActivationView(attrs, out[0]), req[0]);
}

LOOM_REGISTER_OP(SoftmaxActivation)
    .Describe(R"(Softmax per instance (over each flattened instance, mode 'instance') or per
channel (over axis 1 at each spatial position, mode 'channel'). Deprecated in MXNet in favour
of softmax; the output has the data's shape.)")
    .Params<SoftmaxActivationParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .Gradient(SoftmaxGradient)
    .Kernel(DeviceType::kCPU, FCompute(SoftmaxActivationCompute));

LOOM_REGISTER_OP(_backward_SoftmaxActivation)
    .Describe("Gradient of SoftmaxActivation from the head gradient and the output.")
    .Inputs({"out_grad", "output"})
    .Kernel(DeviceType::kCPU, FCompute(SoftmaxActivationBackwardCompute));

}  // namespace
}  // namespace loom::ops
