// Parameters of slice and slice_axis.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<SliceParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"

namespace loom::ops {

using OptionalInts = std::vector<std::optional<int64_t>>;

struct SliceParam {
  OptionalInts begin, end, step;
  static void Declare(ParamDeclarer<SliceParam>& d) {
    d("begin", &SliceParam::begin)
        .Describe("Start index per leading axis (None: from the start, or the end if step < 0).");
    d("end", &SliceParam::end)
        .Describe("End index (exclusive) per leading axis (None: to the end).");
    d("step", &SliceParam::step)
        .Default(OptionalInts{})
        .Describe("Step per leading axis (None or empty: 1; negative walks backwards).");
    d.Validate([](SliceParam& p) {
      LOOM_CHECK(p.begin.size() == p.end.size(),
                 "expected begin and end of the same length but "
                 "got begin ",
                 detail::ParamTraits<OptionalInts>::Format(p.begin), " and end ",
                 detail::ParamTraits<OptionalInts>::Format(p.end));
      LOOM_CHECK(p.step.empty() || p.step.size() == p.begin.size(),
                 "expected step of the same length as begin but got begin ",
                 detail::ParamTraits<OptionalInts>::Format(p.begin), " and step ",
                 detail::ParamTraits<OptionalInts>::Format(p.step));
      for (size_t i = 0; i < p.step.size(); ++i) {
        LOOM_CHECK(p.step[i].value_or(1) != 0, "parameter 'step': step[", i, "] cannot be 0");
      }
    });
  }
};

struct SliceAxisParam {
  int64_t axis = 0;
  int64_t begin = 0;
  std::optional<int64_t> end;
  static void Declare(ParamDeclarer<SliceAxisParam>& d) {
    d("axis", &SliceAxisParam::axis).Describe("The axis to slice (negative from the end).");
    d("begin", &SliceAxisParam::begin).Describe("Start index (negative from the end).");
    d("end", &SliceAxisParam::end)
        .Describe("End index, exclusive (negative from the end; None: the axis' end).");
  }
};

}  // namespace loom::ops
