// Deconvolution (transposed convolution) over 1, 2 or 3 spatial dimensions; its gradient is one
// _backward_Deconvolution node.
#include "nn_util.h"
#include "operators/cpu/convolution.h"

namespace loom::ops {
namespace {

enum class DeconvLayout { kNCW, kNCHW, kNCDHW, kNHWC, kNDHWC };
enum class CudnnTune { kOff, kLimitedWorkspace, kFastest };

struct DeconvolutionParam {
  Shape kernel, stride, dilate, pad, adj, target_shape;
  int64_t num_filter = 0;
  int64_t num_group = 1;
  int64_t workspace = 512;
  bool no_bias = true;
  std::optional<CudnnTune> cudnn_tune;
  bool cudnn_off = false;
  std::optional<DeconvLayout> layout;

  static void Declare(ParamDeclarer<DeconvolutionParam>& d) {
    using P = DeconvolutionParam;
    d("kernel", &P::kernel).Describe("Kernel size: (w,), (h, w) or (d, h, w).");
    d("stride", &P::stride).Default(Shape{}).Describe("Stride per spatial axis (default 1).");
    d("dilate", &P::dilate).Default(Shape{}).Describe("Dilation per spatial axis (default 1).");
    d("pad", &P::pad)
        .Default(Shape{})
        .Describe("Padding removed from each side of the output (default 0).");
    d("adj", &P::adj)
        .Default(Shape{})
        .Describe(
            "Extra size added to one side of the output, smaller than the stride "
            "(default 0).");
    d("target_shape", &P::target_shape)
        .Default(Shape{})
        .Describe("Output spatial shape; when set, pad and adj are computed from it.");
    d("num_filter", &P::num_filter).Min(1).Describe("Number of output channels.");
    d("num_group", &P::num_group).Default(1).Min(1).Describe("Number of channel groups.");
    d("workspace", &P::workspace).Default(512).Min(0).Describe("Workspace limit in MB.");
    d("no_bias", &P::no_bias).Default(true).Describe("Whether to omit the bias.");
    d("cudnn_tune", &P::cudnn_tune)
        .Default(std::nullopt)
        .Enum<CudnnTune>({{"off", CudnnTune::kOff},
                          {"limited_workspace", CudnnTune::kLimitedWorkspace},
                          {"fastest", CudnnTune::kFastest}})
        .Describe("cuDNN algorithm search policy.");
    d("cudnn_off", &P::cudnn_off).Default(false).Describe("Do not use cuDNN.");
    d("layout", &P::layout)
        .Default(std::nullopt)
        .Enum<DeconvLayout>({{"NCW", DeconvLayout::kNCW},
                             {"NCHW", DeconvLayout::kNCHW},
                             {"NCDHW", DeconvLayout::kNCDHW},
                             {"NHWC", DeconvLayout::kNHWC},
                             {"NDHWC", DeconvLayout::kNDHWC}})
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
      fill(p.adj, "adj", 0);
      fill(p.target_shape, "target_shape", 0);
      for (int i = 0; i < k; ++i) {
        LOOM_CHECK(p.stride[i] > 0 && p.dilate[i] > 0 && p.pad[i] >= 0 && p.adj[i] >= 0 &&
                       p.target_shape[i] >= 0,
                   "expected positive stride and dilate and non-negative pad, adj and "
                   "target_shape but got stride ",
                   p.stride.ToString(), ", dilate ", p.dilate.ToString(), ", pad ",
                   p.pad.ToString(), ", adj ", p.adj.ToString(), ", target_shape ",
                   p.target_shape.ToString());
      }
      LOOM_CHECK(p.num_filter % p.num_group == 0, "expected num_filter (", p.num_filter,
                 ") to be divisible by num_group (", p.num_group, ")");
      if (p.layout) {
        const DeconvLayout l = *p.layout;
        const bool ok = (k == 1 && l == DeconvLayout::kNCW) ||
                        (k == 2 && (l == DeconvLayout::kNCHW || l == DeconvLayout::kNHWC)) ||
                        (k == 3 && (l == DeconvLayout::kNCDHW || l == DeconvLayout::kNDHWC));
        LOOM_CHECK(ok, "parameter 'layout' does not match a kernel of ", k, " dimensions");
      }
    });
  }

  Layout data_layout() const {
    const bool last = layout && (*layout == DeconvLayout::kNHWC || *layout == DeconvLayout::kNDHWC);
    return Layout{last, kernel.ndim()};
  }
  int64_t dilated_kernel(int i) const { return 1 + (kernel[i] - 1) * dilate[i]; }
  bool has_target() const {
    for (int64_t t : target_shape) {
      if (t != 0) return true;
    }
    return false;
  }
};

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

// The kernel's parameters: MXNet's effective padding (from target_shape when given; the output's
// shape carries adj).
cpu::ConvolutionParams KernelParams(const NodeAttrs& attrs, const Shape& data) {
  const auto& p = attrs.param<DeconvolutionParam>();
  const Layout layout = p.data_layout();
  cpu::ConvolutionParams k;
  k.num_filter = p.num_filter;
  k.num_group = p.num_group;
  k.no_bias = p.no_bias;
  k.channel_last = layout.channel_last;
  for (int i = 0; i < p.kernel.ndim(); ++i) {
    k.kernel.push_back(p.kernel[i]);
    k.stride.push_back(p.stride[i]);
    k.dilate.push_back(p.dilate[i]);
    int64_t pad = p.pad[i];
    if (p.has_target()) {
      const int64_t x = data[layout.spatial_axis(i)];
      pad = (p.stride[i] * (x - 1) + p.dilated_kernel(i) - p.target_shape[i] + 1) / 2;
    }
    k.pad.push_back(pad);
  }
  return k;
}

void DeconvolutionCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const cpu::ConvolutionParams p = KernelParams(attrs, in[0].shape);
  cpu::DeconvolutionForward(p, in[0], in[1], p.no_bias ? nullptr : &in[2], out[0], req[0]);
}

// (out_grad, data, weight) -> (data_grad, weight_grad[, bias_grad])
void DeconvolutionBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                  Views out) {
  const cpu::ConvolutionParams p = KernelParams(attrs, in[1].shape);
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
