// clip's parameters, shared by its CPU kernels (elemwise_unary.cc) and GPU kernels
// (operators/cuda/).
//
//   const auto& p = attrs.param<ClipParam>();   // p.a_min, p.a_max
#pragma once

#include "loom/core/op_param.h"

namespace loom::ops {

struct ClipParam {
  float a_min = 0;
  float a_max = 0;
  static void Declare(ParamDeclarer<ClipParam>& d) {
    d("a_min", &ClipParam::a_min).Describe("Lower bound.");
    d("a_max", &ClipParam::a_max).Describe("Upper bound.");
  }
};

}  // namespace loom::ops
