// Parameters of SoftmaxOutput.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<SoftmaxOutputParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct SoftmaxOutputParam {
  enum class Normalization { kNull, kBatch, kValid };
  float grad_scale = 1;
  float ignore_label = -1;
  bool multi_output = false;
  bool use_ignore = false;
  bool preserve_shape = false;
  Normalization normalization = Normalization::kNull;
  bool out_grad = false;
  float smooth_alpha = 0;
  static void Declare(ParamDeclarer<SoftmaxOutputParam>& d) {
    using P = SoftmaxOutputParam;
    d("grad_scale", &P::grad_scale).Default(1).Describe("Scales the gradient.");
    d("ignore_label", &P::ignore_label)
        .Default(-1)
        .Describe("Label value ignored in the gradient when use_ignore is set.");
    d("multi_output", &P::multi_output)
        .Default(false)
        .Describe("Softmax over axis 1 with labels (N, d2*...*dk).");
    d("use_ignore", &P::use_ignore).Default(false).Describe("Skip instances with ignore_label.");
    d("preserve_shape", &P::preserve_shape)
        .Default(false)
        .Describe("Softmax over the last axis, keeping the shape.");
    d("normalization", &P::normalization)
        .Default(Normalization::kNull)
        .Enum<Normalization>({{"null", Normalization::kNull},
                              {"batch", Normalization::kBatch},
                              {"valid", Normalization::kValid}})
        .Describe("Gradient normalization: none, by batch size, or by valid instances.");
    d("out_grad", &P::out_grad)
        .Default(false)
        .Describe("Multiply the gradient by the output gradient.");
    d("smooth_alpha", &P::smooth_alpha)
        .Default(0)
        .Describe("Label smoothing: subtracted from the one-hot target and spread over the rest.");
  }
};

}  // namespace loom::ops
