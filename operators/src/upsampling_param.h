// Parameters of UpSampling.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<UpSamplingParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct UpSamplingParam {
  enum class Sample { kNearest, kBilinear };
  enum class MultiInput { kConcat, kSum };
  int64_t scale = 1;
  int64_t num_filter = 0;
  Sample sample_type = Sample::kNearest;
  MultiInput multi_input_mode = MultiInput::kConcat;
  int64_t num_args = 1;
  int64_t workspace = 512;
  static void Declare(ParamDeclarer<UpSamplingParam>& d) {
    using P = UpSamplingParam;
    d("scale", &P::scale).Min(1).Describe("Upsampling factor of height and width.");
    d("num_filter", &P::num_filter)
        .Default(0)
        .Min(0)
        .Describe("Bilinear: the number of channels (the weight's first axis).");
    d("sample_type", &P::sample_type)
        .Enum<Sample>({{"nearest", Sample::kNearest}, {"bilinear", Sample::kBilinear}})
        .Describe("nearest: repeat pixels; bilinear: a depthwise deconvolution with `weight`.");
    d("multi_input_mode", &P::multi_input_mode)
        .Default(MultiInput::kConcat)
        .Enum<MultiInput>({{"concat", MultiInput::kConcat}, {"sum", MultiInput::kSum}})
        .Describe("nearest with several inputs: concatenate or sum the upsampled inputs.");
    d("num_args", &P::num_args)
        .Min(1)
        .Describe("Number of inputs (nearest); bilinear always takes data and weight.");
    d("workspace", &P::workspace).Default(512).Min(0).Describe("Workspace limit in MB.");
  }
  bool bilinear() const { return sample_type == Sample::kBilinear; }
};

}  // namespace loom::ops
