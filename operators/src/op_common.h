// Helpers shared by operator schemas: common parameter structs and shape utilities.
#pragma once

#include <utility>
#include <vector>

#include <string>

#include "loom/core/operator.h"

namespace loom::ops {

/// Parameters of the `<op>_scalar` family.
struct ScalarParam {
  double scalar = 1;
  bool is_int = true;
  static void Declare(ParamDeclarer<ScalarParam>& d) {
    d("scalar", &ScalarParam::scalar).Default(1).Describe("Scalar input value.");
    d("is_int", &ScalarParam::is_int)
        .Default(true)
        .Describe("Whether the scalar was given as an integer.");
  }
};

/// "data (32,100)": an input's name and current shape, for error messages.
inline std::string Described(const ShapeContext& ctx, size_t i, std::string_view name) {
  return std::string(name) + " " + ctx.in(i).ToString();
}

/// Layout of a convolution-like operator's data: where the channel and spatial axes are.
struct Layout {
  bool channel_last = false;
  int spatial = 2;  ///< number of spatial axes
  int channel_axis() const { return channel_last ? spatial + 1 : 1; }
  int spatial_axis(int i) const { return channel_last ? 1 + i : 2 + i; }
};

/// Input 0 and output 0 may share memory (element-wise operators and their gradients).
inline std::vector<std::pair<int, int>> InplaceFirst(const NodeAttrs&) { return {{0, 0}}; }

}  // namespace loom::ops
