// Parameters of UpSampling.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<UpSamplingParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
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
  /// Bilinear: the depthwise deconvolution's kernel size (2 scale - scale % 2; its stride is
  /// scale) and padding (MXNet's ceil((scale - 1) / 2)).
  int64_t bilinear_kernel() const { return 2 * scale - scale % 2; }
  int64_t bilinear_pad() const { return scale / 2; }
  /// Nearest: where input i of `inputs` (the inputs or their gradients) starts in the output's
  /// channels: concatenated along axis 1, or all at 0 when summed.
  int64_t ChannelOffset(std::span<const TensorView> inputs, size_t i) const {
    if (multi_input_mode == MultiInput::kSum) return 0;
    int64_t offset = 0;
    for (size_t k = 0; k < i; ++k) offset += inputs[k].shape[1];
    return offset;
  }
};

}  // namespace loom::ops
