// Parameters of L2Normalization and InstanceNorm.
// Shared by the operator's registration (operators/src) and its GPU kernels (operators/cuda), which
// read the same parsed parameters from NodeAttrs. Plain data; parsed once per node.
//
//   const auto& p = attrs.param<L2NormalizationParam>();
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "loom/core/operator.h"
#include "operators/cpu/normalization.h"

namespace loom::ops {

struct L2NormalizationParam {
  enum class Mode { kInstance, kChannel, kSpatial };
  float eps = 1e-10f;
  Mode mode = Mode::kInstance;
  static void Declare(ParamDeclarer<L2NormalizationParam>& d) {
    d("eps", &L2NormalizationParam::eps).Default(1e-10f).Describe("Added to the norm.");
    d("mode", &L2NormalizationParam::mode)
        .Default(Mode::kInstance)
        .Enum<Mode>({{"instance", Mode::kInstance},
                     {"channel", Mode::kChannel},
                     {"spatial", Mode::kSpatial}})
        .Describe(
            "Normalise each instance, each position across channels (axis 1), or each "
            "channel across positions.");
  }
  /// The CPU and GPU kernels' name of the mode.
  cpu::L2NormMode kernel_mode() const {
    switch (mode) {
      case Mode::kChannel:
        return cpu::L2NormMode::kChannel;
      case Mode::kSpatial:
        return cpu::L2NormMode::kSpatial;
      default:
        return cpu::L2NormMode::kInstance;
    }
  }
};

struct InstanceNormParam {
  float eps = 1e-3f;
  static void Declare(ParamDeclarer<InstanceNormParam>& d) {
    d("eps", &InstanceNormParam::eps).Default(1e-3f).Describe("Added to the variance.");
  }
};

}  // namespace loom::ops
