// Cast (alias cast): converts the elements to another dtype.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct CastParam {
  DType dtype = DType::kFloat32;
  static void Declare(ParamDeclarer<CastParam>& d) {
    d("dtype", &CastParam::dtype).Describe("The output dtype.");
  }
};

LOOM_REGISTER_OP(Cast)
    .Alias("cast")
    .Describe("The input converted to `dtype`; the shape is unchanged.")
    .Params<CastParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType([](TypeContext& ctx) {
      ctx.SetOut(0, ctx.param<CastParam>().dtype, "parameter dtype");
    });

}  // namespace
}  // namespace loom::ops
