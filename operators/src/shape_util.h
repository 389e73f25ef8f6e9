// Helpers shared by the operator schemas of this directory: axis normalisation, partial shapes
// and the dtype rules several operators have in common.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "op_common.h"

namespace loom::ops {

/// A shape of rank `ndim` whose dimensions are all unknown (0).
inline Shape UnknownShape(int ndim) { return Shape(std::vector<int64_t>(ndim, 0)); }

/// Normalises a possibly negative axis against data of `data.ndim()` dimensions (MXNet's
/// CheckAxis: -ndim <= axis < ndim). Fails, naming the parameter and the data, otherwise.
int NormalizeAxis(const ShapeContext& ctx, int64_t axis, const Shape& data,
                  std::string_view param = "axis");

/// Like NormalizeAxis but for an insertion point (expand_dims: -ndim-1 <= axis <= ndim).
int NormalizeInsertAxis(const ShapeContext& ctx, int64_t axis, const Shape& data,
                        std::string_view param = "axis");

/// A shape as error messages print it: "(2,3)", unknown dimensions as 0 (MXNet 1.x style).
inline std::string Str(const Shape& s) { return s.ToString(); }

/// Every input and output float32: MXNet's legacy operators without their own type rule (Crop,
/// InstanceNorm) accept nothing else.
void Float32Type(TypeContext& ctx);

/// Output 0 and input 0 share a dtype; the other inputs are left alone (index inputs).
void FirstInputType(TypeContext& ctx);

}  // namespace loom::ops
