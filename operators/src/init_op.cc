// Arrays created from parameters alone: _zeros and _ones.
#include "operators/cpu/tensor_misc.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

struct InitParam {
  Shape shape;
  std::string ctx;
  DType dtype = DType::kFloat32;
  static void Declare(ParamDeclarer<InitParam>& d) {
    d("shape", &InitParam::shape)
        .Default(Shape{})
        .Describe("The output shape; 0 marks a dimension to infer from the consumers.");
    d("ctx", &InitParam::ctx).Default(std::string()).Describe("Device (ignored by symbols).");
    d("dtype", &InitParam::dtype).Default(DType::kFloat32).Describe("dtype of the output.");
  }
};

// The output has `shape`, whose unknown (0) dimensions may come from the consumers. Like MXNet,
// a known output is kept as is when `shape` is incomplete.
void InitShape(ShapeContext& ctx) {
  const auto& p = ctx.param<InitParam>();
  if (ctx.out(0).IsKnown() && !p.shape.IsKnown()) return;
  ctx.SetOut(0, p.shape, "parameter shape=" + FormatParam(p.shape));
}

void InitType(TypeContext& ctx) { ctx.SetOut(0, ctx.param<InitParam>().dtype, "parameter dtype"); }

template <int kValue>
void FillKernel(const NodeAttrs&, const OpContext&, Inputs, Reqs req, Outputs out) {
  cpu::FillForward(kValue, out[0], req[0]);
}

LOOM_REGISTER_OP(_zeros)
    .Describe("An array of zeros of `shape` and `dtype`; no inputs.")
    .Params<InitParam>()
    .Inputs(std::vector<std::string>{})
    .InferShape(InitShape)
    .InferType(InitType)
    .Kernel(DeviceType::kCPU, FCompute(FillKernel<0>));

LOOM_REGISTER_OP(_ones)
    .Describe("An array of ones of `shape` and `dtype`; no inputs.")
    .Params<InitParam>()
    .Inputs(std::vector<std::string>{})
    .InferShape(InitShape)
    .InferType(InitType)
    .Kernel(DeviceType::kCPU, FCompute(FillKernel<1>));

}  // namespace
}  // namespace loom::ops
