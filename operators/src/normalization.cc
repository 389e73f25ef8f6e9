// L2Normalization and InstanceNorm. L2Normalization's gradient reads the output and the hidden
// norm; InstanceNorm's the data and the hidden per-instance mean and var.
#include "operators/cpu/normalization.h"

#include "nn_util.h"
#include "normalization_param.h"

namespace loom::ops {
namespace {

void L2NormalizationShape(ShapeContext& ctx) {
  const auto& p = ctx.param<L2NormalizationParam>();
  ctx.SetIn(0, ctx.out(0), "the output shape");
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  ctx.SetOut(0, data, "data " + Str(data));
  using Mode = L2NormalizationParam::Mode;
  if (p.mode != Mode::kInstance && data.ndim() < 3) {
    ctx.Fail(std::string("mode '") + (p.mode == Mode::kChannel ? "channel" : "spatial") +
             "' needs data of at least 3 dimensions but got " + ctx.DescribeInput(0) + " " +
             Str(data));
  }
  Shape norm;
  switch (p.mode) {
    case Mode::kInstance:
      norm = Shape{data[0]};
      break;
    case Mode::kChannel:
      norm = data;
      norm[1] = 1;
      break;
    case Mode::kSpatial:
      norm = Shape{data[0], data[1]};
      break;
  }
  ctx.SetOut(1, norm, "data " + Str(data));
}

// data -> (output, norm)
void L2NormalizationCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                            Views out) {
  const auto& p = attrs.param<L2NormalizationParam>();
  cpu::L2NormalizationForward(p.kernel_mode(), p.eps, in[0], out[0], req[0], out[1]);
}

// (out_grad, output, norm) -> data_grad
void L2NormalizationBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                    Views out) {
  cpu::L2NormalizationBackward(attrs.param<L2NormalizationParam>().kernel_mode(), in[0], in[1],
                               in[2], out[0], req[0]);
}

LOOM_REGISTER_OP(L2Normalization)
    .Describe(R"(Divides by the L2 norm (plus eps) over each instance, over the channels at each
position, or over the positions of each channel (mode). Outputs output (the data's shape) and
the hidden norm: (N,), data with axis 1 = 1, or (N, C).)")
    .Params<L2NormalizationParam>()
    .Inputs({"data"})
    .Outputs({"output", "norm"})
    .NumVisibleOutputs(1)
    .InferShape(L2NormalizationShape)
    .InferType(ElemwiseType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      return BackwardOutputs(
          MakeBackwardNode("_backward_L2Normalization", n, {g[0], Out(n, 0), Out(n, 1)}), 1);
    })
    .Kernel(DeviceType::kCPU, FCompute(L2NormalizationCompute));

LOOM_REGISTER_OP(_backward_L2Normalization)
    .Describe("Gradient of L2Normalization from the head gradient, the output and norm.")
    .Inputs({"out_grad", "output", "norm"})
    .Kernel(DeviceType::kCPU, FCompute(L2NormalizationBackwardCompute));

void InstanceNormShape(ShapeContext& ctx) {
  ctx.SetIn(0, ctx.out(0), "the output shape");
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  if (data.ndim() < 2) {
    ctx.Fail(ctx.DescribeInput(0) + " has shape " + Str(data) +
             " but expected (batch, channel, ...)");
  }
  const std::string why = "data " + Str(data);
  ctx.SetIn(1, Shape{data[1]}, why);
  ctx.SetIn(2, Shape{data[1]}, why);
  ctx.SetOut(0, data, why);
  ctx.SetOut(1, Shape{data[0], data[1]}, why);
  ctx.SetOut(2, Shape{data[0], data[1]}, why);
}

// (data, gamma, beta) -> (output, mean, var)
void InstanceNormCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  cpu::InstanceNormForward(attrs.param<InstanceNormParam>().eps, in[0], in[1], in[2], out[0],
                           req[0], out[1], out[2]);
}

// (out_grad, data, gamma, mean, var) -> (data_grad, gamma_grad, beta_grad)
void InstanceNormBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                 Views out) {
  cpu::InstanceNormBackward(attrs.param<InstanceNormParam>().eps, in[0], in[1], in[2], in[3], in[4],
                            out[0], req[0], out[1], req[1], out[2], req[2]);
}

LOOM_REGISTER_OP(InstanceNorm)
    .Describe(R"(Normalises each channel of each instance over its positions: out = gamma *
(data - mean) / sqrt(var + eps) + beta with gamma, beta (C,). Outputs output (the data's
shape) and the hidden mean and var (N, C). float32 only, as in MXNet.)")
    .Params<InstanceNormParam>()
    .Inputs({"data", "gamma", "beta"})
    .Outputs({"output", "mean", "var"})
    .NumVisibleOutputs(1)
    .InferShape(InstanceNormShape)
    .InferType(Float32Type)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_InstanceNorm", n,
                                    {g[0], n->inputs[0], n->inputs[1], Out(n, 1), Out(n, 2)});
      return BackwardOutputs(bw, 3);
    })
    .Kernel(DeviceType::kCPU, FCompute(InstanceNormCompute));

LOOM_REGISTER_OP(_backward_InstanceNorm)
    .Describe("Gradients of InstanceNorm with respect to data, gamma and beta.")
    .Inputs({"out_grad", "data", "gamma", "mean", "var"})
    .NumOutputs(3)
    .Kernel(DeviceType::kCPU, FCompute(InstanceNormBackwardCompute));

}  // namespace
}  // namespace loom::ops
