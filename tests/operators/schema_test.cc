// The schemas of FullyConnected, Convolution, Activation, SoftmaxOutput and the elementwise
// arithmetic operators: inputs, parameters, aliases and shape rules (MXNet 1.9.1's values).
#include <gtest/gtest.h>

#include "loom/core/operator.h"
#include "loom/core/symbol.h"

namespace loom {
namespace {

Shape ArgShape(const Symbol& s, const InferredShapes& r, std::string_view name) {
  auto args = s.ListArguments();
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) return r.arguments[i];
  }
  ADD_FAILURE() << "no argument " << name;
  return {};
}

TEST(OperatorSchema, AliasesResolveToCanonicalOperators) {
  const OpRegistry& reg = OpRegistry::Global();
  EXPECT_EQ(reg.Get("Softmax").name(), "SoftmaxOutput");
  EXPECT_EQ(reg.Get("_Plus").name(), "elemwise_add");
  EXPECT_EQ(reg.Get("_plus").name(), "elemwise_add");
  EXPECT_EQ(reg.Get("_add").name(), "elemwise_add");
  EXPECT_EQ(reg.Get("_Minus").name(), "elemwise_sub");
  EXPECT_EQ(reg.Get("_Mul").name(), "elemwise_mul");
  EXPECT_EQ(reg.Get("_Div").name(), "elemwise_div");
  EXPECT_EQ(reg.Get("_RMinusScalar").name(), "_rminus_scalar");
  EXPECT_EQ(reg.Get("_RDivScalar").name(), "_rdiv_scalar");
}

TEST(OperatorSchema, UnknownOperatorSuggestsClosestNames) {
  try {
    OpRegistry::Global().Get("FullyConected");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown operator 'FullyConected'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("FullyConnected"), std::string::npos) << e.what();
  }
}

TEST(OperatorSchema, FullyConnectedInputsDependOnNoBias) {
  Symbol x = Symbol::Variable("x");
  Symbol fc = Symbol::Op("FullyConnected").Input("data", x).Param("num_hidden", 4).Name("fc");
  EXPECT_EQ(fc.ListArguments(), (std::vector<std::string>{"x", "fc_weight", "fc_bias"}));
  Symbol nb = Symbol::Op("FullyConnected").Input("data", x).Param("num_hidden", 4)
                  .Param("no_bias", "True").Name("nb");
  EXPECT_EQ(nb.ListArguments(), (std::vector<std::string>{"x", "nb_weight"}));
}

TEST(OperatorSchema, FullyConnectedFlattenFalseAppliesToLastAxis) {
  Symbol x = Symbol::Variable("x");
  Symbol fc = Symbol::Op("FullyConnected").Input("data", x).Param("num_hidden", 7)
                  .Param("flatten", "false").Name("fc");
  auto r = fc.InferShape({{"x", Shape{2, 3, 5}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outputs[0], (Shape{2, 3, 7}));
  EXPECT_EQ(ArgShape(fc, *r, "fc_weight"), (Shape{7, 5}));
}

TEST(OperatorSchema, FullyConnectedAcceptsColumnBias) {
  Symbol x = Symbol::Variable("x");
  Symbol fc = Symbol::Op("FullyConnected").Input("data", x).Param("num_hidden", 7).Name("fc");
  auto r = fc.InferShape({{"x", Shape{2, 5}}, {"fc_bias", Shape{7, 1}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ArgShape(fc, *r, "fc_bias"), (Shape{7, 1}));
  EXPECT_THROW(fc.InferShape({{"x", Shape{2, 5}}, {"fc_bias", Shape{6}}}), ShapeError);
}

TEST(OperatorSchema, FullyConnectedRejectsBadParameters) {
  Symbol x = Symbol::Variable("x");
  EXPECT_THROW(Symbol::Op("FullyConnected").Input("data", x).Build(), Error);  // num_hidden
  EXPECT_THROW(Symbol::Op("FullyConnected").Input("data", x).Param("num_hidden", 0).Build(), Error);
  EXPECT_THROW(Symbol::Op("FullyConnected").Input("data", x).Param("num_hidden", "ten").Build(),
               Error);
  EXPECT_THROW(Symbol::Op("FullyConnected").Input("data", x).Param("num_hiden", 10).Build(), Error);
}

TEST(OperatorSchema, ConvolutionShapesFollowMXNetFormula) {
  // (H + 2p - (d(k-1)+1)) / s + 1 for 2-D, also with dilation and groups.
  Symbol x = Symbol::Variable("x");
  Symbol c = Symbol::Op("Convolution").Input("data", x).Param("kernel", "(3, 3)")
                 .Param("num_filter", 8).Param("stride", "(2,2)").Param("pad", "(1, 1)")
                 .Param("dilate", "(2, 2)").Param("num_group", 2).Name("c");
  auto r = c.InferShape({{"x", Shape{4, 6, 17, 20}}});
  ASSERT_TRUE(r.has_value());
  // H: (17 + 2 - 5) / 2 + 1 = 8; W: (20 + 2 - 5) / 2 + 1 = 9
  EXPECT_EQ(r->outputs[0], (Shape{4, 8, 8, 9}));
  EXPECT_EQ(ArgShape(c, *r, "c_weight"), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(ArgShape(c, *r, "c_bias"), (Shape{8}));
}

TEST(OperatorSchema, ConvolutionOneAndThreeDimensionsAndChannelLast) {
  Symbol x = Symbol::Variable("x");
  Symbol c1 = Symbol::Op("Convolution").Input("data", x).Param("kernel", "(3,)")
                  .Param("num_filter", 2).Param("no_bias", true).Name("c1");
  EXPECT_EQ(c1.InferShape({{"x", Shape{1, 4, 10}}})->outputs[0], (Shape{1, 2, 8}));
  Symbol c3 = Symbol::Op("Convolution").Input("data", x).Param("kernel", "(1, 3, 3)")
                  .Param("num_filter", 2).Name("c3");
  EXPECT_EQ(c3.InferShape({{"x", Shape{1, 4, 5, 6, 7}}})->outputs[0], (Shape{1, 2, 5, 4, 5}));
  Symbol nhwc = Symbol::Op("Convolution").Input("data", x).Param("kernel", "(3, 3)")
                    .Param("num_filter", 5).Param("layout", "NHWC").Name("nhwc");
  auto r = nhwc.InferShape({{"x", Shape{2, 9, 9, 4}}});
  EXPECT_EQ(r->outputs[0], (Shape{2, 7, 7, 5}));
  EXPECT_EQ(ArgShape(nhwc, *r, "nhwc_weight"), (Shape{5, 3, 3, 4}));
}

TEST(OperatorSchema, ConvolutionErrorsNameTheProblem) {
  Symbol x = Symbol::Variable("x");
  Symbol c = Symbol::Op("Convolution").Input("data", x).Param("kernel", "(5, 5)")
                 .Param("num_filter", 2).Name("conv1");
  try {
    c.InferShape({{"x", Shape{1, 3, 4, 4}}});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("conv1: Convolution kernel (5, 5)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(c.InferShape({{"x", Shape{1, 3, 4}}}), ShapeError);
  EXPECT_THROW(Symbol::Op("Convolution").Input("data", x).Param("kernel", "(3,3)")
                   .Param("num_filter", 3).Param("num_group", 2).Build(),
               Error);
  EXPECT_THROW(Symbol::Op("Convolution").Input("data", x).Param("kernel", "(3,3)")
                   .Param("num_filter", 4).Param("stride", "(1,1,1)").Build(),
               Error);
}

TEST(OperatorSchema, SoftmaxOutputLabelShapes) {
  Symbol x = Symbol::Variable("x");
  Symbol s = Symbol::Op("SoftmaxOutput").Input("data", x).Name("sm");
  EXPECT_EQ(s.ListArguments(), (std::vector<std::string>{"x", "sm_label"}));
  auto r = s.InferShape({{"x", Shape{8, 10}}});
  EXPECT_EQ(ArgShape(s, *r, "sm_label"), (Shape{8}));
  // A label of the data's shape holds probabilities.
  r = s.InferShape({{"x", Shape{8, 10}}, {"sm_label", Shape{8, 10}}});
  ASSERT_TRUE(r.has_value());
  Symbol m = Symbol::Op("SoftmaxOutput").Input("data", x).Param("multi_output", "True").Name("m");
  r = m.InferShape({{"x", Shape{2, 3, 4, 5}}});
  EXPECT_EQ(ArgShape(m, *r, "m_label"), (Shape{2, 20}));
  EXPECT_TRUE(m.InferShape({{"x", Shape{2, 3, 4, 5}}, {"m_label", Shape{2, 4, 5}}}).has_value());
  EXPECT_THROW(m.InferShape({{"x", Shape{2, 3, 4, 5}}, {"m_label", Shape{2, 7}}}), ShapeError);
  Symbol alias = Symbol::Op("Softmax").Input("data", x);
  EXPECT_EQ(alias.ListOutputs(), (std::vector<std::string>{"softmax0_output"}));
}

TEST(OperatorSchema, ActivationRejectsUnknownType) {
  Symbol x = Symbol::Variable("x");
  try {
    Symbol::Op("Activation").Input("data", x).Param("act_type", "swish").Name("a").Build();
    FAIL();
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("act_type"), std::string::npos) << what;
    EXPECT_NE(what.find("relu, sigmoid, tanh, softrelu, softsign"), std::string::npos) << what;
    EXPECT_NE(what.find("'swish'"), std::string::npos) << what;
  }
}

TEST(OperatorSchema, EveryRegisteredOperatorIsDocumented) {
  for (const OpSchema* op : OpRegistry::Global().List()) {
    EXPECT_FALSE(op->doc().empty()) << op->name() << " (" << op->location() << ")";
    for (const auto& f : op->params().fields()) {
      EXPECT_FALSE(f.doc.empty()) << op->name() << "." << f.name;
    }
  }
}

}  // namespace
}  // namespace loom
