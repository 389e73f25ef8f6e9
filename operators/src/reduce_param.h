// The parameters of the reductions, shared by their CPU kernels (reduce.cc) and GPU kernels
// (operators/cuda/): ReduceAxesParam for sum, mean, max, min, prod, nansum and nanprod,
// ReduceAxisParam for argmax and argmin.
//
//   const auto& p = attrs.param<ReduceAxesParam>();   // p.axis, p.keepdims, p.exclude
#pragma once

#include <cstdint>
#include <optional>

#include "loom/core/op_param.h"
#include "loom/core/shape.h"

namespace loom::ops {

struct ReduceAxesParam {
  std::optional<Shape> axis;
  bool keepdims = false;
  bool exclude = false;
  static void Declare(ParamDeclarer<ReduceAxesParam>& d) {
    using P = ReduceAxesParam;
    d("axis", &P::axis)
        .Default(std::nullopt)
        .Describe("Axes to reduce (negative from the end); None or () reduces all.");
    d("keepdims", &P::keepdims).Default(false).Describe("Keep reduced axes with size 1.");
    d("exclude", &P::exclude).Default(false).Describe("Reduce every axis except those given.");
  }
};

struct ReduceAxisParam {
  std::optional<int64_t> axis;
  bool keepdims = false;
  static void Declare(ParamDeclarer<ReduceAxisParam>& d) {
    d("axis", &ReduceAxisParam::axis)
        .Default(std::nullopt)
        .Describe("The axis (negative from the end); None searches the flattened array.");
    d("keepdims", &ReduceAxisParam::keepdims)
        .Default(false)
        .Describe("Keep the reduced axis with size 1.");
  }
};

}  // namespace loom::ops
