// Convolution over 1, 2 or 3 spatial dimensions, with groups, dilation and padding; its
// gradient is one _backward_Convolution node.
#include "operators/cpu/convolution.h"

#include "convolution_param.h"
#include "nn_util.h"

namespace loom::ops {
namespace {

void ConvolutionShape(ShapeContext& ctx) {
  const auto& p = ctx.param<ConvolutionParam>();
  const Layout layout = p.data_layout();
  const int k = layout.spatial;
  Shape data = ctx.in(0);
  if (data.ndim() == 0) return;
  if (data.ndim() != k + 2) {
    ctx.Fail(ctx.DescribeInput(0) + " has shape " + data.ToString() + " but a kernel of " +
             std::to_string(k) + " dimensions needs data of " + std::to_string(k + 2) +
             " dimensions (batch, channel, spatial...)");
  }
  const int64_t channels = data[layout.channel_axis()];
  if (channels != 0 && channels % p.num_group != 0) {
    ctx.Fail("input channels (" + std::to_string(channels) + " in data " + data.ToString() +
             ") are not divisible by num_group=" + std::to_string(p.num_group));
  }
  Shape weight(std::vector<int64_t>(k + 2, 0));
  weight[0] = p.num_filter;
  weight[layout.channel_axis()] = channels / p.num_group;
  for (int i = 0; i < k; ++i) weight[layout.spatial_axis(i)] = p.kernel[i];
  std::string why = "kernel " + FormatParam(p.kernel) +
                    ", num_filter=" + std::to_string(p.num_filter) + " and data " + data.ToString();
  ctx.SetIn(1, weight, why);
  if (!p.no_bias) ctx.SetIn(2, Shape{p.num_filter}, "num_filter=" + std::to_string(p.num_filter));

  Shape out = data;
  out[layout.channel_axis()] = p.num_filter;
  for (int i = 0; i < k; ++i) {
    const int64_t x = data[layout.spatial_axis(i)];
    if (x == 0) continue;
    const int64_t padded = x + 2 * p.pad[i];
    if (p.dilated_kernel(i) > padded) {
      ctx.Fail("kernel " + FormatParam(p.kernel) + " (dilated size " +
               std::to_string(p.dilated_kernel(i)) + ") exceeds the padded input size " +
               std::to_string(padded) + " of data " + data.ToString());
    }
    out[layout.spatial_axis(i)] = (padded - p.dilated_kernel(i)) / p.stride[i] + 1;
  }
  ctx.SetOut(0, out, why);
  // Back-fill the data: the batch size always, spatial sizes where the stride is 1.
  const Shape& o = ctx.out(0);
  data[0] = o[0];
  for (int i = 0; i < k; ++i) {
    const int64_t y = o[layout.spatial_axis(i)];
    if (y != 0 && p.stride[i] == 1) {
      data[layout.spatial_axis(i)] = y + p.dilated_kernel(i) - 1 - 2 * p.pad[i];
    }
  }
  ctx.SetIn(0, data, "the output shape " + o.ToString());
}

void ConvolutionCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const cpu::ConvolutionParams p = attrs.param<ConvolutionParam>().kernel_params();
  cpu::ConvolutionForward(p, in[0], in[1], p.no_bias ? nullptr : &in[2], out[0], req[0]);
}

// (out_grad, data, weight) -> (data_grad, weight_grad[, bias_grad])
void ConvolutionBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                Views out) {
  const cpu::ConvolutionParams p = attrs.param<ConvolutionParam>().kernel_params();
  cpu::ConvolutionBackward(p, in[0], in[1], in[2], out[0], req[0], out[1], req[1],
                           p.no_bias ? nullptr : &out[2], p.no_bias ? OpReq::kNull : req[2]);
}

LOOM_REGISTER_OP(Convolution)
    .Describe(R"(Convolution of data (N, C, *spatial) with num_filter kernels of size `kernel`,
in num_group channel groups, with stride, dilation and zero padding. Weight (num_filter,
C/num_group, *kernel); bias (num_filter,); output spatial size
floor((x + 2*pad - (dilate*(k-1)+1)) / stride) + 1. Channel-last layouts (NWC, NHWC, NDHWC)
keep the channel at the end.)")
    .Params<ConvolutionParam>()
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<ConvolutionParam>().no_bias) return {"data", "weight"};
      return {"data", "weight", "bias"};
    })
    .InferShape(ConvolutionShape)
    .InferType(ElemwiseType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_Convolution", n, {g[0], n->inputs[0], n->inputs[1]});
      return BackwardOutputs(bw, n->inputs.size());
    })
    .Kernel(DeviceType::kCPU, FCompute(ConvolutionCompute));

LOOM_REGISTER_OP(_backward_Convolution)
    .Describe("Gradients of Convolution with respect to data, weight and bias.")
    .Inputs({"out_grad", "data", "weight"})
    .NumOutputs([](const NodeAttrs& attrs) -> uint32_t {
      return attrs.param<ConvolutionParam>().no_bias ? 2 : 3;
    })
    .Kernel(DeviceType::kCPU, FCompute(ConvolutionBackwardCompute));

}  // namespace
}  // namespace loom::ops
