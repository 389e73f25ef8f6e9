// MakeLoss's parameters, shared by its CPU kernels (make_loss.cc) and GPU kernels
// (operators/cuda/).
//
//   const auto& p = attrs.param<MakeLossParam>();   // p.grad_scale, p.normalization
#pragma once

#include "loom/core/op_param.h"

namespace loom::ops {

struct MakeLossParam {
  enum class Normalization { kNull, kBatch, kValid };
  float grad_scale = 1;
  float valid_thresh = 0;
  Normalization normalization = Normalization::kNull;
  static void Declare(ParamDeclarer<MakeLossParam>& d) {
    using P = MakeLossParam;
    d("grad_scale", &P::grad_scale).Default(1).Describe("Gradient scale.");
    d("valid_thresh", &P::valid_thresh)
        .Default(0)
        .Describe("Elements above this count as valid for normalization 'valid'.");
    d("normalization", &P::normalization)
        .Default(Normalization::kNull)
        .Enum<Normalization>({{"null", Normalization::kNull},
                              {"batch", Normalization::kBatch},
                              {"valid", Normalization::kValid}})
        .Describe(
            "Gradient normalization: none, by batch size, or by the number of valid "
            "elements.");
  }
};

}  // namespace loom::ops
