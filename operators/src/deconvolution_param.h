// Deconvolution's parameters, shared by the operator's registration (deconvolution.cc) and its GPU
// kernels (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "convolution_param.h"
#include "nn_util.h"
#include "operators/cpu/convolution.h"

namespace loom::ops {

enum class DeconvLayout { kNCW, kNCHW, kNCDHW, kNHWC, kNDHWC };

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
      CheckKernelSizes(p.kernel);
      FillPerAxis(p.stride, "stride", 1, p.kernel);
      FillPerAxis(p.dilate, "dilate", 1, p.kernel);
      FillPerAxis(p.pad, "pad", 0, p.kernel);
      FillPerAxis(p.adj, "adj", 0, p.kernel);
      FillPerAxis(p.target_shape, "target_shape", 0, p.kernel);
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
  /// The CPU and GPU kernels' parameters for data of shape `data`: MXNet's effective padding
  /// (computed from target_shape when it is set; the output's shape carries adj).
  cpu::ConvolutionParams kernel_params(const Shape& data) const {
    const Layout l = data_layout();
    cpu::ConvolutionParams k;
    k.num_filter = num_filter;
    k.num_group = num_group;
    k.no_bias = no_bias;
    k.channel_last = l.channel_last;
    for (int i = 0; i < kernel.ndim(); ++i) {
      k.kernel.push_back(kernel[i]);
      k.stride.push_back(stride[i]);
      k.dilate.push_back(dilate[i]);
      int64_t p = pad[i];
      if (has_target()) {
        const int64_t x = data[l.spatial_axis(i)];
        p = (stride[i] * (x - 1) + dilated_kernel(i) - target_shape[i] + 1) / 2;
      }
      k.pad.push_back(p);
    }
    return k;
  }
};

}  // namespace loom::ops
