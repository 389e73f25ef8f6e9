// softmax, log_softmax and SoftmaxActivation's parameters, shared by the operator's registration
// (softmax.cc) and its GPU kernels (operators/cuda/). Usage: attrs.param<...>() in a kernel of the
// operator.
#pragma once

#include "nn_util.h"

namespace loom::ops {

struct SoftmaxParam {
  int64_t axis = -1;
  std::optional<double> temperature;
  std::optional<DType> dtype;
  std::optional<bool> use_length = false;
  static void Declare(ParamDeclarer<SoftmaxParam>& d) {
    using P = SoftmaxParam;
    d("axis", &P::axis).Default(-1).Describe("The axis along which to normalise.");
    d("temperature", &P::temperature)
        .Default(std::nullopt)
        .Describe("Divides the input before exponentiation (default 1).");
    d("dtype", &P::dtype)
        .Default(std::nullopt)
        .Describe("Output dtype (float16, float32 or float64; default: the data's).");
    d("use_length", &P::use_length)
        .Default(false)
        .Describe("softmax only: take an input `length` giving the valid length along axis.");
    d.Validate([](P& p) {
      LOOM_CHECK(!p.dtype || IsFloat(*p.dtype),
                 "parameter 'dtype': expected float16, float32 or float64 but got ",
                 ToString(*p.dtype));
    });
  }
  bool length() const { return use_length.value_or(false); }
};

struct SoftmaxActivationParam {
  enum class Mode { kInstance, kChannel };
  Mode mode = Mode::kInstance;
  static void Declare(ParamDeclarer<SoftmaxActivationParam>& d) {
    d("mode", &SoftmaxActivationParam::mode)
        .Default(Mode::kInstance)
        .Enum<Mode>({{"instance", Mode::kInstance}, {"channel", Mode::kChannel}})
        .Describe(
            "instance: softmax over all but the first axis of each instance; channel: "
            "softmax over axis 1 at each position.");
  }
};

}  // namespace loom::ops
