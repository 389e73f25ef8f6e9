// Parameters of transpose and SwapAxis.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<TransposeParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct TransposeParam {
  Shape axes;
  static void Declare(ParamDeclarer<TransposeParam>& d) {
    d("axes", &TransposeParam::axes)
        .Default(Shape{})
        .Describe("The permutation: output axis i is input axis axes[i] (default: reversed).");
    d.Validate([](TransposeParam& p) {
      std::vector<int64_t> sorted = p.axes.dims();
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 0; i < sorted.size(); ++i) {
        LOOM_CHECK(sorted[i] == static_cast<int64_t>(i),
                   "parameter 'axes': expected a "
                   "permutation of 0..",
                   sorted.size() - 1, " but got ", FormatParam(p.axes));
      }
    });
  }
};

struct SwapAxisParam {
  int64_t dim1 = 0;
  int64_t dim2 = 0;
  static void Declare(ParamDeclarer<SwapAxisParam>& d) {
    d("dim1", &SwapAxisParam::dim1).Default(0).Describe("The first axis (negative from the end).");
    d("dim2", &SwapAxisParam::dim2).Default(0).Describe("The second axis.");
  }
};

}  // namespace loom::ops
