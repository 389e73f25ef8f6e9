// BatchNorm: normalisation by batch statistics, with moving averages as auxiliary states.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct BatchNormParam {
  double eps = 1e-3;
  float momentum = 0.9f;
  bool fix_gamma = true;
  bool use_global_stats = false;
  bool output_mean_var = false;
  int64_t axis = 1;
  bool cudnn_off = false;
  std::optional<float> min_calib_range;
  std::optional<float> max_calib_range;
  static void Declare(ParamDeclarer<BatchNormParam>& d) {
    using P = BatchNormParam;
    d("eps", &P::eps).Default(1e-3).Describe("Added to the variance before its square root.");
    d("momentum", &P::momentum).Default(0.9f).Describe("Decay of the moving averages.");
    d("fix_gamma", &P::fix_gamma)
        .Default(true)
        .Describe("Use gamma = 1 (and give it a zero gradient).");
    d("use_global_stats", &P::use_global_stats)
        .Default(false)
        .Describe("Normalise with the moving averages instead of the batch statistics.");
    d("output_mean_var", &P::output_mean_var)
        .Default(false)
        .Describe("Also expose the batch mean and variance as outputs.");
    d("axis", &P::axis).Default(1).Describe("The channel axis (negative counts from the end).");
    d("cudnn_off", &P::cudnn_off).Default(false).Describe("Do not use cuDNN.");
    d("min_calib_range", &P::min_calib_range)
        .Default(std::nullopt)
        .Describe("Quantization: minimum calibrated output value.");
    d("max_calib_range", &P::max_calib_range)
        .Default(std::nullopt)
        .Describe("Quantization: maximum calibrated output value.");
  }
};

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

LOOM_REGISTER_OP(BatchNorm)
    .Describe(R"(Batch normalisation along the channel `axis`: out = gamma * (data - mean) /
sqrt(var + eps) + beta, with the batch's mean and variance while training (updating the moving
averages moving_mean and moving_var, auxiliary states, by momentum) and the moving averages
with use_global_stats or at inference. gamma, beta, moving_mean, moving_var: (C,). Outputs
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
    .InferType(BatchNormType);

}  // namespace
}  // namespace loom::ops
