// The built-in networks (mlp, lenet, resnet) and symbol files.
#include "loom/train/models.h"

#include <string>

#include "loom/operators/symbol_ops.h"
#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

const char* const kBuiltins = "mlp, lenet, resnet";

void CheckActivation(const std::string& act) {
  LOOM_CHECK_TYPED(
      ConfigError,
      act == "relu" || act == "sigmoid" || act == "tanh" || act == "softrelu" || act == "softsign",
      "model.activation: expected one of relu, sigmoid, tanh, softrelu, softsign but "
      "got '",
      act, "'");
}

Symbol Head(Symbol x, const proto::Model& model, const std::string& fc_name) {
  if (model.dropout() > 0) x = op::Dropout(x, {.p = model.dropout()}, "dropout");
  x = op::FullyConnected(x, {.num_hidden = model.num_classes()}, fc_name);
  return op::SoftmaxOutput(x, {}, "softmax");
}

Symbol Mlp(const proto::Model& model) {
  std::vector<int64_t> hidden(model.hidden().begin(), model.hidden().end());
  if (hidden.empty()) hidden = {256, 128};
  Symbol x = Symbol::Variable("data");
  for (size_t i = 0; i < hidden.size(); ++i) {
    LOOM_CHECK_TYPED(ConfigError, hidden[i] > 0, "model.hidden[", i,
                     "]: expected a layer size >= 1 but got ", hidden[i]);
    const std::string n = std::to_string(i + 1);
    x = op::FullyConnected(x, {.num_hidden = hidden[i]}, "fc" + n);
    x = op::Activation(x, {.act_type = model.activation()}, model.activation() + n);
  }
  return Head(x, model, "fc" + std::to_string(hidden.size() + 1));
}

void CheckImages(const proto::Model& model, const Shape& sample_shape) {
  LOOM_CHECK_TYPED(ConfigError, sample_shape.ndim() == 3, "model.builtin ", model.builtin(),
                   ": expected image samples (channels, height, width) but the data gives "
                   "samples of shape ",
                   sample_shape.ToString(),
                   " (set data.flatten: false, or give a synthetic/csv source a 3-D shape)");
}

// MXNet's example LeNet (example/image-classification/symbols/lenet.py), with optional
// BatchNorm after each convolution.
Symbol LeNet(const proto::Model& model, const Shape& sample_shape) {
  CheckImages(model, sample_shape);
  LOOM_CHECK_TYPED(ConfigError, sample_shape[1] >= 16 && sample_shape[2] >= 16,
                   "model.builtin lenet: expected images of at least 16x16 but got ",
                   sample_shape.ToString());
  const std::string act = model.activation();
  Symbol x = Symbol::Variable("data");
  for (int i = 1; i <= 2; ++i) {
    const std::string n = std::to_string(i);
    x = op::Convolution(x, {.kernel = Shape{5, 5}, .num_filter = i == 1 ? 20 : 50}, "conv" + n);
    if (model.batch_norm()) x = op::BatchNorm(x, {.fix_gamma = false}, "bn" + n);
    x = op::Activation(x, {.act_type = act}, act + n);
    x = op::Pooling(x,
                    {.kernel = Shape{2, 2}, .pool_type = std::string("max"), .stride = Shape{2, 2}},
                    "pool" + n);
  }
  x = op::Flatten(x, "flatten");
  x = op::FullyConnected(x, {.num_hidden = 500}, "fc1");
  x = op::Activation(x, {.act_type = act}, act + "3");
  return Head(x, model, "fc2");
}

Symbol Bn(const Symbol& x, const std::string& name) {
  return op::BatchNorm(x, {.eps = 2e-5, .momentum = 0.9, .fix_gamma = false}, name);
}

Symbol Conv(const Symbol& x, int64_t filters, int64_t kernel, int64_t stride, int64_t pad,
            bool no_bias, const std::string& name) {
  return op::Convolution(x,
                         {.kernel = Shape{kernel, kernel},
                          .num_filter = filters,
                          .stride = Shape{stride, stride},
                          .pad = Shape{pad, pad},
                          .no_bias = no_bias},
                         name);
}

// resnet.py's residual_unit without bottleneck: BN-relu-conv3x3-BN-relu-conv3x3 plus the input,
// or a 1x1 projection of the first activation when the shape changes.
Symbol ResidualUnit(const Symbol& data, int64_t filters, int64_t stride, bool dim_match, bool bn,
                    const std::string& name) {
  Symbol act1 =
      op::Activation(bn ? Bn(data, name + "_bn1") : data, {.act_type = "relu"}, name + "_relu1");
  Symbol conv1 = Conv(act1, filters, 3, stride, 1, bn, name + "_conv1");
  Symbol act2 =
      op::Activation(bn ? Bn(conv1, name + "_bn2") : conv1, {.act_type = "relu"}, name + "_relu2");
  Symbol conv2 = Conv(act2, filters, 3, 1, 1, bn, name + "_conv2");
  Symbol shortcut = dim_match ? data : Conv(act1, filters, 1, stride, 0, bn, name + "_sc");
  return Symbol::Op("elemwise_add").Input("lhs", conv2).Input("rhs", shortcut).Name(name + "_plus");
}

// resnet.py for CIFAR-sized inputs: 3 stages with width, 2 width, 4 width channels.
Symbol ResNet(const proto::Model& model, const Shape& sample_shape) {
  CheckImages(model, sample_shape);
  LOOM_CHECK_TYPED(ConfigError, model.resnet_blocks() >= 1,
                   "model.resnet_blocks: expected >= 1 but got ", model.resnet_blocks());
  LOOM_CHECK_TYPED(ConfigError, model.resnet_width() >= 1,
                   "model.resnet_width: expected >= 1 but got ", model.resnet_width());
  LOOM_CHECK_TYPED(ConfigError, sample_shape[1] >= 8 && sample_shape[2] >= 8,
                   "model.builtin resnet: expected images of at least 8x8 but got ",
                   sample_shape.ToString());
  const bool bn = model.batch_norm();
  const int64_t width = model.resnet_width();
  Symbol x = Symbol::Variable("data");
  if (bn) {
    x = op::BatchNorm(x, {.eps = 2e-5, .momentum = 0.9, .fix_gamma = true}, "bn_data");
  }
  x = Conv(x, width, 3, 1, 1, bn, "conv0");
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t filters = width << stage;
    const std::string prefix = "stage" + std::to_string(stage + 1) + "_unit";
    x = ResidualUnit(x, filters, stage == 0 ? 1 : 2, false, bn, prefix + "1");
    for (int u = 1; u < model.resnet_blocks(); ++u) {
      x = ResidualUnit(x, filters, 1, true, bn, prefix + std::to_string(u + 1));
    }
  }
  if (bn) x = Bn(x, "bn1");
  x = op::Activation(x, {.act_type = "relu"}, "relu1");
  x = op::Pooling(x, {.kernel = Shape{1, 1}, .pool_type = std::string("avg"), .global_pool = true},
                  "pool1");
  x = op::Flatten(x, "flatten0");
  return Head(x, model, "fc1");
}

}  // namespace

Symbol BuildModel(const proto::Model& model, const Shape& sample_shape) {
  const bool has_builtin = model.has_builtin() && !model.builtin().empty();
  const bool has_symbol = model.has_symbol() && !model.symbol().empty();
  LOOM_CHECK_TYPED(ConfigError, has_builtin != has_symbol,
                   "model: expected exactly one of model.builtin (", kBuiltins,
                   ") and model.symbol (a symbol JSON file) but got ",
                   has_builtin ? "both" : "neither");
  if (has_symbol) return Symbol::Load(model.symbol());
  LOOM_CHECK_TYPED(ConfigError, model.num_classes() >= 1,
                   "model.num_classes: expected >= 1 but got ", model.num_classes());
  LOOM_CHECK_TYPED(ConfigError, model.dropout() >= 0 && model.dropout() < 1,
                   "model.dropout: expected a probability in [0, 1) but got ", model.dropout());
  CheckActivation(model.activation());
  const std::string& name = model.builtin();
  if (name == "mlp") return Mlp(model);
  if (name == "lenet") return LeNet(model, sample_shape);
  if (name == "resnet") return ResNet(model, sample_shape);
  throw ConfigError("model.builtin: expected one of " + std::string(kBuiltins) + " but got '" +
                    name + "'");
}

bool ModelWantsFlatData(const proto::Model& model) {
  return model.has_builtin() && model.builtin() == "mlp";
}

}  // namespace loom::train
