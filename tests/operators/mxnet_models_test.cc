// MXNet's inference tests that need this operators (mxnet-facts §8): T5 (Cast before a
// layer), T20 (backward inference through broadcast_add and _identity_with_attr_like_rhs) and
// T30 (the models.conv() network of MXNet's unit tests).
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ValueOf;

TEST(MXNetModels, T5CastThenFullyConnected) {
  Symbol data = Symbol::Variable("data");
  Symbol cast = Symbol::Op("Cast").Input("data", data).Param("dtype", "float32");
  Symbol fc = Symbol::Op("FullyConnected").Input("data", cast).Param("num_hidden", 128).Name("fc1");
  Symbol net = Symbol::Op("SoftmaxOutput").Input("data", fc).Name("softmax");
  auto r = net.InferType({{"data", DType::kFloat16}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->arguments, (std::vector<DType>{DType::kFloat16, DType::kFloat32, DType::kFloat32,
                                              DType::kFloat32}));
  EXPECT_EQ(r->outputs, (std::vector<DType>{DType::kFloat32}));
  EXPECT_TRUE(r->auxiliary_states.empty());
  auto partial = net.InferTypePartial({});
  EXPECT_EQ(partial.arguments, (std::vector<DType>{DType::kUnknown, DType::kFloat32,
                                                   DType::kFloat32, DType::kFloat32}));
  EXPECT_EQ(partial.outputs, (std::vector<DType>{DType::kFloat32}));
}

TEST(MXNetModels, T20BackwardInferenceThroughIdentityLikeRhs) {
  Symbol data = Symbol::Variable("data");
  Symbol w = Symbol::Variable("w");
  Symbol wshift = Symbol::Variable("wshift", {.shape = Shape{1}});
  Symbol wt = Symbol::Op("broadcast_add").Input("lhs", w).Input("rhs", wshift);
  wt = Symbol::Op("_identity_with_attr_like_rhs").Input("lhs", wt).Input("rhs", w);
  Symbol net = Symbol::Op("FullyConnected")
                   .Input("data", data)
                   .Input("weight", wt)
                   .Param("num_hidden", 11)
                   .Param("no_bias", true);
  auto r = net.InferShape({{"data", Shape{7, 100}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ValueOf(net, *r, "w"), (Shape{11, 100}));
  EXPECT_EQ(ValueOf(net, *r, "wshift"), (Shape{1}));
}

Symbol ConvBlock(const Symbol& in, int i) {
  const std::string n = std::to_string(i);
  Symbol conv = Symbol::Op("Convolution")
                    .Input("data", in)
                    .Param("num_filter", 32)
                    .Param("kernel", "(3, 3)")
                    .Param("stride", "(2, 2)")
                    .Name("conv" + n);
  Symbol bn = Symbol::Op("BatchNorm").Input("data", conv).Name("bn" + n);
  Symbol act =
      Symbol::Op("Activation").Input("data", bn).Param("act_type", "relu").Name("relu" + n);
  return Symbol::Op("Pooling")
      .Input("data", act)
      .Param("pool_type", "max")
      .Param("kernel", "(2, 2)")
      .Param("stride", "(2, 2)")
      .Name("mp" + n);
}

TEST(MXNetModels, T30ConvNetShapes) {
  Symbol mp2 = ConvBlock(ConvBlock(Symbol::Variable("data"), 1), 2);
  Symbol fl = Symbol::Op("Flatten").Input("data", mp2).Name("flatten");
  Symbol fc = Symbol::Op("FullyConnected").Input("data", fl).Param("num_hidden", 10).Name("fc2");
  Symbol net = Symbol::Op("SoftmaxOutput").Input("data", fc).Name("sm");
  EXPECT_EQ(net.ListArguments(),
            (std::vector<std::string>{"data", "conv1_weight", "conv1_bias", "bn1_gamma", "bn1_beta",
                                      "conv2_weight", "conv2_bias", "bn2_gamma", "bn2_beta",
                                      "fc2_weight", "fc2_bias", "sm_label"}));
  EXPECT_EQ(net.ListAuxiliaryStates(),
            (std::vector<std::string>{"bn1_moving_mean", "bn1_moving_var", "bn2_moving_mean",
                                      "bn2_moving_var"}));
  EXPECT_EQ(net.ListOutputs(), (std::vector<std::string>{"sm_output"}));
  auto r = net.InferShape({{"data", Shape{1, 1, 28, 28}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ValueOf(net, *r, "conv1_weight"), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(ValueOf(net, *r, "bn1_moving_var"), (Shape{32}));
  EXPECT_EQ(ValueOf(net, *r, "conv2_weight"), (Shape{32, 32, 3, 3}));
  EXPECT_EQ(ValueOf(net, *r, "fc2_weight"), (Shape{10, 32}));
  EXPECT_EQ(ValueOf(net, *r, "sm_label"), (Shape{1}));
  EXPECT_EQ(r->outputs[0], (Shape{1, 10}));
  // Intermediate shapes: conv1 (1,32,13,13), mp1 (1,32,6,6), conv2 (1,32,2,2), mp2 (1,32,1,1),
  // flatten (1,32).
  Symbol internals = net.GetInternals();
  auto all = internals.InferShapePartial({{"data", Shape{1, 1, 28, 28}}});
  EXPECT_EQ(ValueOf(internals, all, "conv1_output"), (Shape{1, 32, 13, 13}));
  EXPECT_EQ(ValueOf(internals, all, "mp1_output"), (Shape{1, 32, 6, 6}));
  EXPECT_EQ(ValueOf(internals, all, "conv2_output"), (Shape{1, 32, 2, 2}));
  EXPECT_EQ(ValueOf(internals, all, "mp2_output"), (Shape{1, 32, 1, 1}));
  EXPECT_EQ(ValueOf(internals, all, "flatten_output"), (Shape{1, 32}));
}

}  // namespace
}  // namespace loom
