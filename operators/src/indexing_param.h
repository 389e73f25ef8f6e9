// Parameters of Embedding, one_hot and pick.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<EmbeddingParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct EmbeddingParam {
  int64_t input_dim = 0;
  int64_t output_dim = 0;
  DType dtype = DType::kFloat32;
  bool sparse_grad = false;
  static void Declare(ParamDeclarer<EmbeddingParam>& d) {
    using P = EmbeddingParam;
    d("input_dim", &P::input_dim).Min(1).Describe("Vocabulary size (rows of the weight).");
    d("output_dim", &P::output_dim).Min(1).Describe("Embedding size (columns of the weight).");
    d("dtype", &P::dtype).Default(DType::kFloat32).Describe("dtype of the weight and output.");
    d("sparse_grad", &P::sparse_grad)
        .Default(false)
        .Describe("Row-sparse weight gradient (computed densely by Loom).");
  }
};

struct OneHotParam {
  int64_t depth = 0;
  double on_value = 1;
  double off_value = 0;
  DType dtype = DType::kFloat32;
  static void Declare(ParamDeclarer<OneHotParam>& d) {
    using P = OneHotParam;
    d("depth", &P::depth).Min(0).Describe("Length of each one-hot vector.");
    d("on_value", &P::on_value).Default(1).Describe("Value at the index.");
    d("off_value", &P::off_value).Default(0).Describe("Value elsewhere.");
    d("dtype", &P::dtype).Default(DType::kFloat32).Describe("dtype of the output.");
  }
};

struct PickParam {
  enum class Mode { kClip, kWrap };
  std::optional<int64_t> axis = -1;
  bool keepdims = false;
  Mode mode = Mode::kClip;
  static void Declare(ParamDeclarer<PickParam>& d) {
    d("axis", &PickParam::axis)
        .Default(int64_t{-1})
        .Describe("The axis to pick along (negative from the end).");
    d("keepdims", &PickParam::keepdims).Default(false).Describe("Keep the axis with size 1.");
    d("mode", &PickParam::mode)
        .Default(Mode::kClip)
        .Enum<Mode>({{"clip", Mode::kClip}, {"wrap", Mode::kWrap}})
        .Describe("Out-of-range indices: clip to the ends or wrap around.");
    d.Validate([](PickParam& p) {
      LOOM_CHECK(p.axis.has_value(), "parameter 'axis': pick needs an axis but got None");
    });
  }
};

}  // namespace loom::ops
