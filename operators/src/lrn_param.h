// LRN's parameters, shared by the operator's registration (lrn.cc) and its GPU kernels
// (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "nn_util.h"

namespace loom::ops {

struct LRNParam {
  float alpha = 1e-4f;
  float beta = 0.75f;
  float knorm = 2;
  int64_t nsize = 1;
  static void Declare(ParamDeclarer<LRNParam>& d) {
    d("alpha", &LRNParam::alpha).Default(1e-4f).Describe("Scale of the squared sum.");
    d("beta", &LRNParam::beta).Default(0.75f).Describe("Exponent.");
    d("knorm", &LRNParam::knorm).Default(2.0f).Describe("Additive constant.");
    d("nsize", &LRNParam::nsize).Min(0).Describe("Number of neighbouring channels summed.");
  }
};

}  // namespace loom::ops
