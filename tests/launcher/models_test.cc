// The built-in networks: layer names and shapes as MXNet's example symbols have them (hand-computed
// from the layer arithmetic), errors naming the config key, and symbol files.
#include "loom/train/models.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "loom/core/executor.h"
#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Shape of each argument / aux state by name after inference from the data shape.
std::map<std::string, Shape> Shapes(const Symbol& net, const Shape& data, bool aux = false) {
  auto inferred = net.InferShape({{"data", data}});
  EXPECT_TRUE(inferred.has_value());
  std::map<std::string, Shape> out;
  const auto names = aux ? net.ListAuxiliaryStates() : net.ListArguments();
  const auto& shapes = aux ? inferred->auxiliary_states : inferred->arguments;
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = shapes[i];
  return out;
}

Shape OutputShape(const Symbol& net, const Shape& data) {
  return net.InferShape({{"data", data}})->outputs.at(0);
}

TEST(Models, MlpDefaultsTo256And128) {
  proto::Model m;
  m.set_builtin("mlp");
  const Symbol net = BuildModel(m, Shape{784});
  EXPECT_THAT(net.ListArguments(),
              ElementsAre("data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "fc3_weight",
                          "fc3_bias", "softmax_label"));
  auto s = Shapes(net, Shape{32, 784});
  EXPECT_EQ(s["fc1_weight"], (Shape{256, 784}));
  EXPECT_EQ(s["fc2_weight"], (Shape{128, 256}));
  EXPECT_EQ(s["fc3_weight"], (Shape{10, 128}));
  EXPECT_EQ(s["softmax_label"], (Shape{32}));
  EXPECT_EQ(OutputShape(net, Shape{32, 784}), (Shape{32, 10}));
  EXPECT_THAT(net.ListOutputs(), ElementsAre("softmax_output"));
}

TEST(Models, MlpHiddenActivationDropoutAndClasses) {
  proto::Model m;
  m.set_builtin("mlp");
  m.add_hidden(64);
  m.set_activation("tanh");
  m.set_dropout(0.5f);
  m.set_num_classes(3);
  const Symbol net = BuildModel(m, Shape{1, 8, 8});  // FullyConnected flattens images itself
  auto s = Shapes(net, Shape{4, 1, 8, 8});
  EXPECT_EQ(s["fc1_weight"], (Shape{64, 64}));
  EXPECT_EQ(s["fc2_weight"], (Shape{3, 64}));
  const auto attrs = net.AttrDict();
  EXPECT_EQ(attrs.at("tanh1").at("act_type"), "tanh");
  EXPECT_EQ(attrs.at("dropout").at("p"), "0.5");
  EXPECT_TRUE(ModelWantsFlatData(m));
}

TEST(Models, LeNetShapesFor28x28) {
  proto::Model m;
  m.set_builtin("lenet");
  m.set_batch_norm(false);
  m.set_activation("tanh");
  const Symbol net = BuildModel(m, Shape{1, 28, 28});
  auto s = Shapes(net, Shape{8, 1, 28, 28});
  // 28 -conv5-> 24 -pool2-> 12 -conv5-> 8 -pool2-> 4: 50 * 4 * 4 = 800 inputs of fc1.
  EXPECT_EQ(s["conv1_weight"], (Shape{20, 1, 5, 5}));
  EXPECT_EQ(s["conv2_weight"], (Shape{50, 20, 5, 5}));
  EXPECT_EQ(s["fc1_weight"], (Shape{500, 800}));
  EXPECT_EQ(s["fc2_weight"], (Shape{10, 500}));
  EXPECT_EQ(OutputShape(net, Shape{8, 1, 28, 28}), (Shape{8, 10}));
  EXPECT_TRUE(net.ListAuxiliaryStates().empty());
  EXPECT_FALSE(ModelWantsFlatData(m));
}

TEST(Models, LeNetWithBatchNormHasMovingStatistics) {
  proto::Model m;
  m.set_builtin("lenet");
  const Symbol net = BuildModel(m, Shape{3, 32, 32});
  EXPECT_THAT(net.ListAuxiliaryStates(), ElementsAre("bn1_moving_mean", "bn1_moving_var",
                                                     "bn2_moving_mean", "bn2_moving_var"));
  auto s = Shapes(net, Shape{2, 3, 32, 32});
  // 32 -> 28 -> 14 -> 10 -> 5: 50 * 5 * 5 = 1250.
  EXPECT_EQ(s["conv1_weight"], (Shape{20, 3, 5, 5}));
  EXPECT_EQ(s["bn1_gamma"], (Shape{20}));
  EXPECT_EQ(s["fc1_weight"], (Shape{500, 1250}));
}

TEST(Models, ResNetStagesDoubleWidthAndHalveSize) {
  proto::Model m;
  m.set_builtin("resnet");
  m.set_resnet_blocks(2);
  m.set_resnet_width(8);
  m.set_num_classes(7);
  const Symbol net = BuildModel(m, Shape{3, 32, 32});
  auto s = Shapes(net, Shape{2, 3, 32, 32});
  EXPECT_EQ(s["conv0_weight"], (Shape{8, 3, 3, 3}));
  EXPECT_EQ(s["stage1_unit1_conv1_weight"], (Shape{8, 8, 3, 3}));
  EXPECT_EQ(s["stage2_unit1_conv1_weight"], (Shape{16, 8, 3, 3}));
  EXPECT_EQ(s["stage2_unit1_sc_weight"], (Shape{16, 8, 1, 1}));
  EXPECT_EQ(s["stage3_unit2_conv2_weight"], (Shape{32, 32, 3, 3}));
  EXPECT_EQ(s["fc1_weight"], (Shape{7, 32}));
  EXPECT_EQ(OutputShape(net, Shape{2, 3, 32, 32}), (Shape{2, 7}));
  EXPECT_EQ(OutputShape(net, Shape{2, 3, 28, 28}), (Shape{2, 7}));
  // Internal shapes: stage 3 works on 8x8 maps for 32x32 inputs.
  auto internals = net.GetInternals();
  auto inferred = internals.InferShape({{"data", Shape{2, 3, 32, 32}}});
  const auto outputs = internals.ListOutputs();
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i] == "stage3_unit2_plus_output") {
      EXPECT_EQ(inferred->outputs[i], (Shape{2, 32, 8, 8}));
    }
  }
  // bn_data, 3 stages x 2 units x 2 BatchNorms, bn1: 14 BatchNorms with 2 moving statistics each.
  EXPECT_EQ(net.ListAuxiliaryStates().size(), 28u);
}

TEST(Models, ErrorsNameTheKey) {
  proto::Model m;
  m.set_builtin("vgg");
  try {
    BuildModel(m, Shape{784});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("model.builtin: expected one of mlp, lenet, resnet but got 'vgg'"));
  }
  m.set_builtin("lenet");
  try {
    BuildModel(m, Shape{784});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("expected image samples"));
    EXPECT_THAT(e.what(), HasSubstr("(784)"));
    EXPECT_THAT(e.what(), HasSubstr("data.flatten: false"));
  }
  m.set_symbol("net-symbol.json");
  EXPECT_THROW(BuildModel(m, Shape{784}), ConfigError);  // both builtin and symbol
  proto::Model none;
  EXPECT_THROW(BuildModel(none, Shape{784}), ConfigError);
  proto::Model bad_act;
  bad_act.set_builtin("mlp");
  bad_act.set_activation("gelu");
  EXPECT_THROW(BuildModel(bad_act, Shape{784}), ConfigError);
  proto::Model bad_hidden;
  bad_hidden.set_builtin("mlp");
  bad_hidden.add_hidden(0);
  EXPECT_THROW(BuildModel(bad_hidden, Shape{784}), ConfigError);
}

TEST(Models, SymbolFileIsLoadedAsIs) {
  proto::Model builtin;
  builtin.set_builtin("mlp");
  builtin.add_hidden(16);
  const Symbol net = BuildModel(builtin, Shape{10});
  const std::string path =
      (std::filesystem::temp_directory_path() / "loom_models_test-symbol.json").string();
  net.Save(path);
  proto::Model file;
  file.set_symbol(path);
  const Symbol loaded = BuildModel(file, Shape{});
  EXPECT_EQ(loaded.ToJSON(), net.ToJSON());
  EXPECT_FALSE(ModelWantsFlatData(file));
  std::filesystem::remove(path);
  EXPECT_THROW(BuildModel(file, Shape{}), Error);  // the file is gone
}

}  // namespace
}  // namespace loom::train
