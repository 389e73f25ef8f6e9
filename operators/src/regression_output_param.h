// Parameters of the regression output heads (Linear, Logistic, MAE).
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<RegressionOutputParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct RegressionOutputParam {
  float grad_scale = 1;
  static void Declare(ParamDeclarer<RegressionOutputParam>& d) {
    d("grad_scale", &RegressionOutputParam::grad_scale).Default(1).Describe("Scales the gradient.");
  }
};

}  // namespace loom::ops
