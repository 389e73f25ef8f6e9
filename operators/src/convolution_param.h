// Convolution's parameters, shared by the operator's registration (convolution.cc) and its GPU
// kernels (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "nn_util.h"
#include "operators/cpu/convolution.h"

namespace loom::ops {

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
      CheckKernelSizes(p.kernel);
      FillPerAxis(p.stride, "stride", 1, p.kernel);
      FillPerAxis(p.dilate, "dilate", 1, p.kernel);
      FillPerAxis(p.pad, "pad", 0, p.kernel);
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
  /// The CPU and GPU kernels' parameters.
  cpu::ConvolutionParams kernel_params() const {
    return {.kernel = std::vector<int64_t>(kernel.begin(), kernel.end()),
            .stride = std::vector<int64_t>(stride.begin(), stride.end()),
            .dilate = std::vector<int64_t>(dilate.begin(), dilate.end()),
            .pad = std::vector<int64_t>(pad.begin(), pad.end()),
            .num_filter = num_filter,
            .num_group = num_group,
            .no_bias = no_bias,
            .channel_last = data_layout().channel_last};
  }
};

}  // namespace loom::ops
