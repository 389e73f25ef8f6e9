// Pooling's parameters, shared by the operator's registration (pooling.cc) and its GPU kernels
// (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "nn_util.h"

namespace loom::ops {

enum class PoolLayout { kNCW, kNCHW, kNCDHW, kNWC, kNHWC, kNDHWC };

struct PoolingParam {
  enum class Type { kMax, kAvg, kSum, kLp };
  enum class Convention { kValid, kFull, kSame };
  Shape kernel;
  Type pool_type = Type::kMax;
  bool global_pool = false;
  bool cudnn_off = false;
  Convention pooling_convention = Convention::kValid;
  Shape stride, pad;
  std::optional<int64_t> p_value;
  std::optional<bool> count_include_pad;
  std::optional<PoolLayout> layout;

  static void Declare(ParamDeclarer<PoolingParam>& d) {
    using P = PoolingParam;
    d("kernel", &P::kernel)
        .Default(Shape{})
        .Describe("Pooling window: (w,), (h, w) or (d, h, w); ignored with global_pool.");
    d("pool_type", &P::pool_type)
        .Default(Type::kMax)
        .Enum<Type>(
            {{"max", Type::kMax}, {"avg", Type::kAvg}, {"sum", Type::kSum}, {"lp", Type::kLp}})
        .Describe("Pooling function.");
    d("global_pool", &P::global_pool)
        .Default(false)
        .Describe("Pool over the whole spatial extent (output spatial size 1).");
    d("cudnn_off", &P::cudnn_off).Default(false).Describe("Do not use cuDNN.");
    d("pooling_convention", &P::pooling_convention)
        .Default(Convention::kValid)
        .Enum<Convention>({{"valid", Convention::kValid},
                           {"full", Convention::kFull},
                           {"same", Convention::kSame}})
        .Describe(
            "Output size: valid 1+floor((x+2p-k)/s), full 1+ceil((x+2p-k)/s), same "
            "ceil((x+2p)/s) (1-D only).");
    d("stride", &P::stride).Default(Shape{}).Describe("Stride per spatial axis (default 1).");
    d("pad", &P::pad).Default(Shape{}).Describe("Padding per spatial axis (default 0).");
    d("p_value", &P::p_value)
        .Default(std::nullopt)
        .Describe("The p of Lp pooling (required for pool_type 'lp').");
    d("count_include_pad", &P::count_include_pad)
        .Default(std::nullopt)
        .Describe("Average pooling: count padded elements in the divisor (default true).");
    d("layout", &P::layout)
        .Default(std::nullopt)
        .Enum<PoolLayout>({{"NCW", PoolLayout::kNCW},
                           {"NCHW", PoolLayout::kNCHW},
                           {"NCDHW", PoolLayout::kNCDHW},
                           {"NWC", PoolLayout::kNWC},
                           {"NHWC", PoolLayout::kNHWC},
                           {"NDHWC", PoolLayout::kNDHWC}})
        .Describe("Data layout (default NCW, NCHW or NCDHW by dimensions).");
    d.Validate([](P& p) {
      const int k = p.kernel.ndim();
      LOOM_CHECK(k <= 3, "parameter 'kernel': expected 1 to 3 dimensions but got ",
                 p.kernel.ToString());
      LOOM_CHECK(k > 0 || p.global_pool,
                 "parameter 'kernel' is required unless global_pool is set");
      CheckKernelSizes(p.kernel);
      if (k > 0) {
        FillPerAxis(p.stride, "stride", 1, p.kernel);
        FillPerAxis(p.pad, "pad", 0, p.kernel);
        for (int i = 0; i < k; ++i) {
          LOOM_CHECK(p.stride[i] > 0 && p.pad[i] >= 0,
                     "expected positive stride and non-negative pad but got stride ",
                     p.stride.ToString(), " and pad ", p.pad.ToString());
        }
      }
      LOOM_CHECK(p.pool_type != Type::kLp || p.p_value.has_value(),
                 "pool_type 'lp' needs parameter 'p_value'");
      if (p.layout && k > 0 && !p.global_pool) {
        LOOM_CHECK(SpatialDims(*p.layout) == k, "parameter 'layout' does not match a kernel of ", k,
                   " dimensions");
      }
    });
  }

  static int SpatialDims(PoolLayout l) {
    switch (l) {
      case PoolLayout::kNCW:
      case PoolLayout::kNWC:
        return 1;
      case PoolLayout::kNCHW:
      case PoolLayout::kNHWC:
        return 2;
      default:
        return 3;
    }
  }
  static bool ChannelLast(PoolLayout l) {
    return l == PoolLayout::kNWC || l == PoolLayout::kNHWC || l == PoolLayout::kNDHWC;
  }
};

}  // namespace loom::ops
