// Pooling: max, average, sum or Lp pooling over 1, 2 or 3 spatial dimensions, or global; its
// gradient is one _backward_Pooling node reading the head gradient and the data.
#include "operators/cpu/pooling.h"

#include "nn_util.h"
#include "operators/cpu/pooling2d.h"

namespace loom::ops {
namespace {

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
      for (int i = 0; i < k; ++i) {
        LOOM_CHECK(p.kernel[i] > 0, "parameter 'kernel': expected positive sizes but got ",
                   p.kernel.ToString());
      }
      auto fill = [&](Shape& s, const char* name, int64_t value) {
        if (s.ndim() == 0) s = Shape(std::vector<int64_t>(k, value));
        LOOM_CHECK(s.ndim() == k, "parameter '", name, "': expected ", k,
                   " values (as many as kernel ", p.kernel.ToString(), ") but got ", s.ToString());
      };
      if (k > 0) {
        fill(p.stride, "stride", 1);
        fill(p.pad, "pad", 0);
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

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

void PoolingShape(ShapeContext& ctx) {
  const auto& p = ctx.param<PoolingParam>();
  Shape data = ctx.in(0);
  if (data.ndim() == 0) return;
  if (data.ndim() < 3 || data.ndim() > 5) {
    ctx.Fail(ctx.DescribeInput(0) + " has shape " + Str(data) +
             " but expected 3 to 5 dimensions: (batch, channel, x), (batch, channel, y, x) or "
             "(batch, channel, d, y, x)");
  }
  const int spatial = data.ndim() - 2;
  const Layout layout{p.layout && PoolingParam::ChannelLast(*p.layout), spatial};
  Shape out = data;
  if (p.global_pool) {
    for (int i = 0; i < spatial; ++i) out[layout.spatial_axis(i)] = 1;
  } else {
    const int k = p.kernel.ndim();
    if (spatial != k) {
      ctx.Fail(ctx.DescribeInput(0) + " has shape " + Str(data) + " but a kernel of " +
               std::to_string(k) + " dimensions needs data of " + std::to_string(k + 2) +
               " dimensions (batch, channel, spatial...)");
    }
    if (p.pooling_convention == PoolingParam::Convention::kSame && k != 1) {
      ctx.Fail(
          "supports pooling_convention 'same' only for 1-D pooling (data (batch, channel, "
          "x)) but got data " +
          Str(data));
    }
    for (int i = 0; i < k; ++i) {
      const int64_t x = data[layout.spatial_axis(i)];
      int64_t& y = out[layout.spatial_axis(i)];
      if (x == 0) {
        y = 0;
        continue;
      }
      const int64_t padded = x + 2 * p.pad[i];
      if (p.kernel[i] > padded) {
        ctx.Fail("kernel " + FormatParam(p.kernel) + " exceeds the input size " +
                 std::to_string(x) + " (padded to " + std::to_string(padded) + ") of data " +
                 Str(data));
      }
      switch (p.pooling_convention) {
        case PoolingParam::Convention::kValid:
          y = 1 + (padded - p.kernel[i]) / p.stride[i];
          break;
        case PoolingParam::Convention::kFull:
          y = 1 + CeilDiv(padded - p.kernel[i], p.stride[i]);
          break;
        case PoolingParam::Convention::kSame:
          y = CeilDiv(padded, p.stride[i]);
          break;
      }
    }
  }
  ctx.SetOut(0, out, "data " + Str(data));
  if (ctx.num_outputs() == 2) ctx.SetOut(1, ctx.out(0), "the output shape");
  // Batch and channel pass through unchanged: back-fill them from the output.
  const Shape& o = ctx.out(0);
  data[0] = o[0];
  data[layout.channel_axis()] = o[layout.channel_axis()];
  ctx.SetIn(0, data, "the output shape " + Str(o));
}

// MXNet 1.9's oneDNN build (the PyPI build, and the one that wrote MKLDNN-era model files) gives
// max pooling over 1 to 3 channel-first spatial axes a hidden second output, its workspace, and
// the files it writes count it in node_row_ptr. Loom has the same outputs so that such files
// re-save byte for byte; nothing reads the workspace, so the executor never asks for it.
std::vector<std::string> PoolingOutputs(const NodeAttrs& attrs) {
  const auto& p = attrs.param<PoolingParam>();
  const int k = p.kernel.ndim();
  const bool workspace = p.pool_type == PoolingParam::Type::kMax && k >= 1 && k <= 3 &&
                         !(p.layout && PoolingParam::ChannelLast(*p.layout));
  if (workspace) return {"output", "workspace"};
  return {"output"};
}

// The kernel's parameters; lp pooling and channel-last layouts have no CPU kernel.
cpu::PoolingParams KernelParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<PoolingParam>();
  LOOM_CHECK_TYPED(NotSupportedError, p.pool_type != PoolingParam::Type::kLp,
                   "Pooling: the CPU kernel supports pool_type max, avg and sum but got lp");
  LOOM_CHECK_TYPED(NotSupportedError, !(p.layout && PoolingParam::ChannelLast(*p.layout)),
                   "Pooling: the CPU kernel supports channel-first layouts (NCW, NCHW, NCDHW) "
                   "only but got a channel-last layout");
  cpu::PoolingParams k;
  switch (p.pool_type) {
    case PoolingParam::Type::kAvg:
      k.type = cpu::PoolType::kAvg;
      break;
    case PoolingParam::Type::kSum:
      k.type = cpu::PoolType::kSum;
      break;
    default:
      k.type = cpu::PoolType::kMax;
  }
  k.kernel.assign(p.kernel.begin(), p.kernel.end());
  k.stride.assign(p.stride.begin(), p.stride.end());
  k.pad.assign(p.pad.begin(), p.pad.end());
  k.global_pool = p.global_pool;
  k.count_include_pad = p.count_include_pad.value_or(true);
  return k;
}

// 2-D pooling takes the fast path of pooling2d.h, 1-D and 3-D the general kernel.
void PoolingCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const cpu::PoolingParams p = KernelParams(attrs);
  if (cpu::Pooling2DApplies(p, in[0].shape)) {
    cpu::Pooling2DForward(p, in[0], out[0], req[0]);
  } else {
    cpu::PoolingForward(p, in[0], out[0], req[0]);
  }
}

// (out_grad, data) -> data_grad
void PoolingBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                            Views out) {
  const cpu::PoolingParams p = KernelParams(attrs);
  if (cpu::Pooling2DApplies(p, in[1].shape)) {
    cpu::Pooling2DBackward(p, in[0], in[1], out[0], req[0]);
  } else {
    cpu::PoolingBackward(p, in[0], in[1], out[0], req[0]);
  }
}

LOOM_REGISTER_OP(Pooling)
    .Describe(R"(Pools data (N, C, *spatial) over windows of size `kernel` with stride and
padding: pool_type max, avg (count_include_pad), sum, or lp (p_value). Output spatial size:
valid 1 + floor((x + 2p - k) / s), full 1 + ceil((x + 2p - k) / s), same ceil((x + 2p) / s).
global_pool reduces every spatial axis to 1. Channel-last layouts keep the channel at the end.)")
    .Params<PoolingParam>()
    .Inputs({"data"})
    .Outputs(PoolingOutputs)
    .NumVisibleOutputs(1)
    .InferShape(PoolingShape)
    .InferType(ElemwiseType)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      return BackwardOutputs(MakeBackwardNode("_backward_Pooling", n, {g[0], n->inputs[0]}), 1);
    })
    .Kernel(DeviceType::kCPU, FCompute(PoolingCompute));

LOOM_REGISTER_OP(_backward_Pooling)
    .Describe("Gradient of Pooling with respect to its data (max: to the window's first maximum).")
    .Inputs({"out_grad", "data"})
    .Kernel(DeviceType::kCPU, FCompute(PoolingBackwardCompute));

}  // namespace
}  // namespace loom::ops
