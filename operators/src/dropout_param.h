// Dropout's parameters, shared by the operator's registration (dropout.cc) and its GPU kernels
// (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "nn_util.h"

namespace loom::ops {

struct DropoutParam {
  enum class Mode { kTraining, kAlways };
  float p = 0.5f;
  Mode mode = Mode::kTraining;
  Shape axes;
  std::optional<bool> cudnn_off = false;
  static void Declare(ParamDeclarer<DropoutParam>& d) {
    using P = DropoutParam;
    d("p", &P::p).Default(0.5f).Min(0).Max(1).Describe("Fraction of the input set to zero.");
    d("mode", &P::mode)
        .Default(Mode::kTraining)
        .Enum<Mode>({{"training", Mode::kTraining}, {"always", Mode::kAlways}})
        .Describe("training: only while training; always: also at inference.");
    d("axes", &P::axes)
        .Default(Shape{})
        .Describe("Axes along which one mask value is shared (variational dropout).");
    d("cudnn_off", &P::cudnn_off).Default(false).Describe("Do not use cuDNN.");
  }
};

}  // namespace loom::ops
