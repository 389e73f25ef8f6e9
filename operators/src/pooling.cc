// Pooling: max, average, sum or Lp pooling over 1, 2 or 3 spatial dimensions, or global; its
// gradient is one _backward_Pooling node reading the head gradient and the data.
#include "operators/cpu/pooling.h"

#include "nn_util.h"
#include "operators/cpu/pooling2d.h"
#include "pooling_param.h"

namespace loom::ops {
namespace {

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
