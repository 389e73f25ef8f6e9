// BatchNorm's parameters, shared by the operator's registration (batch_norm.cc) and its GPU kernels
// (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "nn_util.h"

namespace loom::ops {

struct BatchNormParam {
  double eps = 1e-3;
  float momentum = 0.9f;
  bool fix_gamma = true;
  bool use_global_stats = false;
  bool output_mean_var = false;
  int64_t axis = 1;
  bool cudnn_off = false;
  std::optional<float> min_calib_range;
  std::optional<float> max_calib_range;
  static void Declare(ParamDeclarer<BatchNormParam>& d) {
    using P = BatchNormParam;
    d("eps", &P::eps).Default(1e-3).Describe("Added to the variance before its square root.");
    d("momentum", &P::momentum).Default(0.9f).Describe("Decay of the moving averages.");
    d("fix_gamma", &P::fix_gamma)
        .Default(true)
        .Describe("Use gamma = 1 (and give it a zero gradient).");
    d("use_global_stats", &P::use_global_stats)
        .Default(false)
        .Describe("Normalise with the moving averages instead of the batch statistics.");
    d("output_mean_var", &P::output_mean_var)
        .Default(false)
        .Describe("Also expose the batch mean and variance as outputs.");
    d("axis", &P::axis).Default(1).Describe("The channel axis (negative counts from the end).");
    d("cudnn_off", &P::cudnn_off).Default(false).Describe("Do not use cuDNN.");
    d("min_calib_range", &P::min_calib_range)
        .Default(std::nullopt)
        .Describe("Quantization: minimum calibrated output value.");
    d("max_calib_range", &P::max_calib_range)
        .Default(std::nullopt)
        .Describe("Quantization: maximum calibrated output value.");
  }
};

}  // namespace loom::ops
