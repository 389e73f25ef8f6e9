// The registry holds every operator design.md §5 and MXNet's model files need, under MXNet's
// canonical names, with the aliases MXNet accepts.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "loom/core/operator.h"

namespace loom {
namespace {

TEST(OperatorList, EveryRequiredOperatorIsRegisteredUnderItsCanonicalName) {
  const std::vector<std::string> required = {
      // design.md §5
      "FullyConnected", "Convolution", "Deconvolution", "Pooling", "Activation", "LeakyReLU",
      "BatchNorm", "Dropout", "SoftmaxOutput", "softmax", "log_softmax", "LinearRegressionOutput",
      "LogisticRegressionOutput", "MakeLoss", "BlockGrad", "Flatten", "Reshape", "transpose",
      "SwapAxis", "Concat", "SliceChannel", "slice", "Embedding", "RNN", "LRN", "UpSampling",
      "Crop", "_copy", "_zeros", "_ones", "elemwise_add", "elemwise_sub", "elemwise_mul",
      "elemwise_div", "_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar",
      "_div_scalar", "_rdiv_scalar", "broadcast_add", "broadcast_sub", "broadcast_mul",
      "broadcast_div", "exp", "log", "sqrt", "square", "tanh", "sigmoid", "relu", "abs", "sum",
      "mean", "dot", "batch_dot", "clip", "where", "one_hot", "argmax",
      // the rest of the operator list of issue 3
      "SoftmaxActivation", "MAERegressionOutput", "make_loss", "slice_axis", "broadcast_maximum",
      "broadcast_minimum", "broadcast_power", "_maximum", "_minimum", "_power", "_maximum_scalar",
      "_minimum_scalar", "_power_scalar", "_rpower_scalar", "add_n", "rsqrt", "negative", "max",
      "min", "prod", "argmin", "expand_dims", "squeeze", "Cast", "zeros_like", "ones_like",
      "L2Normalization", "InstanceNorm", "Pad",
      // used by MXNet's own tests (mxnet-facts §8)
      "sin", "pick", "batch_take", "_identity_with_attr_like_rhs"};
  for (const std::string& name : required) {
    const OpSchema* op = OpRegistry::Global().Find(name);
    ASSERT_NE(op, nullptr) << name;
    EXPECT_EQ(op->name(), name);
  }
}

TEST(OperatorList, AliasesResolveAsInMXNet) {
  const std::vector<std::pair<std::string, std::string>> aliases = {
      {"Softmax", "SoftmaxOutput"},
      {"flatten", "Flatten"},
      {"reshape", "Reshape"},
      {"swapaxes", "SwapAxis"},
      {"concat", "Concat"},
      {"split", "SliceChannel"},
      {"crop", "slice"},
      {"identity", "_copy"},
      {"stop_gradient", "BlockGrad"},
      {"cast", "Cast"},
      {"pad", "Pad"},
      {"ElementWiseSum", "add_n"},
      {"broadcast_plus", "broadcast_add"},
      {"broadcast_minus", "broadcast_sub"},
      {"sum_axis", "sum"},
      {"max_axis", "max"},
      {"min_axis", "min"},
      {"_Maximum", "_maximum"},
      {"_Minimum", "_minimum"},
      {"_Power", "_power"},
      {"_MaximumScalar", "_maximum_scalar"},
      {"_MinimumScalar", "_minimum_scalar"},
      {"_PowerScalar", "_power_scalar"},
      {"_RPowerScalar", "_rpower_scalar"},
      {"_Plus", "elemwise_add"},
      {"_PlusScalar", "_plus_scalar"}};
  for (const auto& [alias, canonical] : aliases) {
    const OpSchema* op = OpRegistry::Global().Find(alias);
    ASSERT_NE(op, nullptr) << alias;
    EXPECT_EQ(op->name(), canonical) << alias;
  }
  // MakeLoss and make_loss are two operators in MXNet (different parameters and output names).
  EXPECT_NE(OpRegistry::Global().Find("MakeLoss"), OpRegistry::Global().Find("make_loss"));
}

TEST(OperatorList, ListHasEachOperatorOnceSorted) {
  const auto ops = OpRegistry::Global().List();
  for (size_t i = 1; i < ops.size(); ++i) EXPECT_LT(ops[i - 1]->name(), ops[i]->name());
  // Aliases are not listed as operators of their own.
  for (const OpSchema* op : ops) {
    for (const std::string& alias : op->aliases()) {
      EXPECT_EQ(OpRegistry::Global().Find(alias), op) << alias;
      for (const OpSchema* other : ops) EXPECT_NE(other->name(), alias);
    }
  }
}

}  // namespace
}  // namespace loom
