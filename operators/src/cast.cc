// Cast (alias cast): converts the elements to another dtype.
#include "operators/cpu/tensor_misc.h"
#include "shape_util.h"
#include "tensor_kernels.h"

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
    })
    .Kernel(DeviceType::kCPU,
            FCompute([](const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
              cpu::CastForward(in[0], out[0], req[0]);
            }))
    .Gradient(BackwardOf("_backward_Cast", {kOutGrad}));

LOOM_REGISTER_OP(_backward_Cast)
    .Describe("Gradient of Cast: out_grad converted back to the data's dtype.")
    .Inputs({"out_grad"})
    .InferShape(ElemwiseShape)
    .InferType([](TypeContext&) {})  // the executor presets the gradient's dtype (the data's)
    .Kernel(DeviceType::kCPU,
            FCompute([](const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
              cpu::CastForward(in[0], out[0], req[0]);
            }));

}  // namespace
}  // namespace loom::ops
