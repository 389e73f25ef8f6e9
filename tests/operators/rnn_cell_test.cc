// The unrolled RNN cells (loom/operators/rnn_cell.h): MXNet's test_rnn.py (T29) names, parameters
// and shapes, node names per step, begin states, stacking and attribute scopes.
#include "loom/operators/rnn_cell.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loom/core/attr_scope.h"
#include "loom/core/name_manager.h"
#include "loom/scheduler/error.h"

namespace loom {
namespace {

std::vector<Symbol> StepInputs(const std::string& prefix, int length) {
  std::vector<Symbol> inputs;
  for (int t = 0; t < length; ++t) {
    inputs.push_back(Symbol::Variable(prefix + "t" + std::to_string(t) + "_data"));
  }
  return inputs;
}

std::vector<std::string> Keys(const std::map<std::string, Symbol>& params) {
  std::vector<std::string> keys;
  for (const auto& [name, symbol] : params) keys.push_back(name);
  return keys;
}

// T29 for one cell: sorted parameter names, Group(outputs).list_outputs() and infer_shape with
// data (10,50) per step giving (10,100) per output.
void CheckT29(rnn::RNNCellBase& cell, const std::string& prefix) {
  auto [outputs, states] = cell.Unroll(3, StepInputs(prefix, 3));
  EXPECT_EQ(Keys(cell.params()),
            (std::vector<std::string>{prefix + "h2h_bias", prefix + "h2h_weight",
                                      prefix + "i2h_bias", prefix + "i2h_weight"}));
  Symbol group = Symbol::Group(outputs);
  EXPECT_EQ(group.ListOutputs(),
            (std::vector<std::string>{prefix + "t0_out_output", prefix + "t1_out_output",
                                      prefix + "t2_out_output"}));
  auto shapes = group.InferShape({{prefix + "t0_data", Shape{10, 50}},
                                  {prefix + "t1_data", Shape{10, 50}},
                                  {prefix + "t2_data", Shape{10, 50}}});
  ASSERT_TRUE(shapes.has_value());
  EXPECT_EQ(shapes->outputs, (std::vector<Shape>{{10, 100}, {10, 100}, {10, 100}}));
}

TEST(RNNCell, T29RNNCell) {
  NameScope names;
  rnn::RNNCell cell(100, "tanh", "rnn_");
  CheckT29(cell, "rnn_");
}

TEST(RNNCell, T29LSTMCell) {
  NameScope names;
  rnn::LSTMCell cell(100, "rnn_");
  CheckT29(cell, "rnn_");
}

TEST(RNNCell, T29GRUCell) {
  NameScope names;
  rnn::GRUCell cell(100, "rnn_");
  CheckT29(cell, "rnn_");
}

// Every node's visible outputs (variables by name, operators as <node>_output[i]).
std::vector<std::string> OpNames(const Symbol& symbol) {
  return symbol.GetInternals().ListOutputs();
}

// Whether node `name` is in the graph whose internal outputs are `names`.
bool Has(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& n : {name, name + "_output", name + "_output0"}) {
    if (std::find(names.begin(), names.end(), n) != names.end()) return true;
  }
  return false;
}

TEST(RNNCell, LSTMStepNodeNamesAndStates) {
  NameScope names;
  rnn::LSTMCell cell(4, "lstm_");
  auto [outputs, states] = cell.Unroll(2, StepInputs("lstm_", 2));
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].name(), "lstm_t1_out");
  EXPECT_EQ(states[1].name(), "lstm_t1_state");
  std::vector<std::string> nodes = OpNames(Symbol::Group({outputs[1], states[1]}));
  for (const char* n :
       {"lstm_t0_i2h", "lstm_t0_h2h", "lstm_t0_slice", "lstm_t0_i", "lstm_t0_f", "lstm_t0_c",
        "lstm_t0_o", "lstm_t0_state", "lstm_t1_out", "lstm_begin_state_0", "lstm_begin_state_1"}) {
    EXPECT_TRUE(Has(nodes, n)) << n;
  }
  // Weights shared by both steps: one variable each.
  EXPECT_EQ(Symbol::Group(outputs).ListArguments(),
            (std::vector<std::string>{"lstm_t0_data", "lstm_i2h_weight", "lstm_i2h_bias",
                                      "lstm_h2h_weight", "lstm_h2h_bias", "lstm_t1_data"}));
  // Begin states are _zeros (0, H) with __layout__ NC; the i2h bias carries MXNet's LSTMBias.
  auto dict = Symbol::Group(outputs).AttrDict();
  EXPECT_EQ(dict["lstm_begin_state_0"]["shape"], "(0, 4)");
  EXPECT_EQ(dict["lstm_begin_state_1"]["__layout__"], "NC");
  EXPECT_EQ(dict["lstm_i2h_bias"]["__init__"], "[\"lstmbias\", {\"forget_bias\": 1.0}]");
  EXPECT_EQ(dict["lstm_t0_slice"]["num_outputs"], "4");
  EXPECT_EQ(dict["lstm_t0_i2h"]["num_hidden"], "16");
}

TEST(RNNCell, GRUNamesKeepMXNetsDoubleUnderscore) {
  NameScope names;
  rnn::GRUCell cell(3, "gru_");
  auto [outputs, states] = cell.Unroll(1, StepInputs("gru_", 1));
  std::vector<std::string> nodes = OpNames(outputs[0]);
  for (const char* n :
       {"gru_t0__i2h", "gru_t0__h2h", "gru_t0__i2h_slice", "gru_t0__h2h_slice", "gru_t0__r_act",
        "gru_t0__z_act", "gru_t0__h_act", "gru_t0_out", "gru_begin_state_0"}) {
    EXPECT_TRUE(Has(nodes, n)) << n;
  }
  EXPECT_EQ(outputs[0].ListOutputs(), (std::vector<std::string>{"gru_t0_out_output"}));
}

TEST(RNNCell, RNNCellActivationAndVariableBeginStates) {
  NameScope names;
  rnn::RNNCell cell(5, "relu", "r_");
  std::vector<Symbol> begin = cell.BeginState(rnn::VariableState());
  ASSERT_EQ(begin.size(), 1u);
  EXPECT_EQ(begin[0].name(), "r_begin_state_0");
  EXPECT_EQ(begin[0].Attr("__shape__"), "(0, 5)");
  auto [outputs, states] = cell.Unroll(1, StepInputs("r_", 1), begin);
  EXPECT_EQ(outputs[0].Attr("act_type"), "relu");
  EXPECT_EQ(outputs[0].ListArguments(),
            (std::vector<std::string>{"r_t0_data", "r_i2h_weight", "r_i2h_bias", "r_begin_state_0",
                                      "r_h2h_weight", "r_h2h_bias"}));
  // Unroll restarted the counter; BeginState alone keeps counting until Reset.
  EXPECT_EQ(cell.BeginState()[0].name(), "r_begin_state_0");
  EXPECT_EQ(cell.BeginState()[0].name(), "r_begin_state_1");
  cell.Reset();
  EXPECT_EQ(cell.BeginState()[0].name(), "r_begin_state_0");
}

TEST(RNNCell, SequentialStacksCellsAndStates) {
  NameScope names;
  rnn::SequentialRNNCell stack;
  stack.Add(std::make_shared<rnn::LSTMCell>(6, "l0_"))
      .Add(std::make_shared<rnn::DropoutCell>(0.5, "d_"))
      .Add(std::make_shared<rnn::GRUCell>(4, "l1_"));
  EXPECT_EQ(stack.state_info().size(), 3u);
  EXPECT_EQ(stack.params().size(), 8u);
  auto [outputs, states] = stack.Unroll(3, StepInputs("", 3));
  ASSERT_EQ(outputs.size(), 3u);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(outputs[2].name(), "l1_t2_out");
  EXPECT_EQ(states[1].name(), "l0_t2_state");
  auto shapes = Symbol::Group(outputs).InferShape(
      {{"t0_data", Shape{2, 7}}, {"t1_data", Shape{2, 7}}, {"t2_data", Shape{2, 7}}});
  ASSERT_TRUE(shapes.has_value());
  EXPECT_EQ(shapes->outputs, (std::vector<Shape>{{2, 4}, {2, 4}, {2, 4}}));
  // A step of the stack at once (operator()): one output, the concatenated next states.
  stack.Reset();
  auto [out, next] = stack(Symbol::Variable("x"), stack.BeginState());
  EXPECT_EQ(out.name(), "l1_t0_out");
  EXPECT_EQ(next.size(), 3u);
}

TEST(RNNCell, ParametersAndOpsTakeTheAttrScope) {
  NameScope names;
  std::vector<Symbol> outputs = StepInputs("l0_", 1);
  {
    AttrScope scope({{"ctx_group", "layer0"}});
    rnn::LSTMCell cell(4, "l0_");
    outputs = cell.Unroll(1, outputs).first;
  }
  auto dict = outputs[0].AttrDict();
  for (const char* n : {"l0_i2h_weight", "l0_h2h_bias", "l0_t0_i2h", "l0_t0_slice", "l0_t0_out",
                        "l0_begin_state_1"}) {
    EXPECT_EQ(dict[n]["__ctx_group__"], "layer0") << n;
  }
  EXPECT_EQ(dict["l0_t0_data"].count("__ctx_group__"), 0u);
}

TEST(RNNCell, ErrorsNameTheCell) {
  NameScope names;
  rnn::LSTMCell cell(4, "l_");
  try {
    cell.Unroll(3, StepInputs("l_", 2));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'l_' Unroll: expected 3 inputs"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(cell(Symbol::Variable("x"), {Symbol::Variable("h")}), Error);
  EXPECT_THROW(rnn::GRUCell(0), Error);
  EXPECT_THROW(rnn::DropoutCell(1.5), Error);
}

}  // namespace
}  // namespace loom
