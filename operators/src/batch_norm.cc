// BatchNorm: normalisation by batch statistics, with moving averages as auxiliary states (written
// by the training forward pass). The gradient reads the statistics the forward pass left in the
// hidden mean and var outputs.
#include "operators/cpu/batch_norm.h"

#include "nn_util.h"
#include "batch_norm_param.h"

namespace loom::ops {
namespace {

constexpr size_t kGamma = 1, kBeta = 2, kMovingMean = 3, kMovingVar = 4;

void BatchNormShape(ShapeContext& ctx) {
  const auto& p = ctx.param<BatchNormParam>();
  ctx.SetIn(0, ctx.out(0), "the output shape");
  Shape data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int axis = NormalizeAxis(ctx, p.axis, data);
  // The channel count may be known only from a per-channel input or output.
  for (size_t i : {kGamma, kBeta, kMovingMean, kMovingVar}) {
    if (data[axis] == 0 && ctx.in(i).ndim() == 1) data[axis] = ctx.in(i)[0];
  }
  for (size_t i : {size_t{1}, size_t{2}}) {
    if (data[axis] == 0 && ctx.out(i).ndim() == 1) data[axis] = ctx.out(i)[0];
  }
  ctx.SetIn(0, data, "its per-channel inputs");
  const Shape channel{data[axis]};
  const std::string why = "the channel axis " + std::to_string(axis) + " of data " + Str(data);
  for (size_t i : {kGamma, kBeta, kMovingMean, kMovingVar}) ctx.SetIn(i, channel, why);
  ctx.SetOut(0, data, "data " + Str(data));
  ctx.SetOut(1, channel, why);
  ctx.SetOut(2, channel, why);
}

// Data and output share a dtype; the per-channel values are float32 for float16 data (as cuDNN
// needs) and the data's type otherwise.
void BatchNormType(TypeContext& ctx) {
  ctx.SetIn(0, ctx.out(0));
  const DType data = ctx.in(0);
  if (data == DType::kUnknown) return;
  if (!IsFloat(data)) {
    ctx.Fail("supports only floating-point data but got " + ctx.DescribeInput(0) + " of dtype " +
             ToString(data));
  }
  const DType param = data == DType::kFloat16 ? DType::kFloat32 : data;
  const std::string why = std::string("data of dtype ") + ToString(data);
  for (size_t i : {kGamma, kBeta, kMovingMean, kMovingVar}) ctx.SetIn(i, param, why);
  ctx.SetOut(0, data);
  ctx.SetOut(1, param, why);
  ctx.SetOut(2, param, why);
}

cpu::BatchNormParams KernelParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<BatchNormParam>();
  return {.eps = p.eps,
          .momentum = p.momentum,
          .fix_gamma = p.fix_gamma,
          .use_global_stats = p.use_global_stats,
          .axis = static_cast<int>(p.axis)};
}

// (data, gamma, beta, moving_mean, moving_var) -> (output, mean, var)
void BatchNormCompute(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  cpu::BatchNormForward(KernelParams(attrs), ctx.is_train, in[0], in[kGamma], in[kBeta],
                        in[kMovingMean], in[kMovingVar], out[0], req[0], out[1], out[2],
                        ctx.replica_reducer);
}

// (out_grad, data, gamma, mean, var) -> (data_grad, gamma_grad, beta_grad)
void BatchNormBackwardCompute(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                              Views out) {
  cpu::BatchNormBackward(KernelParams(attrs), ctx.is_train, in[0], in[1], in[2], in[3], in[4],
                         out[0], req[0], out[1], req[1], out[2], req[2], ctx.replica_reducer);
}

// Batch statistics span every replica's batch when the executor has a replica reducer
// (cross-replica BatchNorm, ExecutorOptions::replica_reducer); use_global_stats needs none.
std::vector<ResourceKind> BatchNormResources(const NodeAttrs& attrs) {
  if (attrs.param<BatchNormParam>().use_global_stats) return {};
  return {ResourceKind::kReplicaReducer};
}

// The data's gradient has the head gradient's dtype, gamma's and beta's gamma's.
void BatchNormBackwardType(TypeContext& ctx) {
  ctx.SetOut(0, ctx.in(0));
  ctx.SetOut(1, ctx.in(2));
  ctx.SetOut(2, ctx.in(2));
}

LOOM_REGISTER_OP(BatchNorm)
    .Describe(R"(Batch normalisation along the channel `axis`: out = gamma * (data - mean) /
sqrt(var + eps) + beta, with the batch's mean and variance while training (updating the moving
averages moving_mean and moving_var, auxiliary states, by momentum) and the moving averages
with use_global_stats or at inference. With a replica reducer (ExecutorOptions::replica_reducer)
the training statistics are those of every replica's batch together (synchronized BatchNorm). gamma, beta, moving_mean, moving_var: (C,). Outputs
output (data's shape), mean and var (C,); only output is visible unless output_mean_var.)")
    .Params<BatchNormParam>()
    .Inputs({"data", "gamma", "beta", "moving_mean", "moving_var"})
    .AuxStates({"moving_mean", "moving_var"})
    .Outputs({"output", "mean", "var"})
    .NumVisibleOutputs([](const NodeAttrs& attrs) -> uint32_t {
      return attrs.param<BatchNormParam>().output_mean_var ? 3 : 1;
    })
    .SetInputVarAttrOnCompose([](const NodeAttrs&, StrMap* dict, uint32_t index) {
      if (dict->contains("__init__")) return;
      if (index == kMovingMean) (*dict)["__init__"] = R"(["zero", {}])";
      if (index == kMovingVar) (*dict)["__init__"] = R"(["one", {}])";
    })
    .InferShape(BatchNormShape)
    .InferType(BatchNormType)
    .Resources(BatchNormResources)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_BatchNorm", n,
                                    {g[0], n->inputs[0], n->inputs[kGamma], Out(n, 1), Out(n, 2)});
      return std::vector<NodeEntry>{Out(bw, 0), Out(bw, 1), Out(bw, 2), NodeEntry{}, NodeEntry{}};
    })
    .Kernel(DeviceType::kCPU, FCompute(BatchNormCompute));

LOOM_REGISTER_OP(_backward_BatchNorm)
    .Describe(R"(Gradients of BatchNorm with respect to data, gamma (zero with fix_gamma) and
beta, from the batch statistics of the training forward pass (the moving ones with
use_global_stats).)")
    .Inputs({"out_grad", "data", "gamma", "mean", "var"})
    .NumOutputs(3)
    .InferType(BatchNormBackwardType)
    .Resources(BatchNormResources)
    .Kernel(DeviceType::kCPU, FCompute(BatchNormBackwardCompute));

}  // namespace
}  // namespace loom::ops
