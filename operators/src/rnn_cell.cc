// Recurrent cells (loom/operators/rnn_cell.h): graphs and names as MXNet 1.x's mx.rnn builds them.
#include "loom/operators/rnn_cell.h"

#include <string>

#include "loom/core/op_param.h"
#include "loom/operators/symbol_ops.h"
#include "loom/scheduler/error.h"

namespace loom::rnn {
namespace {

Symbol NamedActivation(const Symbol& data, const std::string& act_type, const std::string& name) {
  return op::Activation(data, {.act_type = act_type}, name);
}

Symbol NamedBinary(const char* op_name, const Symbol& lhs, const Symbol& rhs,
                   const std::string& name) {
  return Symbol::Op(op_name).Input("lhs", lhs).Input("rhs", rhs).Name(name).Build();
}

void CheckStates(const std::string& cell, const std::vector<Symbol>& states, size_t expected) {
  LOOM_CHECK(states.size() == expected, "RNN cell '", cell, "': expected ", expected,
             " state(s) but got ", states.size());
}

}  // namespace

StateFactory ZerosState(DType dtype) {
  return [dtype](const std::string& name, const StateInfo& info) {
    OpCall call = Symbol::Op("_zeros");
    call.Param("shape", info.shape);
    if (dtype != DType::kFloat32) call.Param("dtype", dtype);
    return call.Attr("__layout__", info.layout).Name(name).Build();
  };
}

StateFactory VariableState() {
  return [](const std::string& name, const StateInfo& info) {
    return Symbol::Variable(name, {.attr = {{"__layout__", info.layout}}, .shape = info.shape});
  };
}

// ---- RNNCellBase ----

RNNCellBase::RNNCellBase(std::string prefix) : prefix_(std::move(prefix)) {}

Symbol RNNCellBase::Param(const std::string& name, const VariableOptions& options) {
  const std::string full = prefix_ + name;
  auto it = params_.find(full);
  if (it == params_.end()) it = params_.emplace(full, Symbol::Variable(full, options)).first;
  return it->second;
}

std::string RNNCellBase::NextStepName() {
  ++counter_;
  return prefix_ + "t" + std::to_string(counter_) + "_";
}

std::vector<Symbol> RNNCellBase::BeginState(const StateFactory& func) {
  const StateFactory make = func ? func : ZerosState();
  std::vector<Symbol> states;
  for (const StateInfo& info : state_info()) {
    ++init_counter_;
    states.push_back(make(prefix_ + "begin_state_" + std::to_string(init_counter_), info));
  }
  return states;
}

void RNNCellBase::Reset() {
  counter_ = -1;
  init_counter_ = -1;
}

std::pair<std::vector<Symbol>, std::vector<Symbol>> RNNCellBase::Unroll(
    int length, std::vector<Symbol> inputs, std::vector<Symbol> begin_state) {
  Reset();
  LOOM_CHECK(static_cast<int>(inputs.size()) == length, "RNN cell '", prefix_,
             "' Unroll: expected ", length, " inputs (one per step) but got ", inputs.size());
  std::vector<Symbol> states = begin_state.empty() ? BeginState() : std::move(begin_state);
  CheckStates(prefix_, states, state_info().size());
  std::vector<Symbol> outputs;
  outputs.reserve(inputs.size());
  for (const Symbol& input : inputs) {
    auto [output, next] = (*this)(input, states);
    outputs.push_back(std::move(output));
    states = std::move(next);
  }
  return {std::move(outputs), std::move(states)};
}

// ---- ProjectionCell ----

ProjectionCell::ProjectionCell(const char* kind, int64_t num_hidden, int64_t gates,
                               std::string prefix, const std::optional<std::string>& i2h_bias_init)
    : RNNCellBase(std::move(prefix)), num_hidden_(num_hidden), gates_(gates) {
  LOOM_CHECK(num_hidden > 0, kind, " '", prefix_, "': expected num_hidden > 0 but got ",
             num_hidden);
  i2h_weight_ = Param("i2h_weight");
  i2h_bias_ = Param("i2h_bias", {.init = i2h_bias_init});
  h2h_weight_ = Param("h2h_weight");
  h2h_bias_ = Param("h2h_bias");
}

std::pair<Symbol, Symbol> ProjectionCell::Project(const Symbol& input, const Symbol& h,
                                                  const std::string& i2h_name,
                                                  const std::string& h2h_name) const {
  const int64_t outputs = gates_ * num_hidden_;
  return {op::FullyConnected(
              input, {.num_hidden = outputs, .weight = i2h_weight_, .bias = i2h_bias_}, i2h_name),
          op::FullyConnected(h, {.num_hidden = outputs, .weight = h2h_weight_, .bias = h2h_bias_},
                             h2h_name)};
}

// ---- RNNCell ----

RNNCell::RNNCell(int64_t num_hidden, std::string activation, std::string prefix)
    : ProjectionCell("RNNCell", num_hidden, 1, std::move(prefix)),
      activation_(std::move(activation)) {}

std::vector<StateInfo> RNNCell::state_info() const { return {{Shape{0, num_hidden_}, "NC"}}; }

std::pair<Symbol, std::vector<Symbol>> RNNCell::operator()(const Symbol& input,
                                                           const std::vector<Symbol>& states) {
  CheckStates(prefix_, states, 1);
  const std::string name = NextStepName();
  auto [i2h, h2h] = Project(input, states[0], name + "i2h", name + "h2h");
  Symbol output = NamedActivation(i2h + h2h, activation_, name + "out");
  return {output, {output}};
}

// ---- LSTMCell ----

// MXNet's init.LSTMBias(forget_bias).dumps(): json.dumps of ["lstmbias", {"forget_bias": x}].
LSTMCell::LSTMCell(int64_t num_hidden, std::string prefix, double forget_bias)
    : ProjectionCell("LSTMCell", num_hidden, 4, std::move(prefix),
                     "[\"lstmbias\", {\"forget_bias\": " + Scalar(forget_bias).ToString() + "}]") {}

std::vector<StateInfo> LSTMCell::state_info() const {
  return {{Shape{0, num_hidden_}, "NC"}, {Shape{0, num_hidden_}, "NC"}};
}

std::pair<Symbol, std::vector<Symbol>> LSTMCell::operator()(const Symbol& input,
                                                            const std::vector<Symbol>& states) {
  CheckStates(prefix_, states, 2);
  const std::string name = NextStepName();
  auto [i2h, h2h] = Project(input, states[0], name + "i2h", name + "h2h");
  Symbol gates = i2h + h2h;
  Symbol slice = op::SliceChannel(gates, {.num_outputs = 4}, name + "slice");
  Symbol in_gate = NamedActivation(slice[0], "sigmoid", name + "i");
  Symbol forget_gate = NamedActivation(slice[1], "sigmoid", name + "f");
  Symbol in_transform = NamedActivation(slice[2], "tanh", name + "c");
  Symbol out_gate = NamedActivation(slice[3], "sigmoid", name + "o");
  Symbol next_c =
      NamedBinary("_plus", forget_gate * states[1], in_gate * in_transform, name + "state");
  Symbol next_h =
      NamedBinary("_mul", out_gate, op::Activation(next_c, {.act_type = "tanh"}), name + "out");
  return {next_h, {next_h, next_c}};
}

// ---- GRUCell ----

GRUCell::GRUCell(int64_t num_hidden, std::string prefix)
    : ProjectionCell("GRUCell", num_hidden, 3, std::move(prefix)) {}

std::vector<StateInfo> GRUCell::state_info() const { return {{Shape{0, num_hidden_}, "NC"}}; }

std::pair<Symbol, std::vector<Symbol>> GRUCell::operator()(const Symbol& input,
                                                           const std::vector<Symbol>& states) {
  CheckStates(prefix_, states, 1);
  // MXNet names these '%s_i2h' with name = '<prefix>t<k>_', hence the double underscore.
  const std::string name = NextStepName();
  const Symbol& prev_h = states[0];
  auto [i2h, h2h] = Project(input, prev_h, name + "_i2h", name + "_h2h");
  Symbol i2h_slice = op::SliceChannel(i2h, {.num_outputs = 3}, name + "_i2h_slice");
  Symbol h2h_slice = op::SliceChannel(h2h, {.num_outputs = 3}, name + "_h2h_slice");
  Symbol reset_gate = NamedActivation(i2h_slice[0] + h2h_slice[0], "sigmoid", name + "_r_act");
  Symbol update_gate = NamedActivation(i2h_slice[1] + h2h_slice[1], "sigmoid", name + "_z_act");
  Symbol next_h_tmp =
      NamedActivation(i2h_slice[2] + reset_gate * h2h_slice[2], "tanh", name + "_h_act");
  Symbol next_h =
      NamedBinary("_plus", (1.0 - update_gate) * next_h_tmp, update_gate * prev_h, name + "out");
  return {next_h, {next_h}};
}

// ---- DropoutCell ----

DropoutCell::DropoutCell(double p, std::string prefix) : RNNCellBase(std::move(prefix)), p_(p) {
  LOOM_CHECK(p >= 0 && p < 1, "DropoutCell '", prefix_, "': expected 0 <= p < 1 but got ", p);
}

std::pair<Symbol, std::vector<Symbol>> DropoutCell::operator()(const Symbol& input,
                                                               const std::vector<Symbol>& states) {
  ++counter_;
  if (p_ > 0) return {op::Dropout(input, {.p = p_}), states};
  return {input, states};
}

// ---- SequentialRNNCell ----

SequentialRNNCell& SequentialRNNCell::Add(std::shared_ptr<RNNCellBase> cell) {
  LOOM_CHECK(cell != nullptr, "SequentialRNNCell::Add: expected a cell but got null");
  cells_.push_back(std::move(cell));
  return *this;
}

std::vector<StateInfo> SequentialRNNCell::state_info() const {
  std::vector<StateInfo> info;
  for (const auto& cell : cells_) {
    auto more = cell->state_info();
    info.insert(info.end(), more.begin(), more.end());
  }
  return info;
}

std::vector<Symbol> SequentialRNNCell::BeginState(const StateFactory& func) {
  std::vector<Symbol> states;
  for (const auto& cell : cells_) {
    auto more = cell->BeginState(func);
    states.insert(states.end(), more.begin(), more.end());
  }
  return states;
}

std::map<std::string, Symbol> SequentialRNNCell::params() const {
  std::map<std::string, Symbol> all;
  for (const auto& cell : cells_) {
    auto more = cell->params();
    all.insert(more.begin(), more.end());
  }
  return all;
}

void SequentialRNNCell::Reset() {
  RNNCellBase::Reset();
  for (const auto& cell : cells_) cell->Reset();
}

std::pair<Symbol, std::vector<Symbol>> SequentialRNNCell::operator()(
    const Symbol& input, const std::vector<Symbol>& states) {
  CheckStates("sequential", states, state_info().size());
  ++counter_;
  Symbol x = input;
  std::vector<Symbol> next_states;
  size_t p = 0;
  for (const auto& cell : cells_) {
    const size_t n = cell->state_info().size();
    std::vector<Symbol> state(states.begin() + p, states.begin() + p + n);
    p += n;
    auto [out, next] = (*cell)(x, state);
    x = std::move(out);
    next_states.insert(next_states.end(), next.begin(), next.end());
  }
  return {x, next_states};
}

std::pair<std::vector<Symbol>, std::vector<Symbol>> SequentialRNNCell::Unroll(
    int length, std::vector<Symbol> inputs, std::vector<Symbol> begin_state) {
  Reset();
  LOOM_CHECK(static_cast<int>(inputs.size()) == length, "SequentialRNNCell Unroll: expected ",
             length, " inputs (one per step) but got ", inputs.size());
  if (begin_state.empty()) begin_state = BeginState();
  CheckStates("sequential", begin_state, state_info().size());
  std::vector<Symbol> next_states;
  size_t p = 0;
  for (const auto& cell : cells_) {
    const size_t n = cell->state_info().size();
    std::vector<Symbol> states(begin_state.begin() + p, begin_state.begin() + p + n);
    p += n;
    auto [outputs, last] = cell->Unroll(length, std::move(inputs), std::move(states));
    inputs = std::move(outputs);
    next_states.insert(next_states.end(), last.begin(), last.end());
  }
  return {std::move(inputs), std::move(next_states)};
}

}  // namespace loom::rnn
