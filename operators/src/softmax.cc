// softmax, log_softmax (along an axis) and SoftmaxActivation (per instance or per channel).
#include "shape_util.h"

namespace loom::ops {
namespace {

struct SoftmaxParam {
  int64_t axis = -1;
  std::optional<double> temperature;
  std::optional<DType> dtype;
  std::optional<bool> use_length = false;
  static void Declare(ParamDeclarer<SoftmaxParam>& d) {
    using P = SoftmaxParam;
    d("axis", &P::axis).Default(-1).Describe("The axis along which to normalise.");
    d("temperature", &P::temperature)
        .Default(std::nullopt)
        .Describe("Divides the input before exponentiation (default 1).");
    d("dtype", &P::dtype)
        .Default(std::nullopt)
        .Describe("Output dtype (float16, float32 or float64; default: the data's).");
    d("use_length", &P::use_length)
        .Default(false)
        .Describe("softmax only: take an input `length` giving the valid length along axis.");
    d.Validate([](P& p) {
      LOOM_CHECK(!p.dtype || IsFloat(*p.dtype),
                 "parameter 'dtype': expected float16, float32 or float64 but got ",
                 ToString(*p.dtype));
    });
  }
  bool length() const { return use_length.value_or(false); }
};

void SoftmaxShape(ShapeContext& ctx) {
  const auto& p = ctx.param<SoftmaxParam>();
  ctx.SetIn(0, ctx.out(0), "the output shape");
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int axis = NormalizeAxis(ctx, p.axis, data);
  ctx.SetOut(0, data, "data " + Str(data));
  if (ctx.num_inputs() == 2) {
    // The valid length per position of the other axes.
    Shape length;
    for (int i = 0; i < data.ndim(); ++i) {
      if (i != axis) length.push_back(data[i]);
    }
    if (length.ndim() == 0) length.push_back(1);
    ctx.SetIn(1, length, "data " + Str(data) + " and axis=" + std::to_string(p.axis));
  }
}

// The output has `dtype` when given (and gives it to unknown data); otherwise the data's. The
// length input's dtype is independent, as in MXNet.
void SoftmaxType(TypeContext& ctx) {
  const auto& p = ctx.param<SoftmaxParam>();
  if (p.dtype) {
    ctx.SetOut(0, *p.dtype, "parameter dtype");
    if (ctx.in(0) == DType::kUnknown) ctx.SetIn(0, *p.dtype);
    return;
  }
  ctx.SetOut(0, ctx.in(0));
  ctx.SetIn(0, ctx.out(0));
}

LOOM_REGISTER_OP(softmax)
    .Describe(R"(softmax along `axis`: exp(x/t) / sum(exp(x/t)) with temperature t. With
use_length, an input `length` (the data's shape without `axis`) limits each softmax to the
first `length` elements. The output has the data's shape and `dtype` (default: the data's).)")
    .Params<SoftmaxParam>()
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<SoftmaxParam>().length()) return {"data", "length"};
      return {"data"};
    })
    .InferShape(SoftmaxShape)
    .InferType(SoftmaxType);

LOOM_REGISTER_OP(log_softmax)
    .Describe(R"(log(softmax(data)) along `axis`, computed stably. The output has the data's
shape and `dtype` (default: the data's). use_length is accepted and has no effect.)")
    .Params<SoftmaxParam>()
    .Inputs({"data"})
    .InferShape(SoftmaxShape)
    .InferType(SoftmaxType);

struct SoftmaxActivationParam {
  enum class Mode { kInstance, kChannel };
  Mode mode = Mode::kInstance;
  static void Declare(ParamDeclarer<SoftmaxActivationParam>& d) {
    d("mode", &SoftmaxActivationParam::mode)
        .Default(Mode::kInstance)
        .Enum<Mode>({{"instance", Mode::kInstance}, {"channel", Mode::kChannel}})
        .Describe(
            "instance: softmax over all but the first axis of each instance; channel: "
            "softmax over axis 1 at each position.");
  }
};

LOOM_REGISTER_OP(SoftmaxActivation)
    .Describe(R"(Softmax per instance (over each flattened instance, mode 'instance') or per
channel (over axis 1 at each spatial position, mode 'channel'). Deprecated in MXNet in favour
of softmax; the output has the data's shape.)")
    .Params<SoftmaxActivationParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType);

}  // namespace
}  // namespace loom::ops
