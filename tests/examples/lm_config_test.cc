// The model-parallel LSTM example's config (examples/model_parallel_lstm/lm_config.h): the shipped
// file, defaults, overrides, and the errors for bad keys, values and group2ctx entries.
#include "lm_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "loom/scheduler/error.h"

namespace loom::lm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

std::string ErrorOf(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return ErrorOf([&] { ParseLmConfig(yaml, "test.yaml", overrides); });
}

TEST(LmConfig, ShippedConfigParses) {
  const LmConfig c =
      LoadLmConfig(std::string(LOOM_TEST_DATA_DIR) + "/../../configs/lstm_model_parallel.yaml");
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_THAT(c.buckets, ElementsAre(8, 16, 24, 32));
  EXPECT_THAT(c.Groups(), ElementsAre("embed", "layer0", "layer1", "decode"));
  const ContextMap g = c.Group2Ctx();
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g.at("embed"), Context::CPU(0));
  EXPECT_EQ(g.at("layer1"), Context::CPU(1));
  EXPECT_EQ(g.at("decode"), Context::CPU(1));
  EXPECT_EQ(c.files.size(), 3u);
}

TEST(LmConfig, EmptyTextGivesDefaultsAndOverridesApply) {
  const LmConfig d = ParseLmConfig("", "empty.yaml");
  EXPECT_EQ(d.batch_size, 20);
  EXPECT_TRUE(d.group2ctx.empty());
  EXPECT_TRUE(d.Group2Ctx().empty());
  const LmConfig c = ParseLmConfig("model: {num_layers: 3}\n", "x.yaml",
                                   {"train.epochs=2", "corpus.buckets=[4, 9]",
                                    "group2ctx={embed: cpu(0), layer0: cpu(0), "
                                    "layer1: cpu(1), layer2: cpu(1), decode: cpu(2)}",
                                    "group2ctx.layer1=cpu(2)"});
  EXPECT_EQ(c.epochs, 2);
  EXPECT_THAT(c.buckets, ElementsAre(4, 9));
  EXPECT_EQ(c.Group2Ctx().at("layer1"), Context::CPU(2));
  EXPECT_EQ(c.Group2Ctx().at("decode"), Context::CPU(2));
}

TEST(LmConfig, UnknownKeysNameTheKeyThePositionAndTheValidKeys) {
  const std::string e = ErrorOf("train:\n  batch_size: 20\n  epoch: 3\n");
  EXPECT_THAT(e, HasSubstr("train.epoch: unknown key 'epoch'"));
  EXPECT_THAT(e, HasSubstr("expected one of batch_size, epochs,"));
  EXPECT_THAT(e, HasSubstr("(test.yaml:3:3)"));
  EXPECT_THAT(ErrorOf("modle: {}\n"), HasSubstr("modle: unknown key 'modle'"));
  EXPECT_THAT(ErrorOf("train: {lr: 1, lr: 2}\n"), HasSubstr("train.lr: duplicate key 'lr'"));
}

TEST(LmConfig, WrongValuesSayWhatWasExpected) {
  EXPECT_THAT(
      ErrorOf("train:\n  batch_size: many\n"),
      HasSubstr("train.batch_size: expected an integer >= 1 but got 'many' (test.yaml:2:15)"));
  EXPECT_THAT(ErrorOf("train: {lr: 0}\n"), HasSubstr("train.lr: expected a number in (0,"));
  EXPECT_THAT(ErrorOf("model: {dropout: 1.5}\n"),
              HasSubstr("model.dropout: expected a number in [0, 1]"));
  EXPECT_THAT(ErrorOf("corpus: {buckets: [8, 8]}\n"),
              HasSubstr("corpus.buckets[1]: expected increasing bucket lengths but 8 follows 8"));
  EXPECT_THAT(ErrorOf("corpus: {files: []}\n"),
              HasSubstr("corpus.files: expected a non-empty list"));
  EXPECT_THAT(ErrorOf("train: [1]\n"), HasSubstr("train: expected a map with keys batch_size"));
  EXPECT_THAT(ErrorOf("train: {epochs: [1\n"), HasSubstr("YAML syntax error"));
  EXPECT_THAT(ErrorOf("", {"train.epochs=x"}),
              HasSubstr("train.epochs: expected an integer >= 1 but got 'x' (override "
                        "'train.epochs=x')"));
  EXPECT_THAT(ErrorOf("", {"train.epochs"}), HasSubstr("expected key.path=value"));
}

TEST(LmConfig, BadGroup2CtxIsAClearError) {
  const std::string base = "group2ctx:\n  embed: cpu(0)\n  layer0: cpu(0)\n";
  // An unknown group names the valid ones (they follow model.num_layers).
  EXPECT_THAT(ErrorOf(base + "  layer2: cpu(1)\n  layer1: cpu(1)\n  decode: cpu(1)\n"),
              HasSubstr("group2ctx.layer2: unknown key 'layer2'; expected one of embed, layer0, "
                        "layer1, decode (test.yaml:4:3)"));
  EXPECT_THAT(ErrorOf("model: {num_layers: 3}\n" + base +
                      "  layer1: cpu(1)\n  layer2: cpu(1)\n  decode: cpu(1)\n"),
              HasSubstr("no error"));
  // A malformed device.
  EXPECT_THAT(ErrorOf(base + "  layer1: cpu1\n  decode: cpu(1)\n"),
              HasSubstr("group2ctx.layer1: expected a device such as cpu(1) or gpu(0) but got "
                        "'cpu1' (test.yaml:4:11)"));
  EXPECT_THAT(ErrorOf(base + "  layer1:\n  decode: cpu(1)\n"),
              HasSubstr("group2ctx.layer1: expected a device such as cpu(1) but got nothing"));
  // A group without a device.
  EXPECT_THAT(ErrorOf(base + "  decode: cpu(1)\n"),
              HasSubstr("group2ctx: no device for group layer1 (a non-empty group2ctx must place "
                        "every group: embed, layer0, layer1, decode)"));
  // A device this machine lacks.
  EXPECT_THAT(ErrorOf(base + "  layer1: gpu(7)\n  decode: cpu(1)\n"),
              HasSubstr("group2ctx.layer1: gpu(7) is not available"));
  EXPECT_THAT(ErrorOf("context: tpu(0)\n"),
              HasSubstr("context: expected a device such as cpu(0) or gpu(0) but got 'tpu(0)'"));
}

}  // namespace
}  // namespace loom::lm
