// Parameters of Concat.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<ConcatParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct ConcatParam {
  int64_t num_args = 1;
  int64_t dim = 1;
  static void Declare(ParamDeclarer<ConcatParam>& d) {
    d("num_args", &ConcatParam::num_args).Min(1).Describe("Number of inputs to concatenate.");
    d("dim", &ConcatParam::dim).Default(1).Describe("The axis to join (negative from the end).");
  }
};

}  // namespace loom::ops
