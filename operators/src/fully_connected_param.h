// FullyConnected's parameters, shared by the operator's registration (fully_connected.cc) and its
// GPU kernels (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "nn_util.h"
#include "operators/cpu/fully_connected.h"

namespace loom::ops {

struct FullyConnectedParam {
  int64_t num_hidden = 0;
  bool no_bias = false;
  bool flatten = true;
  static void Declare(ParamDeclarer<FullyConnectedParam>& d) {
    d("num_hidden", &FullyConnectedParam::num_hidden)
        .Min(1)
        .Describe("Number of hidden units (output features).");
    d("no_bias", &FullyConnectedParam::no_bias)
        .Default(false)
        .Describe("Whether to omit the bias.");
    d("flatten", &FullyConnectedParam::flatten)
        .Default(true)
        .Describe("Whether to collapse all but the first axis of the input data.");
  }
  /// The CPU and GPU kernels' parameters.
  cpu::FullyConnectedParams kernel_params() const {
    return {.num_hidden = num_hidden, .no_bias = no_bias, .flatten = flatten};
  }
};

}  // namespace loom::ops
