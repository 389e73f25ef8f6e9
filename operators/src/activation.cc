// Activation: elementwise relu, sigmoid, tanh, softrelu or softsign.
#include "op_common.h"

namespace loom::ops {
namespace {

struct ActivationParam {
  enum class Act { kRelu, kSigmoid, kTanh, kSoftRelu, kSoftSign };
  Act act_type = Act::kRelu;
  static void Declare(ParamDeclarer<ActivationParam>& d) {
    d("act_type", &ActivationParam::act_type)
        .Enum<Act>({{"relu", Act::kRelu},
                    {"sigmoid", Act::kSigmoid},
                    {"tanh", Act::kTanh},
                    {"softrelu", Act::kSoftRelu},
                    {"softsign", Act::kSoftSign}})
        .Describe("Activation function: relu max(x,0), sigmoid 1/(1+exp(-x)), tanh, softrelu "
                  "log(1+exp(x)), softsign x/(1+|x|).");
  }
};

LOOM_REGISTER_OP(Activation)
    .Describe("Applies an activation function elementwise; the output has the input's shape.")
    .Params<ActivationParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions([](const NodeAttrs&) { return std::vector<std::pair<int, int>>{{0, 0}}; });

}  // namespace
}  // namespace loom::ops
