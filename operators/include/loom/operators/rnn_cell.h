// Recurrent cells that build unrolled graphs step by step, with MXNet 1.x's `mx.rnn` names:
// RNNCell, LSTMCell, GRUCell, SequentialRNNCell and DropoutCell.
//
//   using namespace loom;
//   rnn::LSTMCell cell(100, "lstm_");                 // lstm_i2h_weight, ..., created here
//   std::vector<Symbol> inputs;
//   for (int t = 0; t < 3; ++t) inputs.push_back(Symbol::Variable("lstm_t" + std::to_string(t) +
//                                                                 "_data"));
//   auto [outputs, states] = cell.Unroll(3, inputs);  // lstm_t0_out, lstm_t1_out, lstm_t2_out
//   Symbol net = Symbol::Group(outputs);
//
// Names follow MXNet: parameters `<prefix>i2h_weight`, `<prefix>i2h_bias`, `<prefix>h2h_weight`,
// `<prefix>h2h_bias`, created once per cell and shared by every step; step k's operators are
// `<prefix>t<k>_i2h`, `<prefix>t<k>_h2h`, ..., its output `<prefix>t<k>_out`; begin states are
// `<prefix>begin_state_<i>` (by default `_zeros` of shape (0, num_hidden), the batch size coming
// from the consumers, attribute __layout__ = NC).
//
// Model parallelism: parameters take the AttrScope active when the cell is constructed; the
// operators of a step take the AttrScope active when the step is built (as in MXNet). So, to
// put a layer on a ctx_group, construct AND unroll that layer's cell inside its scope:
//   {
//     AttrScope scope({{"ctx_group", "layer0"}});
//     rnn::LSTMCell layer0(H, "l0_");
//     x = layer0.Unroll(T, x).first;   // l0_t<k>_out, placed with group layer0
//   }
//
// Thread safety: a cell is a plain object holding a step counter; use one from one thread at a
// time. Building symbols uses the calling thread's NameManager and AttrScope.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/shape.h"
#include "loom/core/symbol.h"

namespace loom::rnn {

/// What one recurrent state looks like: shape (0, num_hidden) (0 = batch, unknown) and layout.
struct StateInfo {
  Shape shape;
  std::string layout = "NC";
};

/// Creates the begin state named `name` described by `info`.
using StateFactory = std::function<Symbol(const std::string& name, const StateInfo& info)>;

/// MXNet's default (`symbol.zeros`): a `_zeros` node with parameter shape = info.shape (and
/// dtype when not float32) and attribute __layout__.
StateFactory ZerosState(DType dtype = DType::kFloat32);
/// `symbol.Variable`: a variable with __shape__ = info.shape and attribute __layout__, to be fed
/// by the user (the model-parallel LSTM's init_c / init_h).
StateFactory VariableState();

/// Base of every cell: a step function plus begin states, parameters and unrolling.
class RNNCellBase {
 public:
  virtual ~RNNCellBase() = default;

  /// One step: consumes `input` and the current states, returns the output and the next states.
  /// Increments the step counter (step k names its operators `<prefix>t<k>_...`).
  virtual std::pair<Symbol, std::vector<Symbol>> operator()(const Symbol& input,
                                                            const std::vector<Symbol>& states) = 0;

  /// The states this cell carries between steps, in order.
  virtual std::vector<StateInfo> state_info() const = 0;

  /// One begin state per state_info() entry, named `<prefix>begin_state_<i>` where i counts
  /// the begin states made since the last Reset(). `func` defaults to ZerosState().
  virtual std::vector<Symbol> BeginState(const StateFactory& func = {});

  /// The parameter variables by name (sorted), e.g. lstm_h2h_bias ... lstm_i2h_weight.
  virtual std::map<std::string, Symbol> params() const { return params_; }

  /// Resets the step and begin-state counters (Unroll does this first).
  virtual void Reset();

  /// Resets, then applies the cell `length` times to `inputs` (one symbol per step) starting
  /// from `begin_state` (BeginState() when empty). Returns the outputs per step and the last
  /// states. Throws loom::Error when inputs.size() != length or the begin states do not match
  /// state_info().
  virtual std::pair<std::vector<Symbol>, std::vector<Symbol>> Unroll(
      int length, std::vector<Symbol> inputs, std::vector<Symbol> begin_state = {});

  const std::string& prefix() const { return prefix_; }

 protected:
  explicit RNNCellBase(std::string prefix);
  /// The parameter `<prefix><name>`, created on first use (applies the current AttrScope).
  Symbol Param(const std::string& name, const VariableOptions& options = {});
  /// Names step counter_ after incrementing it: `<prefix>t<k>_`.
  std::string NextStepName();

  std::string prefix_;
  std::map<std::string, Symbol> params_;
  int counter_ = -1;
  int init_counter_ = -1;
};

/// A cell built from an input-to-hidden and a hidden-to-hidden FullyConnected layer of
/// gates * num_hidden outputs, with the parameters <prefix>{i2h,h2h}_{weight,bias}.
class ProjectionCell : public RNNCellBase {
 protected:
  /// kind names the cell in messages ("LSTMCell"); i2h_bias_init: the i2h bias's __init__.
  ProjectionCell(const char* kind, int64_t num_hidden, int64_t gates, std::string prefix,
                 const std::optional<std::string>& i2h_bias_init = std::nullopt);
  /// FullyConnected(input) and FullyConnected(h), named i2h_name and h2h_name.
  std::pair<Symbol, Symbol> Project(const Symbol& input, const Symbol& h,
                                    const std::string& i2h_name, const std::string& h2h_name) const;

  int64_t num_hidden_;

 private:
  int64_t gates_;
  Symbol i2h_weight_, i2h_bias_, h2h_weight_, h2h_bias_;
};

/// Vanilla RNN: out = act(FC(input) + FC(h)); one state.
class RNNCell : public ProjectionCell {
 public:
  explicit RNNCell(int64_t num_hidden, std::string activation = "tanh",
                   std::string prefix = "rnn_");
  std::pair<Symbol, std::vector<Symbol>> operator()(const Symbol& input,
                                                    const std::vector<Symbol>& states) override;
  std::vector<StateInfo> state_info() const override;

 private:
  std::string activation_;
};

/// LSTM with gates in MXNet's order i, f, c (candidate), o; states [h, c]. The i2h bias carries
/// __init__ = ["lstmbias", {"forget_bias": <forget_bias>}] (MXNet's LSTMBias initializer).
class LSTMCell : public ProjectionCell {
 public:
  explicit LSTMCell(int64_t num_hidden, std::string prefix = "lstm_", double forget_bias = 1.0);
  std::pair<Symbol, std::vector<Symbol>> operator()(const Symbol& input,
                                                    const std::vector<Symbol>& states) override;
  std::vector<StateInfo> state_info() const override;
};

/// GRU with gates r, z, n (MXNet's and cuDNN's): n = tanh(i2h_n + r * h2h_n),
/// h' = (1 - z) * n + z * h; one state.
class GRUCell : public ProjectionCell {
 public:
  explicit GRUCell(int64_t num_hidden, std::string prefix = "gru_");
  std::pair<Symbol, std::vector<Symbol>> operator()(const Symbol& input,
                                                    const std::vector<Symbol>& states) override;
  std::vector<StateInfo> state_info() const override;
};

/// Applies Dropout(p) to the input (when p > 0); no state, no parameters.
class DropoutCell : public RNNCellBase {
 public:
  explicit DropoutCell(double p, std::string prefix = "dropout_");
  std::pair<Symbol, std::vector<Symbol>> operator()(const Symbol& input,
                                                    const std::vector<Symbol>& states) override;
  std::vector<StateInfo> state_info() const override { return {}; }

 private:
  double p_;
};

/// A stack of cells: the output of each is the input of the next; the states are the
/// concatenation of the children's. Unroll unrolls the children one after the other (each over
/// the whole sequence), as MXNet does.
class SequentialRNNCell : public RNNCellBase {
 public:
  SequentialRNNCell() : RNNCellBase("") {}
  /// Appends a cell; returns *this.
  SequentialRNNCell& Add(std::shared_ptr<RNNCellBase> cell);
  const std::vector<std::shared_ptr<RNNCellBase>>& cells() const { return cells_; }

  std::pair<Symbol, std::vector<Symbol>> operator()(const Symbol& input,
                                                    const std::vector<Symbol>& states) override;
  std::vector<StateInfo> state_info() const override;
  std::vector<Symbol> BeginState(const StateFactory& func = {}) override;
  std::map<std::string, Symbol> params() const override;
  void Reset() override;
  std::pair<std::vector<Symbol>, std::vector<Symbol>> Unroll(
      int length, std::vector<Symbol> inputs, std::vector<Symbol> begin_state = {}) override;

 private:
  std::vector<std::shared_ptr<RNNCellBase>> cells_;
};

}  // namespace loom::rnn
