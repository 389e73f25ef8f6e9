// add_n (alias ElementWiseSum): the sum of a variable number of same-shaped arrays.
#include "operators/cpu/tensor_misc.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

struct AddNParam {
  int64_t num_args = 1;
  static void Declare(ParamDeclarer<AddNParam>& d) {
    d("num_args", &AddNParam::num_args).Min(1).Describe("Number of inputs to add.");
  }
};

LOOM_REGISTER_OP(add_n)
    .Alias("ElementWiseSum")
    .Describe("arg0 + arg1 + ... elementwise; every input and the output have one shape.")
    .Params<AddNParam>()
    .VariadicInputs("num_args")
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs&, const OpContext&, Inputs in, Reqs req,
                                          Outputs out) { cpu::AddNForward(in, out[0], req[0]); }))
    .Gradient(IdentityGradient);

}  // namespace
}  // namespace loom::ops
