// Elementwise binary arithmetic of two same-shaped arrays (what `a + b` on symbols creates).
#include "op_common.h"

namespace loom::ops {
namespace {

std::vector<std::pair<int, int>> BinaryInplace(const NodeAttrs&) { return {{0, 0}, {1, 0}}; }

#define LOOM_ELEMWISE_BINARY(Name, Doc)                   \
  LOOM_REGISTER_OP(Name)                                  \
      .Describe(Doc " Both inputs and the output have one shape (no broadcasting).") \
      .Inputs({"lhs", "rhs"})                             \
      .InferShape(ElemwiseShape)                          \
      .InferType(ElemwiseType)                            \
      .InplaceOptions(BinaryInplace)

LOOM_ELEMWISE_BINARY(elemwise_add, "lhs + rhs.").Alias("_add").Alias("_plus").Alias("_Plus");
LOOM_ELEMWISE_BINARY(elemwise_sub, "lhs - rhs.").Alias("_sub").Alias("_minus").Alias("_Minus");
LOOM_ELEMWISE_BINARY(elemwise_mul, "lhs * rhs.").Alias("_mul").Alias("_Mul");
LOOM_ELEMWISE_BINARY(elemwise_div, "lhs / rhs.").Alias("_div").Alias("_Div");

#undef LOOM_ELEMWISE_BINARY

}  // namespace
}  // namespace loom::ops
