// MXNet 1.9.1's own symbol tests (mxnet-facts.md §8) that need only the operators of this file's
// schemas: structure (T1-T4), inference (T6, T7, T18, T19, T21, T22, T24, T26) and attributes
// (T14-T17). Expected values are MXNet's.
#include <gtest/gtest.h>

#include "loom/core/attr_scope.h"
#include "loom/core/name_manager.h"
#include "loom/core/symbol.h"
#include "loom/operators/symbol_ops.h"

namespace loom {
namespace {

using Names = std::vector<std::string>;

class MXNetSymbolTest : public ::testing::Test {
 protected:
  NameScope names_;
};

Shape Find(const Symbol& s, const std::vector<Shape>& shapes, const std::string& name) {
  Names args = s.ListArguments();
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) return shapes[i];
  }
  ADD_FAILURE() << "no argument " << name;
  return {};
}

// tests/python/common/models.py mlp2()
Symbol Mlp2() {
  Symbol data = Symbol::Variable("data");
  Symbol out = op::FullyConnected(data, {.num_hidden = 1000}, "fc1");
  out = op::Activation(out, {.act_type = "relu"});
  return op::FullyConnected(out, {.num_hidden = 10}, "fc2");
}

TEST_F(MXNetSymbolTest, T1_Internals) {
  Symbol data = Symbol::Variable("data");
  Symbol fc1 = op::FullyConnected(data, {.num_hidden = 10}, "fc1");
  Symbol net1 = op::FullyConnected(fc1, {.num_hidden = 100}, "fc2");
  EXPECT_EQ(net1.ListArguments(), (Names{"data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"}));
  EXPECT_EQ(net1.GetInternals()["fc1_output"].ListArguments(), fc1.ListArguments());
}

TEST_F(MXNetSymbolTest, T2_Children) {
  Symbol data = Symbol::Variable("data");
  Symbol fc1 = op::FullyConnected(data, {.num_hidden = 10}, "fc1");
  Symbol net1 = op::FullyConnected(fc1, {.num_hidden = 100}, "fc2");
  Symbol children = *net1.GetChildren();
  EXPECT_EQ(children.ListOutputs(), (Names{"fc1_output", "fc2_weight", "fc2_bias"}));
  EXPECT_EQ(children.num_outputs(), 3u);
  EXPECT_EQ(children.GetChildren()->ListOutputs(), (Names{"data", "fc1_weight", "fc1_bias"}));
  EXPECT_EQ(children["fc2_weight"].ListArguments(), (Names{"fc2_weight"}));
  EXPECT_FALSE(children["fc2_weight"].GetChildren().has_value());
}

TEST_F(MXNetSymbolTest, T3_Compose) {
  Symbol data = Symbol::Variable("data");
  Symbol net1 = op::FullyConnected(data, {.num_hidden = 10}, "fc1");
  net1 = op::FullyConnected(net1, {.num_hidden = 100}, "fc2");
  Symbol net2 = Symbol::Op("FullyConnected").Param("num_hidden", 10).Name("fc3");
  net2 = op::Activation(net2, {.act_type = "relu"});
  net2 = op::FullyConnected(net2, {.num_hidden = 20}, "fc4");
  EXPECT_EQ(net2.ListArguments()[0], "fc3_data");
  Symbol composed = net2({{"fc3_data", net1}}, "composed");
  Symbol multi_out = Symbol::Group({composed, net1});
  EXPECT_EQ(multi_out.num_outputs(), 2u);
  EXPECT_EQ(multi_out.ListOutputs(), (Names{"composed_output", "fc2_output"}));
  EXPECT_EQ(composed.ListArguments(),
            (Names{"data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "fc3_weight",
                   "fc3_bias", "fc4_weight", "fc4_bias"}));
  try {
    net2({{"nope", net1}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("keyword argument name 'nope' not found"),
              std::string::npos);
  }
}

TEST_F(MXNetSymbolTest, T4_CopiesAndSaveLoadKeepTheJSON) {
  Symbol net = Mlp2();
  EXPECT_EQ(net.DeepCopy().ToJSON(), net.ToJSON());
  Symbol copy = net;
  EXPECT_EQ(copy.ToJSON(), net.ToJSON());
  std::string path = ::testing::TempDir() + "/mlp2-symbol.json";
  net.Save(path);
  EXPECT_EQ(Symbol::Load(path).ToJSON(), net.ToJSON());
}

TEST_F(MXNetSymbolTest, T6_InferShapeForwardAndPartial) {
  Symbol data = Symbol::Variable("data");
  Symbol prev = Symbol::Variable("prevstate");
  Symbol x2h = op::FullyConnected(data, {.num_hidden = 128}, "x2h");
  Symbol h2h = op::FullyConnected(prev, {.num_hidden = 128}, "h2h");
  Symbol out = op::Activation(Symbol::Op("elemwise_add").Input(x2h).Input(h2h),
                              {.act_type = "relu"}, "out");
  EXPECT_FALSE(out.InferShape({{"data", Shape{10, 64}}}).has_value());
  InferredShapes p = out.InferShapePartial({{"data", Shape{10, 64}}});
  EXPECT_EQ(Find(out, p.arguments, "data"), (Shape{10, 64}));
  EXPECT_EQ(Find(out, p.arguments, "x2h_weight"), (Shape{128, 64}));
  EXPECT_EQ(Find(out, p.arguments, "h2h_weight"), Shape());
  auto full = out.InferShape({{"data", Shape{10, 64}}, {"prevstate", p.outputs[0]}});
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(Find(out, full->arguments, "h2h_weight"), (Shape{128, 128}));
}

TEST_F(MXNetSymbolTest, T7_VariableShapeAttribute) {
  Symbol a = Symbol::Variable("a", {.shape = Shape{2, 3}});
  Symbol b = Symbol::Variable("b");
  Symbol c = Symbol::Op("elemwise_add").Input(a).Input(b);
  auto r = c.InferShape();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->arguments, (std::vector<Shape>{{2, 3}, {2, 3}}));
  EXPECT_EQ(r->outputs, (std::vector<Shape>{{2, 3}}));
  r = c.InferShape({{"a", Shape{5, 6}}});
  EXPECT_EQ(r->arguments, (std::vector<Shape>{{5, 6}, {5, 6}}));
  EXPECT_EQ(r->outputs, (std::vector<Shape>{{5, 6}}));
}

TEST_F(MXNetSymbolTest, T14_AttrBasic) {
  Symbol data, gdata;
  {
    AttrScope scope({{"group", "4"}, {"data", "great"}});
    data = Symbol::Variable("data", {.attr = {{"dtype", "data"}, {"group", "1"},
                                              {"force_mirroring", "True"}},
                                     .lr_mult = 1});
    gdata = Symbol::Variable("data2");
  }
  EXPECT_EQ(gdata.Attr("group"), "4");
  EXPECT_EQ(data.Attr("group"), "1");
  EXPECT_EQ(data.Attr("lr_mult"), "1");
  EXPECT_EQ(data.Attr("__lr_mult__"), "1");
  EXPECT_EQ(data.Attr("force_mirroring"), "True");
  EXPECT_EQ(data.Attr("__force_mirroring__"), "True");
  EXPECT_EQ(Symbol::FromJSON(data.ToJSON()).Attr("dtype"), "data");
}

TEST_F(MXNetSymbolTest, T15_OperatorAttributes) {
  Symbol data = Symbol::Variable("data");
  Symbol fc1, fc2;
  {
    AttrScope scope({{"__group__", "4"}, {"__data__", "great"}});
    fc1 = op::Activation(data, {.act_type = "relu"});
    {
      AttrScope inner({{"__init_bias__", "0.0"}});
      fc2 = op::FullyConnected(fc1, {.num_hidden = 10}, "fc2");
    }
  }
  EXPECT_EQ(fc1.Attr("__data__"), "great");
  EXPECT_EQ(fc2.Attr("__data__"), "great");
  EXPECT_EQ(fc2.Attr("__init_bias__"), "0.0");
  EXPECT_EQ(Symbol::FromJSON(fc2.ToJSON()).ToJSON(), fc2.ToJSON());
  EXPECT_EQ(fc2.GetInternals()["fc2_weight"].ListArguments(), (Names{"fc2_weight"}));
}

TEST_F(MXNetSymbolTest, T16_ListAttr) {
  Symbol data = Symbol::Variable("data", {.attr = {{"mood", "angry"}}});
  Symbol op = op::Convolution(data, {.kernel = Shape{1, 1}, .num_filter = 1,
                                     .attr = {{"__mood__", "so so"}, {"wd_mult", "x"}}}, "conv");
  StrMap attrs = op.ListAttr();
  EXPECT_EQ(attrs["__mood__"], "so so");
  EXPECT_EQ(attrs["wd_mult"], "x");
  EXPECT_EQ(attrs["__wd_mult__"], "x");
}

TEST_F(MXNetSymbolTest, T17_AttrDict) {
  Symbol data = Symbol::Variable("data", {.attr = {{"mood", "angry"}}});
  Symbol op = Symbol::Op("Convolution").Input("data", data).Name("conv")
                  .Param("kernel", Shape{1, 1}).Param("num_filter", 1)
                  .Attr("__mood__", "so so").Param("lr_mult", 1);
  auto dict = op.AttrDict();
  auto contains = [&](const std::string& node, const StrMap& expected) {
    for (const auto& [k, v] : expected) EXPECT_EQ(dict[node][k], v) << node << "." << k;
  };
  EXPECT_EQ(dict.size(), 4u);
  contains("data", {{"mood", "angry"}});
  contains("conv_weight", {{"__mood__", "so so"}});
  contains("conv", {{"kernel", "(1, 1)"}, {"__mood__", "so so"}, {"num_filter", "1"},
                    {"lr_mult", "1"}, {"__lr_mult__", "1"}});
  contains("conv_bias", {{"__mood__", "so so"}});
}

TEST_F(MXNetSymbolTest, HiddenKeySuffixesAreRefused) {
  Symbol data = Symbol::Variable("data");
  try {
    op::FullyConnected(data, {.num_hidden = 3, .attr = {{"weight_lr_mult", "2"}}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'weight_lr_mult' is deprecated"), std::string::npos);
  }
  Symbol fc = op::FullyConnected(data, {.num_hidden = 3, .attr = {{"lr_mult_foo", "2"},
                                                                  {"ctx_group", "g"}}});
  EXPECT_EQ(fc.ListAttr(), (StrMap{{"__ctx_group__", "g"}, {"ctx_group", "g"},
                                   {"__lr_mult_foo__", "2"}}));
}

TEST_F(MXNetSymbolTest, PrefixScopesRestartCounters) {
  Symbol a = Symbol::Variable("a");
  Symbol z;
  {
    Prefix p("p_");
    Symbol x = op::FullyConnected(a, {.num_hidden = 2});
    Symbol y = op::Activation(x, {.act_type = "relu"}, "act");
    Prefix q("q_");
    z = op::FullyConnected(y, {.num_hidden = 2});
  }
  EXPECT_EQ(z.ListArguments(), (Names{"a", "p_fullyconnected0_weight", "p_fullyconnected0_bias",
                                      "q_fullyconnected0_weight", "q_fullyconnected0_bias"}));
  EXPECT_EQ(z.GetInternals().ListOutputs(),
            (Names{"a", "p_fullyconnected0_weight", "p_fullyconnected0_bias",
                   "p_fullyconnected0_output", "p_act_output", "q_fullyconnected0_weight",
                   "q_fullyconnected0_bias", "q_fullyconnected0_output"}));
}

TEST_F(MXNetSymbolTest, T18_Mlp2InferShape) {
  Symbol net = Mlp2();
  auto r = net.InferShape({{"data", Shape{100, 100}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outputs, (std::vector<Shape>{{100, 10}}));
  EXPECT_EQ(Find(net, r->arguments, "fc2_bias"), (Shape{10}));
  EXPECT_EQ(Find(net, r->arguments, "fc2_weight"), (Shape{10, 1000}));
  EXPECT_EQ(Find(net, r->arguments, "fc1_bias"), (Shape{1000}));
  EXPECT_EQ(Find(net, r->arguments, "fc1_weight"), (Shape{1000, 100}));
}

TEST_F(MXNetSymbolTest, T19_Mlp2InferError) {
  Symbol net = Mlp2();
  try {
    net.InferShape({{"data", Shape{100, 100}}, {"fc1_weight", Shape{1, 100}}});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("fc1: FullyConnected input 'weight' ('fc1_weight') has "
                                         "shape (1,100) but expected (1000,100) from "
                                         "num_hidden=1000 and data (100,100)"),
              std::string::npos) << e.what();
  }
}

TEST_F(MXNetSymbolTest, T21_IncompleteElementwise) {
  Symbol a = Symbol::Variable("a", {.shape = Shape{0, 10}});
  Symbol b = Symbol::Variable("b", {.shape = Shape{12, 0}});
  Symbol c = a + b;
  auto r = c.InferShapePartial();
  EXPECT_EQ(r.arguments, (std::vector<Shape>{{12, 10}, {12, 10}}));
}

TEST_F(MXNetSymbolTest, T22_IncompleteMlp) {
  Symbol a = Symbol::Variable("a", {.shape = Shape{0, 10}});
  Symbol b = op::FullyConnected(a, {.num_hidden = 21});
  Symbol c = Symbol::Variable("c", {.shape = Shape{5, 0}});
  Symbol d = b + c;
  auto r = d.InferShapePartial();
  EXPECT_EQ(Find(d, r.arguments, "a"), (Shape{5, 10}));
  EXPECT_EQ(Find(d, r.arguments, "c"), (Shape{5, 21}));
}

TEST_F(MXNetSymbolTest, T24_IncompleteConvolution) {
  Symbol a = Symbol::Variable("a", {.shape = Shape{0, 10, 0, 0}});
  Symbol b = op::Convolution(a, {.kernel = Shape{3, 3}, .num_filter = 21,
                                 .dilate = Shape{1, 1}, .pad = Shape{1, 1}});
  Symbol c = Symbol::Variable("c", {.shape = Shape{5, 21, 32, 32}});
  Symbol d = b + c;
  auto r = d.InferShapePartial();
  EXPECT_EQ(Find(d, r.arguments, "a"), (Shape{5, 10, 32, 32}));
}

TEST_F(MXNetSymbolTest, T26_FullyConnectedInferType) {
  Symbol data = Symbol::Variable("data");
  Symbol fc = op::FullyConnected(data, {.num_hidden = 1000}, "fc1");
  auto r = fc.InferType({{"data", DType::kFloat32}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->arguments, (std::vector<DType>{DType::kFloat32, DType::kFloat32, DType::kFloat32}));
  EXPECT_EQ(r->outputs, (std::vector<DType>{DType::kFloat32}));
  auto partial = fc.InferTypePartial();
  EXPECT_FALSE(partial.complete());
  EXPECT_EQ(partial.arguments[1], DType::kUnknown);
  EXPECT_THROW(fc.InferType({{"data", DType::kFloat16}, {"fc1_weight", DType::kFloat32}}),
               DTypeError);
}

}  // namespace
}  // namespace loom
