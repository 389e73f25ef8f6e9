// Typed C++ wrappers for the common operators: parameters as designated initializers, the
// operator's inputs as optional fields, names as MXNet gives them.
//
//   using namespace loom;
//   Symbol data = Symbol::Variable("data");
//   Symbol fc1 = op::FullyConnected(data, {.num_hidden = 128}, "fc1");
//   Symbol act = op::Activation(fc1, {.act_type = "relu"}, "relu1");
//   Symbol w = Symbol::Variable("myweight");
//   Symbol fc2 = op::FullyConnected(act, {.num_hidden = 10, .weight = w}, "fc2");
//   Symbol out = op::SoftmaxOutput(fc2, {}, "out");      // arguments ..., out_label
//
// Only the fields you set are written into the node (as MXNet's Python front end writes only the
// keyword arguments given), so saved files match MXNet's. Unset inputs become variables
// `<name>_<input>`; `attr` adds attributes (copied to those variables too). An empty name
// takes the next automatic one (`fullyconnected0`). Each wrapper is Symbol::Op(...) underneath
// and needs loom_operators linked. Thread safety as Symbol::Op.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/core/shape.h"
#include "loom/core/symbol.h"

namespace loom::op {

struct FullyConnectedArgs {
  int64_t num_hidden = 0;
  std::optional<bool> no_bias{};
  std::optional<bool> flatten{};
  std::optional<Symbol> weight{}, bias{};
  StrMap attr{};
};
Symbol FullyConnected(const Symbol& data, const FullyConnectedArgs& args,
                      std::string_view name = {});

struct ConvolutionArgs {
  Shape kernel{};
  int64_t num_filter = 0;
  std::optional<Shape> stride{}, dilate{}, pad{};
  std::optional<int64_t> num_group{};
  std::optional<int64_t> workspace{};
  std::optional<bool> no_bias{};
  std::optional<std::string> cudnn_tune{};
  std::optional<bool> cudnn_off{};
  std::optional<std::string> layout{};
  std::optional<Symbol> weight{}, bias{};
  StrMap attr{};
};
Symbol Convolution(const Symbol& data, const ConvolutionArgs& args, std::string_view name = {});

struct ActivationArgs {
  std::string act_type{};  ///< relu, sigmoid, tanh, softrelu, softsign
  StrMap attr{};
};
Symbol Activation(const Symbol& data, const ActivationArgs& args, std::string_view name = {});

struct SoftmaxOutputArgs {
  std::optional<double> grad_scale{};
  std::optional<double> ignore_label{};
  std::optional<bool> multi_output{};
  std::optional<bool> use_ignore{};
  std::optional<bool> preserve_shape{};
  std::optional<std::string> normalization{};  ///< null, batch, valid
  std::optional<bool> out_grad{};
  std::optional<double> smooth_alpha{};
  std::optional<Symbol> label{};
  StrMap attr{};
};
Symbol SoftmaxOutput(const Symbol& data, const SoftmaxOutputArgs& args, std::string_view name = {});

struct PoolingArgs {
  std::optional<Shape> kernel{};
  std::optional<std::string> pool_type{};  ///< max, avg, sum, lp
  std::optional<bool> global_pool{};
  std::optional<std::string> pooling_convention{};  ///< valid, full, same
  std::optional<Shape> stride{}, pad{};
  StrMap attr{};
};
Symbol Pooling(const Symbol& data, const PoolingArgs& args, std::string_view name = {});

struct BatchNormArgs {
  std::optional<double> eps{};
  std::optional<double> momentum{};
  std::optional<bool> fix_gamma{};
  std::optional<bool> use_global_stats{};
  std::optional<bool> output_mean_var{};
  std::optional<int64_t> axis{};
  std::optional<Symbol> gamma{}, beta{}, moving_mean{}, moving_var{};
  StrMap attr{};
};
Symbol BatchNorm(const Symbol& data, const BatchNormArgs& args, std::string_view name = {});

struct DropoutArgs {
  std::optional<double> p{};
  std::optional<std::string> mode{};  ///< training, always
  StrMap attr{};
};
Symbol Dropout(const Symbol& data, const DropoutArgs& args, std::string_view name = {});

Symbol Flatten(const Symbol& data, std::string_view name = {});

struct ReshapeArgs {
  Shape shape{};  ///< with MXNet's codes 0, -1, -2, -3, -4
  std::optional<bool> reverse{};
  StrMap attr{};
};
Symbol Reshape(const Symbol& data, const ReshapeArgs& args, std::string_view name = {});

/// Concatenation along `dim` (default 1); num_args is set from the inputs.
Symbol Concat(const std::vector<Symbol>& inputs, std::optional<int64_t> dim = std::nullopt,
              std::string_view name = {});

struct SliceChannelArgs {
  int64_t num_outputs = 0;
  std::optional<int64_t> axis{};
  std::optional<bool> squeeze_axis{};
  StrMap attr{};
};
Symbol SliceChannel(const Symbol& data, const SliceChannelArgs& args, std::string_view name = {});

struct EmbeddingArgs {
  int64_t input_dim = 0;
  int64_t output_dim = 0;
  std::optional<Symbol> weight{};
  StrMap attr{};
};
Symbol Embedding(const Symbol& data, const EmbeddingArgs& args, std::string_view name = {});

}  // namespace loom::op
