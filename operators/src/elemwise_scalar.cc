// Arithmetic between an array and a scalar (what `a + 1`, `1 - a`, `2 / a` on symbols create).
#include "op_common.h"

namespace loom::ops {
namespace {

std::vector<std::pair<int, int>> ScalarInplace(const NodeAttrs&) { return {{0, 0}}; }

#define LOOM_SCALAR_OP(Name, AliasName, Doc)     \
  LOOM_REGISTER_OP(Name)                     \
      .Describe(Doc)                         \
      .Alias(AliasName)                      \
      .Params<ScalarParam>()                 \
      .Inputs({"data"})                      \
      .InferShape(ElemwiseShape)             \
      .InferType(ElemwiseType)               \
      .InplaceOptions(ScalarInplace)

LOOM_SCALAR_OP(_plus_scalar, "_PlusScalar", "data + scalar.");
LOOM_SCALAR_OP(_minus_scalar, "_MinusScalar", "data - scalar.");
LOOM_SCALAR_OP(_rminus_scalar, "_RMinusScalar", "scalar - data.");
LOOM_SCALAR_OP(_mul_scalar, "_MulScalar", "data * scalar.");
LOOM_SCALAR_OP(_div_scalar, "_DivScalar", "data / scalar.");
LOOM_SCALAR_OP(_rdiv_scalar, "_RDivScalar", "scalar / data.");

#undef LOOM_SCALAR_OP

}  // namespace
}  // namespace loom::ops
