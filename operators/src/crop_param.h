// Parameters of Crop.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<CropParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct CropParam {
  int64_t num_args = 1;
  Shape offset{0, 0};
  Shape h_w{0, 0};
  bool center_crop = false;
  static void Declare(ParamDeclarer<CropParam>& d) {
    using P = CropParam;
    d("num_args", &P::num_args)
        .Min(1)
        .Max(2)
        .Describe("1: crop to h_w; 2: crop to the height and width of the second input.");
    d("offset", &P::offset)
        .Default(Shape{0, 0})
        .Describe("Top-left corner (y, x) of the window, unless center_crop.");
    d("h_w", &P::h_w).Default(Shape{0, 0}).Describe("Window (height, width) for num_args=1.");
    d("center_crop", &P::center_crop)
        .Default(false)
        .Describe("Center the window instead of using offset.");
    d.Validate([](P& p) {
      LOOM_CHECK(p.offset.ndim() == 2 && p.offset[0] >= 0 && p.offset[1] >= 0,
                 "parameter 'offset': expected two non-negative values (y, x) but got ",
                 FormatParam(p.offset));
      LOOM_CHECK(p.h_w.ndim() == 2, "parameter 'h_w': expected (height, width) but got ",
                 FormatParam(p.h_w));
      LOOM_CHECK(p.num_args == 2 || (p.h_w[0] >= 1 && p.h_w[1] >= 1),
                 "parameter 'h_w': expected a positive (height, width) with num_args=1 but got ",
                 FormatParam(p.h_w));
    });
  }
};

}  // namespace loom::ops
