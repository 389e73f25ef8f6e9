// GPU kernels of Pooling and _backward_Pooling: max, avg (count_include_pad), sum and lp over 1
// to 3 channel-first spatial axes, global_pool, any pooling_convention (the output's shape says
// which), on the direct kernels of nn_pooling.cu. Their windows are the CPU kernel's, which
// cuDNN's pooling cannot express for the 'full' convention, sum and lp.
#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cpu/pooling.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/pooling_param.h"

namespace loom::gpu {
namespace {

using ops::PoolingParam;

constexpr const char* kOp = "Pooling";

struct PoolCall {
  PoolGeometryGpu g;
  int type = 0;
  bool count_include_pad = true;
  int p_value = 1;
};

PoolCall Prepare(const NodeAttrs& attrs, const Shape& data, const Shape& out) {
  const auto& p = attrs.param<PoolingParam>();
  LOOM_CHECK_TYPED(NotSupportedError, !(p.layout && PoolingParam::ChannelLast(*p.layout)), kOp,
                   ": the GPU kernel supports channel-first layouts (NCW, NCHW, NCDHW) only but "
                   "got a channel-last layout");
  cpu::PoolingParams window;  // the CPU kernel's windows (type and divisor aside)
  window.kernel.assign(p.kernel.begin(), p.kernel.end());
  window.stride.assign(p.stride.begin(), p.stride.end());
  window.pad.assign(p.pad.begin(), p.pad.end());
  window.global_pool = p.global_pool;
  const cpu::PoolingGeometry g = cpu::PoolingShapes(window, data, out);
  PoolCall c;
  c.g.planes = g.planes;
  for (int a = 0; a < 3; ++a) {
    c.g.in[a] = g.in[a];
    c.g.out[a] = g.out[a];
    c.g.k[a] = g.k[a];
    c.g.s[a] = g.s[a];
    c.g.pad[a] = g.pad[a];
  }
  switch (p.pool_type) {
    case PoolingParam::Type::kMax:
      c.type = 0;
      break;
    case PoolingParam::Type::kAvg:
      c.type = 1;
      break;
    case PoolingParam::Type::kSum:
      c.type = 2;
      break;
    case PoolingParam::Type::kLp:
      c.type = 3;
      LOOM_CHECK(p.p_value.has_value() && *p.p_value >= 1, kOp,
                 ": pool_type 'lp' needs p_value >= 1");
      c.p_value = static_cast<int>(*p.p_value);
      break;
  }
  c.count_include_pad = p.count_include_pad.value_or(true);
  return c;
}

// data -> output (the hidden workspace output of max pooling is never asked for)
void PoolingGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const PoolCall c = Prepare(attrs, in[0].shape, out[0].shape);
  cpu::CheckSameDType(in[0], out[0], kOp, "data", "out");
  PoolingForwardGpu(in[0].dtype, c.g, c.type, c.count_include_pad, c.p_value, in[0].ptr, out[0].ptr,
                    static_cast<int>(req[0]), ctx.run.stream);
}

// (out_grad, data) -> data_grad
void PoolingGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const PoolCall c = Prepare(attrs, in[1].shape, in[0].shape);
  cpu::CheckSameShape(in[1], out[0], kOp, "data", "data_grad");
  cpu::CheckSameDType(in[1], in[0], kOp, "data", "out_grad");
  cpu::CheckSameDType(in[1], out[0], kOp, "data", "data_grad");
  PoolingBackwardGpu(in[1].dtype, c.g, c.type, c.count_include_pad, c.p_value, in[0].ptr, in[1].ptr,
                     out[0].ptr, static_cast<int>(req[0]), ctx.run.stream);
}

}  // namespace

LOOM_REGISTER_KERNEL("Pooling", kGPU, FCompute(PoolingGpu));
LOOM_REGISTER_KERNEL("_backward_Pooling", kGPU, FCompute(PoolingGradGpu));

}  // namespace loom::gpu
