// UpSampling: nearest-neighbour (of one or more inputs) or bilinear upsampling by an integer scale.
// Nearest's gradient sums each block of the head gradient; bilinear is a depthwise
// Deconvolution and so is its gradient.
#include "operators/cpu/upsampling.h"

#include "nn_util.h"
#include "operators/cpu/convolution.h"
#include "upsampling_param.h"

namespace loom::ops {
namespace {

void CheckImage(ShapeContext& ctx, size_t i) {
  if (ctx.in(i).ndim() != 0 && ctx.in(i).ndim() != 4) {
    ctx.Fail(ctx.DescribeInput(i) + " has shape " + Str(ctx.in(i)) +
             " but expected 4 dimensions (batch, channel, height, width)");
  }
}

void UpSamplingShape(ShapeContext& ctx) {
  const auto& p = ctx.param<UpSamplingParam>();
  for (size_t i = 0; i < ctx.num_inputs(); ++i) CheckImage(ctx, i);
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  Shape out = data;
  out[2] = data[2] * p.scale;
  out[3] = data[3] * p.scale;
  const std::string why = "arg0 " + Str(data) + " and scale=" + std::to_string(p.scale);
  if (p.bilinear()) {
    // A depthwise deconvolution: one (kernel x kernel) filter per channel.
    const int64_t kernel = 2 * p.scale - p.scale % 2;
    ctx.SetIn(1, Shape{data[1], 1, kernel, kernel},
              "data " + Str(data) + " and scale=" + std::to_string(p.scale));
    ctx.SetOut(0, out, why);
    return;
  }
  // Each input is upsampled to the first one's size, so its size must divide it.
  int64_t channels = 0;
  bool channels_known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape& s = ctx.in(i);
    if (s.ndim() == 0 || s[1] == 0) {
      channels_known = false;
      continue;
    }
    for (int axis : {2, 3}) {
      if (s[axis] != 0 && out[axis] != 0 && out[axis] % s[axis] != 0) {
        ctx.Fail(ctx.DescribeInput(i) + " has shape " + Str(s) + " whose size " +
                 std::to_string(s[axis]) + " along axis " + std::to_string(axis) +
                 " does not divide the output size " + std::to_string(out[axis]));
      }
    }
    if (p.multi_input_mode == UpSamplingParam::MultiInput::kSum) {
      if (channels != 0 && channels != s[1]) {
        ctx.Fail("with multi_input_mode 'sum' every input needs the same channels but " +
                 ctx.DescribeInput(i) + " has " + std::to_string(s[1]) + " and an earlier one " +
                 std::to_string(channels));
      }
      channels = s[1];
    } else {
      channels += s[1];
    }
  }
  const bool sum_mode = p.multi_input_mode == UpSamplingParam::MultiInput::kSum;
  out[1] = channels_known || (sum_mode && channels != 0) ? channels : 0;
  ctx.SetOut(0, out, why);
}

// Bilinear upsampling's depthwise deconvolution (MXNet's): kernel 2s - s%2, stride s,
// pad ceil((s - 1) / 2), one group per channel.
cpu::ConvolutionParams BilinearParams(const NodeAttrs& attrs, const Shape& data) {
  const auto& p = attrs.param<UpSamplingParam>();
  const int64_t s = p.scale, k = p.bilinear_kernel(), pad = p.bilinear_pad();
  return {.kernel = {k, k},
          .stride = {s, s},
          .dilate = {1, 1},
          .pad = {pad, pad},
          .num_filter = data[1],
          .num_group = data[1],
          .no_bias = true};
}

// nearest: (arg0, ...) -> output; bilinear: (data, weight) -> output
void UpSamplingCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<UpSamplingParam>();
  if (p.bilinear()) {
    cpu::DeconvolutionForward(BilinearParams(attrs, in[0].shape), in[0], in[1], nullptr, out[0],
                              req[0]);
    return;
  }
  const bool sum = p.multi_input_mode == UpSamplingParam::MultiInput::kSum;
  for (size_t i = 0; i < in.size(); ++i) {
    const OpReq r = sum && i > 0 && req[0] != OpReq::kNull ? OpReq::kAddTo : req[0];
    cpu::UpSamplingNearestForward(in[i], out[0], p.ChannelOffset(in, i), r);
  }
}

// nearest: out_grad -> (arg0_grad, ...); bilinear: (out_grad, data, weight) -> (data_grad,
// weight_grad)
void UpSamplingBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                               Views out) {
  const auto& p = attrs.param<UpSamplingParam>();
  if (p.bilinear()) {
    cpu::DeconvolutionBackward(BilinearParams(attrs, in[1].shape), in[0], in[1], in[2], out[0],
                               req[0], out[1], req[1], nullptr, OpReq::kNull);
    return;
  }
  for (size_t i = 0; i < out.size(); ++i) {
    cpu::UpSamplingNearestBackward(in[0], p.ChannelOffset(out, i), out[i], req[i]);
  }
}

LOOM_REGISTER_OP(UpSampling)
    .Describe(R"(Upsamples images (N, C, H, W) by `scale` to (N, C', H*scale, W*scale).
nearest repeats pixels; with several inputs each is upsampled to the first one's size and they
are concatenated along the channels (C' = the sum) or summed (multi_input_mode). bilinear
applies a depthwise deconvolution with weight (C, 1, k, k), k = 2*scale - scale%2.)")
    .Params<UpSamplingParam>()
    .VariadicInputs("num_args")
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      const auto& p = attrs.param<UpSamplingParam>();
      if (p.bilinear()) return {"data", "weight"};
      std::vector<std::string> names;
      for (int64_t i = 0; i < p.num_args; ++i) names.push_back("arg" + std::to_string(i));
      return names;
    })
    .InferShape(UpSamplingShape)
    .InferType(ElemwiseType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      std::vector<NodeEntry> in{g[0]};
      if (n->attrs.param<UpSamplingParam>().bilinear()) {
        in.insert(in.end(), n->inputs.begin(), n->inputs.end());
      }
      return BackwardOutputs(MakeBackwardNode("_backward_UpSampling", n, std::move(in)),
                             n->inputs.size());
    })
    .Kernel(DeviceType::kCPU, FCompute(UpSamplingCompute));

LOOM_REGISTER_OP(_backward_UpSampling)
    .Describe(R"(Gradients of UpSampling: block sums of the head gradient per input (nearest, from
the head gradient alone), or the depthwise deconvolution's gradients wrt data and weight
(bilinear).)")
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      const auto& p = attrs.param<UpSamplingParam>();
      if (p.bilinear()) return {"out_grad", "data", "weight"};
      return {"out_grad"};
    })
    .NumOutputs([](const NodeAttrs& attrs) -> uint32_t {
      const auto& p = attrs.param<UpSamplingParam>();
      return p.bilinear() ? 2 : static_cast<uint32_t>(p.num_args);
    })
    .Kernel(DeviceType::kCPU, FCompute(UpSamplingBackwardCompute));

}  // namespace
}  // namespace loom::ops
