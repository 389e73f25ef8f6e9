// Parameters of LeakyReLU.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<LeakyReLUParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct LeakyReLUParam {
  enum class Act { kRRelu, kLeaky, kPRelu, kElu, kSelu, kGelu };
  Act act_type = Act::kLeaky;
  float slope = 0.25f;
  float lower_bound = 0.125f;
  float upper_bound = 0.334f;
  static void Declare(ParamDeclarer<LeakyReLUParam>& d) {
    using P = LeakyReLUParam;
    d("act_type", &P::act_type)
        .Default(Act::kLeaky)
        .Enum<Act>({{"rrelu", Act::kRRelu},
                    {"leaky", Act::kLeaky},
                    {"prelu", Act::kPRelu},
                    {"elu", Act::kElu},
                    {"selu", Act::kSelu},
                    {"gelu", Act::kGelu}})
        .Describe(
            "Activation: leaky x>0?x:slope*x, prelu with a learned per-channel gamma, "
            "rrelu with a random slope in [lower_bound, upper_bound] while training, elu "
            "slope*(exp(x)-1) below 0, selu, gelu.");
    d("slope", &P::slope).Default(0.25f).Describe("Slope of leaky, elu's scale.");
    d("lower_bound", &P::lower_bound).Default(0.125f).Describe("Lower bound of rrelu's slope.");
    d("upper_bound", &P::upper_bound).Default(0.334f).Describe("Upper bound of rrelu's slope.");
  }
};

}  // namespace loom::ops
