// Parameters of Pad.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<PadParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

struct PadParam {
  enum class Mode { kConstant, kEdge, kReflect };
  Mode mode = Mode::kConstant;
  Shape pad_width;
  double constant_value = 0;
  static void Declare(ParamDeclarer<PadParam>& d) {
    d("mode", &PadParam::mode)
        .Enum<Mode>(
            {{"constant", Mode::kConstant}, {"edge", Mode::kEdge}, {"reflect", Mode::kReflect}})
        .Describe("constant: constant_value; edge: repeat the border; reflect: mirror it.");
    d("pad_width", &PadParam::pad_width)
        .Describe("(before, after) per axis, flattened; the first two axes get (0, 0).");
    d("constant_value", &PadParam::constant_value)
        .Default(0)
        .Describe("The value for mode 'constant'.");
    d.Validate([](PadParam& p) {
      for (int64_t w : p.pad_width) {
        LOOM_CHECK(w >= 0, "parameter 'pad_width': expected non-negative widths but got ",
                   FormatParam(p.pad_width));
      }
    });
  }
};

}  // namespace loom::ops
