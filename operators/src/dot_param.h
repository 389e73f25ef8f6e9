// dot and batch_dot's parameters, shared by the operator's registration (dot.cc) and its GPU
// kernels (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "operators/cpu/dot.h"
#include "shape_util.h"

namespace loom::ops {

struct DotParam {
  enum class Storage { kDefault, kCsr, kRowSparse };
  bool transpose_a = false;
  bool transpose_b = false;
  std::optional<Storage> forward_stype;
  static void Declare(ParamDeclarer<DotParam>& d) {
    d("transpose_a", &DotParam::transpose_a).Default(false).Describe("Transpose lhs first.");
    d("transpose_b", &DotParam::transpose_b).Default(false).Describe("Transpose rhs first.");
    d("forward_stype", &DotParam::forward_stype)
        .Default(std::nullopt)
        .Enum<Storage>({{"default", Storage::kDefault},
                        {"csr", Storage::kCsr},
                        {"row_sparse", Storage::kRowSparse}})
        .Describe("Output storage type; Loom has dense storage only.");
    d.Validate([](DotParam& p) {
      if (p.forward_stype && *p.forward_stype != Storage::kDefault) {
        throw NotSupportedError(
            "parameter 'forward_stype': Loom supports only dense ('default') "
            "storage");
      }
    });
  }
  /// The CPU and GPU kernels' parameters.
  cpu::DotParams kernel_params() const {
    return {.transpose_a = transpose_a, .transpose_b = transpose_b};
  }
};

}  // namespace loom::ops
