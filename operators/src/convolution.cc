// Convolution over 1, 2 or 3 spatial dimensions, with groups, dilation and padding; its
// gradient is one _backward_Convolution node.
#include "operators/cpu/convolution.h"

#include "nn_util.h"

namespace loom::ops {
namespace {

enum class ConvLayout { kNCW, kNCHW, kNCDHW, kNWC, kNHWC, kNDHWC };
enum class CudnnTune { kOff, kLimitedWorkspace, kFastest };

struct ConvolutionParam {
  Shape kernel, stride, dilate, pad;
  int64_t num_filter = 0;
  int64_t num_group = 1;
  int64_t workspace = 1024;
  bool no_bias = false;
  std::optional<CudnnTune> cudnn_tune;
  bool cudnn_off = false;
  std::optional<ConvLayout> layout;

  static void Declare(ParamDeclarer<ConvolutionParam>& d) {
    using P = ConvolutionParam;
    d("kernel", &P::kernel).Describe("Kernel size: (w,), (h, w) or (d, h, w).");
    d("stride", &P::stride).Default(Shape{}).Describe("Stride per spatial axis (default 1).");
    d("dilate", &P::dilate).Default(Shape{}).Describe("Dilation per spatial axis (default 1).");
    d("pad", &P::pad).Default(Shape{}).Describe("Zero padding per spatial axis (default 0).");
    d("num_filter", &P::num_filter).Min(1).Max(100000).Describe("Number of output channels.");
    d("num_group", &P::num_group).Default(1).Min(1).Describe("Number of channel groups.");
    d("workspace", &P::workspace).Default(1024).Min(0).Describe("Workspace limit in MB.");
    d("no_bias", &P::no_bias).Default(false).Describe("Whether to omit the bias.");
    d("cudnn_tune", &P::cudnn_tune)
        .Default(std::nullopt)
        .Enum<CudnnTune>({{"off", CudnnTune::kOff},
                          {"limited_workspace", CudnnTune::kLimitedWorkspace},
                          {"fastest", CudnnTune::kFastest}})
        .Describe("cuDNN algorithm search policy.");
    d("cudnn_off", &P::cudnn_off).Default(false).Describe("Do not use cuDNN.");
    d("layout", &P::layout)
        .Default(std::nullopt)
        .Enum<ConvLayout>({{"NCW", ConvLayout::kNCW},
                           {"NCHW", ConvLayout::kNCHW},
                           {"NCDHW", ConvLayout::kNCDHW},
                           {"NWC", ConvLayout::kNWC},
                           {"NHWC", ConvLayout::kNHWC},
                           {"NDHWC", ConvLayout::kNDHWC}})
        .Describe("Data layout (default NCW, NCHW or NCDHW by kernel dimensions).");
    d.Validate([](P& p) {
      const int k = p.kernel.ndim();
      LOOM_CHECK(k >= 1 && k <= 3, "parameter 'kernel': expected 1 to 3 dimensions but got ",
                 p.kernel.ToString());
      for (int i = 0; i < k; ++i) {
        LOOM_CHECK(p.kernel[i] > 0, "parameter 'kernel': expected positive sizes but got ",
                   p.kernel.ToString());
      }
      auto fill = [&](Shape& s, const char* name, int64_t value) {
        if (s.ndim() == 0) s = Shape(std::vector<int64_t>(k, value));
        LOOM_CHECK(s.ndim() == k, "parameter '", name, "': expected ", k,
                   " values (as many as kernel ", p.kernel.ToString(), ") but got ", s.ToString());
      };
      fill(p.stride, "stride", 1);
      fill(p.dilate, "dilate", 1);
      fill(p.pad, "pad", 0);
      for (int i = 0; i < k; ++i) {
        LOOM_CHECK(p.stride[i] > 0 && p.dilate[i] > 0 && p.pad[i] >= 0,
                   "expected positive stride and dilate and non-negative pad but got stride ",
                   p.stride.ToString(), ", dilate ", p.dilate.ToString(), ", pad ",
                   p.pad.ToString());
      }
      LOOM_CHECK(p.num_filter % p.num_group == 0, "expected num_filter (", p.num_filter,
                 ") to be divisible by num_group (", p.num_group, ")");
      if (p.layout) {
        const bool ok =
            (k == 1 && (*p.layout == ConvLayout::kNCW || *p.layout == ConvLayout::kNWC)) ||
            (k == 2 && (*p.layout == ConvLayout::kNCHW || *p.layout == ConvLayout::kNHWC)) ||
            (k == 3 && (*p.layout == ConvLayout::kNCDHW || *p.layout == ConvLayout::kNDHWC));
        LOOM_CHECK(ok, "parameter 'layout' does not match a kernel of ", k, " dimensions");
      }
    });
  }

  Layout data_layout() const {
    bool last = layout && (*layout == ConvLayout::kNWC || *layout == ConvLayout::kNHWC ||
                           *layout == ConvLayout::kNDHWC);
    return Layout{last, kernel.ndim()};
  }
  int64_t dilated_kernel(int i) const { return 1 + (kernel[i] - 1) * dilate[i]; }
};

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

std::vector<int64_t> Dims(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }

cpu::ConvolutionParams KernelParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<ConvolutionParam>();
  return {.kernel = Dims(p.kernel),
          .stride = Dims(p.stride),
          .dilate = Dims(p.dilate),
          .pad = Dims(p.pad),
          .num_filter = p.num_filter,
          .num_group = p.num_group,
          .no_bias = p.no_bias,
          .channel_last = p.data_layout().channel_last};
}

void ConvolutionCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const cpu::ConvolutionParams p = KernelParams(attrs);
  cpu::ConvolutionForward(p, in[0], in[1], p.no_bias ? nullptr : &in[2], out[0], req[0]);
}

// (out_grad, data, weight) -> (data_grad, weight_grad[, bias_grad])
void ConvolutionBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                Views out) {
  const cpu::ConvolutionParams p = KernelParams(attrs);
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
