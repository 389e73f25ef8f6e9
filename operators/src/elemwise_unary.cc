// Elementwise unary operators: math functions, copies, gradient stops, clip and *_like.
#include "shape_util.h"

namespace loom::ops {
namespace {

std::vector<std::pair<int, int>> InplaceIdentity(const NodeAttrs&) { return {{0, 0}}; }

#define LOOM_UNARY(Name, Doc)    \
  LOOM_REGISTER_OP(Name)         \
      .Describe(Doc)             \
      .Inputs({"data"})          \
      .InferShape(ElemwiseShape) \
      .InferType(ElemwiseType)   \
      .InplaceOptions(InplaceIdentity)

LOOM_UNARY(exp, "exp(x) elementwise.");
LOOM_UNARY(log, "Natural logarithm elementwise.");
LOOM_UNARY(sqrt, "Square root elementwise.");
LOOM_UNARY(rsqrt, "1 / sqrt(x) elementwise.");
LOOM_UNARY(square, "x * x elementwise.");
LOOM_UNARY(tanh, "Hyperbolic tangent elementwise.");
LOOM_UNARY(sigmoid, "1 / (1 + exp(-x)) elementwise.");
LOOM_UNARY(relu, "max(x, 0) elementwise.");
LOOM_UNARY(abs, "|x| elementwise.");
LOOM_UNARY(negative, "-x elementwise.");
LOOM_UNARY(sin, "Sine elementwise.");
LOOM_UNARY(_copy, "A copy of the input.").Alias("identity");
LOOM_UNARY(BlockGrad, "The identity forward; stops the gradient (zero backward).")
    .Alias("stop_gradient");
LOOM_UNARY(zeros_like, "Zeros with the input's shape and dtype.");
LOOM_UNARY(ones_like, "Ones with the input's shape and dtype.");

#undef LOOM_UNARY

struct ClipParam {
  float a_min = 0;
  float a_max = 0;
  static void Declare(ParamDeclarer<ClipParam>& d) {
    d("a_min", &ClipParam::a_min).Describe("Lower bound.");
    d("a_max", &ClipParam::a_max).Describe("Upper bound.");
  }
};

LOOM_REGISTER_OP(clip)
    .Describe("min(max(x, a_min), a_max) elementwise.")
    .Params<ClipParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceIdentity);

LOOM_REGISTER_OP(_identity_with_attr_like_rhs)
    .Describe(R"(Returns lhs unchanged; rhs only lends its shape and dtype (lhs, rhs and the
output all have one shape), so inference can flow from rhs to lhs.)")
    .Inputs({"lhs", "rhs"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceIdentity);

}  // namespace
}  // namespace loom::ops
