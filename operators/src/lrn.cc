// LRN: local response normalisation across neighbouring channels.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct LRNParam {
  float alpha = 1e-4f;
  float beta = 0.75f;
  float knorm = 2;
  int64_t nsize = 1;
  static void Declare(ParamDeclarer<LRNParam>& d) {
    d("alpha", &LRNParam::alpha).Default(1e-4f).Describe("Scale of the squared sum.");
    d("beta", &LRNParam::beta).Default(0.75f).Describe("Exponent.");
    d("knorm", &LRNParam::knorm).Default(2.0f).Describe("Additive constant.");
    d("nsize", &LRNParam::nsize).Min(0).Describe("Number of neighbouring channels summed.");
  }
};

LOOM_REGISTER_OP(LRN)
    .Describe(R"(Local response normalisation across channels: out = data / (knorm +
alpha/nsize * sum of squares over nsize neighbouring channels)^beta. Outputs output and the
hidden tmp_norm, both with the data's shape.)")
    .Params<LRNParam>()
    .Inputs({"data"})
    .Outputs({"output", "tmp_norm"})
    .NumVisibleOutputs(1)
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType);

}  // namespace
}  // namespace loom::ops
