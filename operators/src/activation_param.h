// Activation's parameters, shared by the operator's registration (activation.cc) and its GPU
// kernels (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "nn_util.h"

namespace loom::ops {

struct ActivationParam {
  enum class Act { kRelu, kSigmoid, kTanh, kSoftRelu, kSoftSign };
  Act act_type = Act::kRelu;
  static void Declare(ParamDeclarer<ActivationParam>& d) {
    d("act_type", &ActivationParam::act_type)
        .Enum<Act>({{"relu", Act::kRelu},
                    {"sigmoid", Act::kSigmoid},
                    {"tanh", Act::kTanh},
                    {"softrelu", Act::kSoftRelu},
                    {"softsign", Act::kSoftSign}})
        .Describe(
            "Activation function: relu max(x,0), sigmoid 1/(1+exp(-x)), tanh, softrelu "
            "log(1+exp(x)), softsign x/(1+|x|).");
  }
};

}  // namespace loom::ops
