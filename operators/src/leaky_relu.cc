// LeakyReLU: leaky, parametric (prelu), randomized (rrelu), elu, selu and gelu activations.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct LeakyReLUParam {
  enum class Act { kRRelu, kLeaky, kPRelu, kElu, kSelu, kGelu };
  Act act_type = Act::kLeaky;
  float slope = 0.25f;
  float lower_bound = 0.125f;
  float upper_bound = 0.334f;
  static void Declare(ParamDeclarer<LeakyReLUParam>& d) {
    using P = LeakyReLUParam;
    d("act_type", &P::act_type)
        .Default(Act::kLeaky)
        .Enum<Act>({{"rrelu", Act::kRRelu},
                    {"leaky", Act::kLeaky},
                    {"prelu", Act::kPRelu},
                    {"elu", Act::kElu},
                    {"selu", Act::kSelu},
                    {"gelu", Act::kGelu}})
        .Describe(
            "Activation: leaky x>0?x:slope*x, prelu with a learned per-channel gamma, "
            "rrelu with a random slope in [lower_bound, upper_bound] while training, elu "
            "slope*(exp(x)-1) below 0, selu, gelu.");
    d("slope", &P::slope).Default(0.25f).Describe("Slope of leaky, elu's scale.");
    d("lower_bound", &P::lower_bound).Default(0.125f).Describe("Lower bound of rrelu's slope.");
    d("upper_bound", &P::upper_bound).Default(0.334f).Describe("Upper bound of rrelu's slope.");
  }
};

void LeakyReLUShape(ShapeContext& ctx) {
  const auto& p = ctx.param<LeakyReLUParam>();
  // Every output (rrelu's mask too) has the data's shape.
  Shape data = ctx.in(0);
  for (size_t i = 0; i < ctx.num_outputs(); ++i) MergeShape(&data, ctx.out(i));
  ctx.SetIn(0, data, "the output shape");
  for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.SetOut(i, data, "data " + Str(data));
  if (p.act_type == LeakyReLUParam::Act::kPRelu && data.ndim() > 0 && ctx.in(1).ndim() == 0) {
    if (data.ndim() < 2) {
      ctx.Fail("prelu needs data with a channel axis (at least 2 dimensions) but got " +
               ctx.DescribeInput(0) + " " + Str(data));
    }
    // gamma has one slope per channel; MXNet also accepts a given gamma of another shape
    // (one shared slope (1,), or the data's shape).
    ctx.SetIn(1, Shape{data[1]}, "the channel count of data " + Str(data));
  }
}

LOOM_REGISTER_OP(LeakyReLU)
    .Describe(R"(Leaky rectifiers and their relatives, elementwise: leaky (x or slope*x below 0),
prelu (per-channel learned slope `gamma` (C,)), rrelu (random slope in [lower_bound,
upper_bound] while training, their mean otherwise; also outputs the slopes as `mask`), elu,
selu and gelu. The output has the data's shape.)")
    .Params<LeakyReLUParam>()
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<LeakyReLUParam>().act_type == LeakyReLUParam::Act::kPRelu) {
        return {"data", "gamma"};
      }
      return {"data"};
    })
    .Outputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<LeakyReLUParam>().act_type == LeakyReLUParam::Act::kRRelu) {
        return {"output", "mask"};
      }
      return {"output"};
    })
    .InferShape(LeakyReLUShape)
    .InferType(ElemwiseType)
    .Resources([](const NodeAttrs& attrs) {
      if (attrs.param<LeakyReLUParam>().act_type == LeakyReLUParam::Act::kRRelu) {
        return std::vector<ResourceKind>{ResourceKind::kRandom};
      }
      return std::vector<ResourceKind>{};
    });

}  // namespace
}  // namespace loom::ops
