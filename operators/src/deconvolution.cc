// Deconvolution (transposed convolution) over 1, 2 or 3 spatial dimensions; its gradient is one
// _backward_Deconvolution node.
#include "deconvolution_param.h"
#include "nn_util.h"
#include "operators/cpu/convolution.h"

namespace loom::ops {
namespace {

// The output size along spatial axis i for input size x (known), as MXNet computes it: with a
// target_shape, pad and adj are chosen so that the output matches the target.
int64_t DeconvOutSize(ShapeContext& ctx, const DeconvolutionParam& p, int i, int64_t x) {
  const int64_t full = p.stride[i] * (x - 1) + p.dilated_kernel(i);
  int64_t pad = p.pad[i], adj = p.adj[i];
  if (p.has_target()) {
    // MXNet derives pad from a target of 0 too, which yields an empty (here: unknown) axis.
    if (p.target_shape[i] == 0) return 0;
    if (full < p.target_shape[i]) {
      ctx.Fail("target_shape " + Str(p.target_shape) + " is too big: at most " +
               std::to_string(full) + " is reachable along spatial axis " + std::to_string(i) +
               " from input size " + std::to_string(x));
    }
    const int64_t total = full - p.target_shape[i];
    adj = total % 2;
    pad = (total + 1) / 2;
  }
  if (adj >= p.stride[i]) {
    ctx.Fail("expected adj smaller than stride " + Str(p.stride) + " but got adj " +
             std::to_string(adj) + (p.has_target() ? " (computed from target_shape)" : "") +
             " along spatial axis " + std::to_string(i));
  }
  const int64_t out = full - 2 * pad + adj;
  if (out <= 0) {
    ctx.Fail("output size " + std::to_string(out) + " along spatial axis " + std::to_string(i) +
             " is not positive (input " + std::to_string(x) + ", kernel " + Str(p.kernel) +
             ", stride " + Str(p.stride) + ", pad " + Str(p.pad) + ")");
  }
  return out;
}

void DeconvolutionShape(ShapeContext& ctx) {
  const auto& p = ctx.param<DeconvolutionParam>();
  const Layout layout = p.data_layout();
  const int k = layout.spatial;
  Shape data = ctx.in(0);
  if (data.ndim() == 0) return;
  if (data.ndim() != k + 2) {
    ctx.Fail(ctx.DescribeInput(0) + " has shape " + Str(data) + " but a kernel of " +
             std::to_string(k) + " dimensions needs data of " + std::to_string(k + 2) +
             " dimensions (batch, channel, spatial...)");
  }
  const int c_axis = layout.channel_axis();
  // The weight's first axis is the input channel count: take it from a known weight.
  if (data[c_axis] == 0 && ctx.in(1).ndim() == k + 2 && ctx.in(1)[0] != 0) {
    data[c_axis] = ctx.in(1)[0];
    ctx.SetIn(0, data, "the weight " + Str(ctx.in(1)));
  }
  const int64_t channels = data[c_axis];
  if (channels != 0 && channels % p.num_group != 0) {
    ctx.Fail("input channels (" + std::to_string(channels) + " in data " + Str(data) +
             ") are not divisible by num_group=" + std::to_string(p.num_group));
  }
  // Weight (C, num_filter/num_group, *kernel), or (C, *kernel, num_filter/num_group) when the
  // channel comes last.
  Shape weight = UnknownShape(k + 2);
  weight[0] = channels;
  weight[layout.channel_last ? k + 1 : 1] = p.num_filter / p.num_group;
  for (int i = 0; i < k; ++i) weight[layout.channel_last ? 1 + i : 2 + i] = p.kernel[i];
  const std::string why = "kernel " + FormatParam(p.kernel) +
                          ", num_filter=" + std::to_string(p.num_filter) + " and data " + Str(data);
  ctx.SetIn(1, weight, why);
  if (!p.no_bias) ctx.SetIn(2, Shape{p.num_filter}, "num_filter=" + std::to_string(p.num_filter));

  Shape out = data;
  out[c_axis] = p.num_filter;
  for (int i = 0; i < k; ++i) {
    const int64_t x = data[layout.spatial_axis(i)];
    out[layout.spatial_axis(i)] = x == 0 ? 0 : DeconvOutSize(ctx, p, i, x);
  }
  ctx.SetOut(0, out, why);
  // Back-fill the batch size always, spatial sizes where stride 1 makes the map invertible.
  const Shape& o = ctx.out(0);
  data[0] = o[0];
  for (int i = 0; i < k; ++i) {
    const int64_t y = o[layout.spatial_axis(i)];
    if (y != 0 && p.stride[i] == 1 && !p.has_target()) {
      data[layout.spatial_axis(i)] = y - p.dilated_kernel(i) + 1 + 2 * p.pad[i] - p.adj[i];
    }
  }
  ctx.SetIn(0, data, "the output shape " + Str(o));
}

void DeconvolutionCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const cpu::ConvolutionParams p = attrs.param<DeconvolutionParam>().kernel_params(in[0].shape);
  cpu::DeconvolutionForward(p, in[0], in[1], p.no_bias ? nullptr : &in[2], out[0], req[0]);
}

// (out_grad, data, weight) -> (data_grad, weight_grad[, bias_grad])
void DeconvolutionBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                  Views out) {
  const cpu::ConvolutionParams p = attrs.param<DeconvolutionParam>().kernel_params(in[1].shape);
  cpu::DeconvolutionBackward(p, in[0], in[1], in[2], out[0], req[0], out[1], req[1],
                             p.no_bias ? nullptr : &out[2], p.no_bias ? OpReq::kNull : req[2]);
}

LOOM_REGISTER_OP(Deconvolution)
    .Describe(R"(Transposed convolution (the gradient of Convolution with respect to its data) of
data (N, C, *spatial) into num_filter channels, in num_group channel groups. Weight
(C, num_filter/num_group, *kernel); bias (num_filter,) unless no_bias (the default). Output
spatial size stride*(x-1) + dilate*(k-1)+1 - 2*pad + adj; with target_shape, pad and adj are
chosen to reach it. Channel-last layouts (NHWC, NDHWC) keep the channel at the end.)")
    .Params<DeconvolutionParam>()
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<DeconvolutionParam>().no_bias) return {"data", "weight"};
      return {"data", "weight", "bias"};
    })
    .InferShape(DeconvolutionShape)
    .InferType(ElemwiseType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw =
          MakeBackwardNode("_backward_Deconvolution", n, {g[0], n->inputs[0], n->inputs[1]});
      return BackwardOutputs(bw, n->inputs.size());
    })
    .Kernel(DeviceType::kCPU, FCompute(DeconvolutionCompute));

LOOM_REGISTER_OP(_backward_Deconvolution)
    .Describe("Gradients of Deconvolution with respect to data, weight and bias.")
    .Inputs({"out_grad", "data", "weight"})
    .NumOutputs([](const NodeAttrs& attrs) -> uint32_t {
      return attrs.param<DeconvolutionParam>().no_bias ? 2 : 3;
    })
    .Kernel(DeviceType::kCPU, FCompute(DeconvolutionBackwardCompute));

}  // namespace
}  // namespace loom::ops
