// Parameters of SliceChannel.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<SliceChannelParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct SliceChannelParam {
  int64_t num_outputs = 1;
  int64_t axis = 1;
  bool squeeze_axis = false;
  static void Declare(ParamDeclarer<SliceChannelParam>& d) {
    using P = SliceChannelParam;
    d("num_outputs", &P::num_outputs).Min(1).Describe("Number of equal parts.");
    d("axis", &P::axis).Default(1).Describe("The axis to split (negative from the end).");
    d("squeeze_axis", &P::squeeze_axis)
        .Default(false)
        .Describe("Remove the split axis from the outputs (its size must equal num_outputs).");
  }
};

}  // namespace loom::ops
