// RNN's parameters, shared by the operator's registration (rnn.cc) and its GPU kernels
// (operators/cuda/). Usage: attrs.param<...>() in a kernel of the operator.
#pragma once

#include "nn_util.h"

namespace loom::ops {

struct RNNParam {
  enum class Mode { kRnnRelu, kRnnTanh, kLstm, kGru };
  int64_t state_size = 0;
  int64_t num_layers = 0;
  bool bidirectional = false;
  Mode mode = Mode::kLstm;
  float p = 0;
  bool state_outputs = false;
  std::optional<int64_t> projection_size;
  std::optional<double> lstm_state_clip_min, lstm_state_clip_max;
  bool lstm_state_clip_nan = false;
  bool use_sequence_length = false;

  static void Declare(ParamDeclarer<RNNParam>& d) {
    using P = RNNParam;
    d("state_size", &P::state_size).Min(1).Describe("Size of the hidden state.");
    d("num_layers", &P::num_layers).Min(1).Describe("Number of stacked layers.");
    d("bidirectional", &P::bidirectional)
        .Default(false)
        .Describe("Also run each layer backwards in time and concatenate.");
    d("mode", &P::mode)
        .Enum<Mode>({{"rnn_relu", Mode::kRnnRelu},
                     {"rnn_tanh", Mode::kRnnTanh},
                     {"lstm", Mode::kLstm},
                     {"gru", Mode::kGru}})
        .Describe("The cell: vanilla RNN with relu or tanh, LSTM or GRU.");
    d("p", &P::p).Default(0).Min(0).Max(1).Describe("Dropout probability between layers.");
    d("state_outputs", &P::state_outputs)
        .Default(false)
        .Describe("Also output the final states (state_output, and statecell_output for LSTM).");
    d("projection_size", &P::projection_size)
        .Default(std::nullopt)
        .Min(1)
        .Describe("LSTM with a projection of the hidden state to this size (LSTMP).");
    d("lstm_state_clip_min", &P::lstm_state_clip_min)
        .Default(std::nullopt)
        .Describe("Minimum of the LSTM cell state (clipping off unless both bounds are set).");
    d("lstm_state_clip_max", &P::lstm_state_clip_max)
        .Default(std::nullopt)
        .Describe("Maximum of the LSTM cell state.");
    d("lstm_state_clip_nan", &P::lstm_state_clip_nan)
        .Default(false)
        .Describe("Clip NaN cell states to the bounds instead of propagating them.");
    d("use_sequence_length", &P::use_sequence_length)
        .Default(false)
        .Describe("Take an input sequence_length (N,) with each sequence's valid length.");
  }

  int64_t directions() const { return bidirectional ? 2 : 1; }
  int64_t gates() const {
    switch (mode) {
      case Mode::kLstm:
        return 4;
      case Mode::kGru:
        return 3;
      default:
        return 1;
    }
  }
  // Size of the state passed between steps: the projection when there is one.
  int64_t hidden_size() const { return projection_size.value_or(state_size); }
  // Length of the flat parameter vector for input size `input` (MXNet's GetRnnParamSize):
  // per layer and direction, input and recurrent weights for every gate, two biases, and the
  // projection matrix when there is one.
  int64_t ParamSize(int64_t input) const {
    const int64_t d = directions(), h = hidden_size();
    const int64_t g = state_size * gates() * d;
    int64_t size = (input + h + 2) * g + (num_layers - 1) * (h * d + h + 2) * g;
    if (projection_size) size += *projection_size * state_size * num_layers * d;
    return size;
  }
};

}  // namespace loom::ops
