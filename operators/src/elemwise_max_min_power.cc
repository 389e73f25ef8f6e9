// Elementwise maximum, minimum and power between same-shaped arrays or with a scalar.
#include "shape_util.h"

namespace loom::ops {
namespace {

std::vector<std::pair<int, int>> BinaryInplace(const NodeAttrs&) { return {{0, 0}, {1, 0}}; }
std::vector<std::pair<int, int>> ScalarInplace(const NodeAttrs&) { return {{0, 0}}; }

#define LOOM_ELEMWISE_BINARY(Name, AliasName, Doc)                                   \
  LOOM_REGISTER_OP(Name)                                                             \
      .Describe(Doc " Both inputs and the output have one shape (no broadcasting).") \
      .Alias(AliasName)                                                              \
      .Inputs({"lhs", "rhs"})                                                        \
      .InferShape(ElemwiseShape)                                                     \
      .InferType(ElemwiseType)                                                       \
      .InplaceOptions(BinaryInplace)

LOOM_ELEMWISE_BINARY(_maximum, "_Maximum", "max(lhs, rhs).");
LOOM_ELEMWISE_BINARY(_minimum, "_Minimum", "min(lhs, rhs).");
LOOM_ELEMWISE_BINARY(_power, "_Power", "lhs ** rhs.");

#undef LOOM_ELEMWISE_BINARY

#define LOOM_SCALAR_OP(Name, AliasName, Doc) \
  LOOM_REGISTER_OP(Name)                     \
      .Describe(Doc)                         \
      .Alias(AliasName)                      \
      .Params<ScalarParam>()                 \
      .Inputs({"data"})                      \
      .InferShape(ElemwiseShape)             \
      .InferType(ElemwiseType)               \
      .InplaceOptions(ScalarInplace)

LOOM_SCALAR_OP(_maximum_scalar, "_MaximumScalar", "max(data, scalar).");
LOOM_SCALAR_OP(_minimum_scalar, "_MinimumScalar", "min(data, scalar).");
LOOM_SCALAR_OP(_power_scalar, "_PowerScalar", "data ** scalar.");
LOOM_SCALAR_OP(_rpower_scalar, "_RPowerScalar", "scalar ** data.");

#undef LOOM_SCALAR_OP

}  // namespace
}  // namespace loom::ops
