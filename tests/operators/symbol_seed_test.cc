// Every example of the seed documents (MXNet's symbol API docs), ported to C++, with the
// documented results. Examples that need an executor (bind/forward) are covered by the executor's
// tests; here their symbols' structure is checked.
#include <gtest/gtest.h>

#include "loom/core/attr_scope.h"
#include "loom/core/name_manager.h"
#include "loom/core/symbol.h"
#include "loom/operators/symbol_ops.h"

namespace loom {
namespace {

using Names = std::vector<std::string>;

// Each test starts with fresh automatic-name counters, as a fresh Python process would.
class SeedExample : public ::testing::Test {
 protected:
  NameScope names_;
};

TEST_F(SeedExample, TwoLayerPerceptronArguments) {
  Symbol net = Symbol::Variable("data");
  net = Symbol::Op("FullyConnected").Input("data", net).Name("fc1").Param("num_hidden", 128);
  net = Symbol::Op("Activation").Input("data", net).Name("relu1").Param("act_type", "relu");
  net = Symbol::Op("FullyConnected").Input("data", net).Name("fc2").Param("num_hidden", 64);
  net = Symbol::Op("SoftmaxOutput").Input("data", net).Name("out");
  EXPECT_EQ(net.ListArguments(),
            (Names{"data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "out_label"}));
}

TEST_F(SeedExample, TypedWrappersGiveTheSameNetwork) {
  Symbol data = Symbol::Variable("data");
  Symbol net = op::FullyConnected(data, {.num_hidden = 128}, "fc1");
  net = op::Activation(net, {.act_type = "relu"}, "relu1");
  net = op::FullyConnected(net, {.num_hidden = 64}, "fc2");
  net = op::SoftmaxOutput(net, {}, "out");
  EXPECT_EQ(net.ListArguments(),
            (Names{"data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "out_label"}));
}

TEST_F(SeedExample, ExplicitWeightKeepsItsName) {
  Symbol net = Symbol::Variable("data");
  Symbol w = Symbol::Variable("myweight");
  net = op::FullyConnected(net, {.num_hidden = 128, .weight = w}, "fc1");
  EXPECT_EQ(net.ListArguments(), (Names{"data", "myweight", "fc1_bias"}));
}

TEST_F(SeedExample, ElementwiseAddFeedsFullyConnected) {
  Symbol lhs = Symbol::Variable("data1");
  Symbol rhs = Symbol::Variable("data2");
  Symbol net = op::FullyConnected(lhs + rhs, {.num_hidden = 128}, "fc1");
  EXPECT_EQ(net.ListArguments(), (Names{"data1", "data2", "fc1_weight", "fc1_bias"}));
}

TEST_F(SeedExample, ComposeReplacesTheDataArgument) {
  Symbol net = Symbol::Variable("data");
  net = op::FullyConnected(net, {.num_hidden = 128}, "fc1");
  Symbol net2 = Symbol::Variable("data2");
  net2 = op::FullyConnected(net2, {.num_hidden = 128}, "net2");
  Symbol composed_net = net({{"data", net2}}, "compose");
  EXPECT_EQ(composed_net.ListArguments(),
            (Names{"data2", "net2_weight", "net2_bias", "fc1_weight", "fc1_bias"}));
  EXPECT_EQ(composed_net.ListOutputs(), (Names{"compose_output"}));
  EXPECT_EQ(net.ListOutputs(), (Names{"fc1_output"}));  // the original is unchanged
}

TEST_F(SeedExample, PrefixNamesLayers) {
  Symbol data = Symbol::Variable("data");
  Symbol net = data;
  for (int i = 0; i < 2; ++i) {
    Prefix prefix("layer" + std::to_string(i + 1) + "_");
    net = op::FullyConnected(net, {.num_hidden = 100}, "fc");
  }
  EXPECT_EQ(net.ListArguments(), (Names{"data", "layer1_fc_weight", "layer1_fc_bias",
                                        "layer2_fc_weight", "layer2_fc_bias"}));
}

TEST_F(SeedExample, ArgumentShapeInference) {
  Symbol net = Symbol::Variable("data");
  net = op::FullyConnected(net, {.num_hidden = 10}, "fc1");
  auto r = net.InferShape({{"data", Shape{100, 100}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(net.ListArguments(), (Names{"data", "fc1_weight", "fc1_bias"}));
  EXPECT_EQ(r->arguments, (std::vector<Shape>{{100, 100}, {10, 100}, {10}}));
  EXPECT_EQ(r->outputs, (std::vector<Shape>{{100, 10}}));
}

TEST_F(SeedExample, MultiplyForBind) {
  Symbol a = Symbol::Variable("A");
  Symbol b = Symbol::Variable("B");
  Symbol c = a * b;
  EXPECT_EQ(c.ListArguments(), (Names{"A", "B"}));
  EXPECT_EQ(c.InferShape({{"A", Shape{3}}, {"B", Shape{3}}})->outputs[0], (Shape{3}));
}

TEST_F(SeedExample, AttributesAtCreation) {
  Symbol data = Symbol::Variable("data", {.attr = {{"mood", "angry"}}});
  Symbol op = op::Convolution(data, {.kernel = Shape{1, 1}, .num_filter = 1,
                                     .attr = {{"mood", "so so"}}}, "conv");
  EXPECT_EQ(data.Attr("mood"), "angry");
  EXPECT_EQ(op.ListAttr(), (StrMap{{"mood", "so so"}}));
  EXPECT_EQ(op.ListAttrRecursive(), (StrMap{{"data_mood", "angry"},
                                            {"conv_mood", "so so"},
                                            {"conv_weight_mood", "so so"},
                                            {"conv_bias_mood", "so so"}}));
}

TEST_F(SeedExample, AttributesAreNotCopiedToGivenVariables) {
  Symbol weight = Symbol::Variable("crazy_weight", {.attr = {{"size", "5"}}});
  Symbol data = Symbol::Variable("data", {.attr = {{"mood", "angry"}}});
  Symbol op = op::Convolution(data, {.kernel = Shape{1, 1}, .num_filter = 1, .weight = weight,
                                     .attr = {{"mood", "so so"}}}, "conv");
  EXPECT_EQ(op.ListAttrRecursive(), (StrMap{{"conv_mood", "so so"},
                                            {"conv_bias_mood", "so so"},
                                            {"crazy_weight_size", "5"},
                                            {"data_mood", "angry"}}));
}

TEST_F(SeedExample, AttrScope) {
  Symbol data = Symbol::Variable("data");
  Symbol fc1, fc2;
  {
    AttrScope scope({{"group", "4"}, {"data", "great"}});
    fc1 = op::Activation(data, {.act_type = "relu"});
    {
      AttrScope inner({{"init_bias", "0.0"}});
      fc2 = op::FullyConnected(fc1, {.num_hidden = 10}, "fc2");
    }
  }
  EXPECT_EQ(fc1.Attr("data"), "great");
  EXPECT_EQ(fc2.Attr("data"), "great");
  EXPECT_EQ(fc2.Attr("init_bias"), "0.0");
  EXPECT_FALSE(data.Attr("data").has_value());  // created before the scope
}

TEST_F(SeedExample, SaveAndLoadGiveTheSameJSON) {
  Symbol a = Symbol::Variable("a");
  Symbol b = Symbol::Variable("b");
  Symbol c = a + b;
  std::string path = ::testing::TempDir() + "/symbol-c.json";
  c.Save(path);
  Symbol c2 = Symbol::Load(path);
  EXPECT_EQ(c.ToJSON(), c2.ToJSON());
}

TEST_F(SeedExample, GroupOutputs) {
  Symbol net = Symbol::Variable("data");
  Symbol fc1 = op::FullyConnected(net, {.num_hidden = 128}, "fc1");
  net = op::Activation(fc1, {.act_type = "relu"}, "relu1");
  net = op::FullyConnected(net, {.num_hidden = 64}, "fc2");
  Symbol out = op::SoftmaxOutput(net, {}, "softmax");
  Symbol group = Symbol::Group({fc1, out});
  EXPECT_EQ(group.ListOutputs(), (Names{"fc1_output", "softmax_output"}));
}

}  // namespace
}  // namespace loom
