// YAML -> Experiment: every value type, defaults, and every parse error with its file:line:column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "config_test_util.h"
#include "loom/train/config.h"

namespace loom::train {
namespace {

using testing::ConfigErrorOf;
using testing::ConfigPath;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ParseError(const std::string& yaml) {
  return ConfigErrorOf([&] { ParseExperiment(yaml, "exp.yaml"); });
}

TEST(ConfigParse, MinimalExperimentTakesTheSchemaDefaults) {
  proto::Experiment e = ParseExperiment("model: {builtin: mlp}\n", "exp.yaml");
  EXPECT_EQ(e.model().builtin(), "mlp");
  EXPECT_FALSE(e.model().has_symbol());
  EXPECT_EQ(e.name(), "experiment");
  EXPECT_EQ(e.model().num_classes(), 10);
  EXPECT_EQ(e.data().batch_size(), 128);
  EXPECT_EQ(e.data().train().source(), "fashion_mnist");
  EXPECT_EQ(e.data().last_batch(), "pad");
  EXPECT_FALSE(e.data().has_val());
  EXPECT_EQ(e.optimizer().name(), "sgd");
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.01f);
  EXPECT_FALSE(e.optimizer().has_rescale_grad());
  EXPECT_FLOAT_EQ(e.optimizer().beta2(), 0.999f);
  EXPECT_EQ(e.optimizer().lr_schedule().type(), "none");
  EXPECT_EQ(e.trainer().epochs(), 10);
  EXPECT_EQ(e.trainer().context(), "cpu");
  EXPECT_EQ(e.trainer().initializer().type(), "xavier");
  EXPECT_EQ(e.checkpoint().resume(), "no");
  EXPECT_EQ(e.logging().run_root(), "runs");
  EXPECT_EQ(e.distributed().kvstore(), "local");
}

TEST(ConfigParse, EveryValueType) {
  proto::Experiment e = LoadExperiment(ConfigPath("full.yaml"));
  EXPECT_EQ(e.name(), "full");
  EXPECT_THAT(e.model().hidden(), ::testing::ElementsAre(256, 128));
  EXPECT_EQ(e.model().activation(), "tanh");
  EXPECT_FLOAT_EQ(e.model().dropout(), 0.25f);
  EXPECT_FALSE(e.model().batch_norm());  // "no" is false for a boolean
  EXPECT_TRUE(e.model().has_batch_norm());
  EXPECT_EQ(e.data().train().source(), "synthetic");
  EXPECT_THAT(e.data().train().shape(), ::testing::ElementsAre(1, 28, 28));
  EXPECT_EQ(e.data().train().num_samples(), 512);
  EXPECT_TRUE(e.data().has_val());
  EXPECT_EQ(e.data().val().num_samples(), 128);
  EXPECT_EQ(e.data().val().split(), "train");
  EXPECT_EQ(e.data().batch_size(), 64);
  EXPECT_FALSE(e.data().shuffle());
  EXPECT_FLOAT_EQ(e.data().mean(), 0.2860f);
  EXPECT_TRUE(e.data().flatten());
  EXPECT_EQ(e.optimizer().name(), "adam");
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 1e-3f);
  EXPECT_FLOAT_EQ(e.optimizer().rescale_grad(), 1.0f / 64);
  EXPECT_EQ(e.optimizer().lr_schedule().type(), "multifactor");
  EXPECT_THAT(e.optimizer().lr_schedule().steps(), ::testing::ElementsAre(100, 200));
  EXPECT_EQ(e.optimizer().lr_schedule().warmup_steps(), 10);
  EXPECT_EQ(e.trainer().context(), "cpu(0),cpu(1)");
  EXPECT_THAT(e.trainer().metrics(),
              ::testing::ElementsAre("accuracy", "top_k_accuracy", "cross_entropy"));
  EXPECT_EQ(e.trainer().initializer().type(), "normal");
  EXPECT_FLOAT_EQ(e.trainer().initializer().sigma(), 0.02f);
  EXPECT_EQ(e.trainer().seed(), std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(e.trainer().deterministic());
  EXPECT_EQ(e.trainer().grad_req(), "add");
  ASSERT_EQ(e.trainer().group2ctx().size(), 2u);
  EXPECT_EQ(e.trainer().group2ctx().at("embed"), "cpu(1)");
  EXPECT_EQ(e.trainer().group2ctx().at("decode"), "cpu(0)");
  EXPECT_EQ(e.trainer().max_updates(), 1000);
  EXPECT_EQ(e.checkpoint().every_updates(), 500);
  EXPECT_EQ(e.checkpoint().resume(), "auto");
  EXPECT_EQ(e.logging().run_dir(), "/tmp/loom-run");
  EXPECT_EQ(e.distributed().kvstore(), "device");
}

TEST(ConfigParse, NumbersInEveryNotation) {
  proto::Experiment e = ParseExperiment(R"(model: {builtin: mlp}
optimizer: {lr: 5e-2, wd: +0.5, momentum: .25}
trainer: {epochs: +3, max_updates: 9223372036854775807}
data: {mean: -0.0}
)",
                                        "exp.yaml");
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.05f);
  EXPECT_FLOAT_EQ(e.optimizer().wd(), 0.5f);
  EXPECT_FLOAT_EQ(e.optimizer().momentum(), 0.25f);
  EXPECT_EQ(e.trainer().epochs(), 3);
  EXPECT_EQ(e.trainer().max_updates(), std::numeric_limits<int64_t>::max());
}

TEST(ConfigParse, NullClearsAField) {
  proto::Experiment e =
      ParseExperiment("model: {builtin: mlp, params: ~}\ndata:\n  flatten:\n", "exp.yaml");
  EXPECT_FALSE(e.model().has_params());
  EXPECT_FALSE(e.data().has_flatten());
}

TEST(ConfigParse, QuotedValuesAreStrings) {
  proto::Experiment e =
      ParseExperiment("model: {builtin: mlp}\nname: \"123\"\ncheckpoint: {resume: 'no'}\n", "x");
  EXPECT_EQ(e.name(), "123");
  EXPECT_EQ(e.checkpoint().resume(), "no");
}

TEST(ConfigParse, WrongTypes) {
  EXPECT_EQ(ParseError("trainer:\n  epochs: ten\n"),
            "trainer.epochs: expected an integer but got 'ten' (exp.yaml:2:11)");
  EXPECT_EQ(ParseError("trainer:\n  epochs: 2.5\n"),
            "trainer.epochs: expected an integer but got '2.5' (exp.yaml:2:11)");
  EXPECT_EQ(ParseError("data:\n  shuffle: maybe\n"),
            "data.shuffle: expected true or false but got 'maybe' (exp.yaml:2:12)");
  EXPECT_EQ(ParseError("optimizer: {lr: fast}\n"),
            "optimizer.lr: expected a number but got 'fast' (exp.yaml:1:17)");
  EXPECT_EQ(ParseError("trainer: {seed: 1.5}\n"),
            "trainer.seed: expected a non-negative integer but got '1.5' (exp.yaml:1:17)");
  EXPECT_EQ(ParseError("model: {builtin: [mlp]}\n"),
            "model.builtin: expected a string but got a list (exp.yaml:1:18)");
  EXPECT_EQ(ParseError("model:\n  builtin: {name: mlp}\n"),
            "model.builtin: expected a string but got a map (exp.yaml:2:12)");
  EXPECT_EQ(ParseError("optimizer: sgd\n"),
            "optimizer: expected a map of Optimizer keys (name, lr, momentum, wd, rescale_grad, "
            "clip_gradient, clip_global_norm, beta1, beta2, epsilon, rho, lr_schedule) but got "
            "'sgd' (exp.yaml:1:12)");
}

TEST(ConfigParse, ListsAndMapsMustBeListsAndMaps) {
  EXPECT_EQ(ParseError("trainer:\n  metrics: accuracy\n"),
            "trainer.metrics: expected a list (e.g. [a, b]) of strings but got 'accuracy' "
            "(exp.yaml:2:12)");
  EXPECT_EQ(ParseError("model:\n  hidden: 256\n"),
            "model.hidden: expected a list (e.g. [a, b]) of integers but got '256' "
            "(exp.yaml:2:11)");
  EXPECT_EQ(ParseError("model:\n  builtin: mlp\n  hidden: [256, x]\n"),
            "model.hidden[1]: expected an integer but got 'x' (exp.yaml:3:17)");
  EXPECT_EQ(ParseError("model:\n  hidden:\n    - 256\n    - [1]\n"),
            "model.hidden[1]: expected an integer but got a list (exp.yaml:4:7)");
  EXPECT_EQ(ParseError("trainer: {group2ctx: [embed]}\n"),
            "trainer.group2ctx: expected a map (key: value, e.g. {a: b}) but got a list "
            "(exp.yaml:1:22)");
  EXPECT_EQ(ParseError("trainer: {group2ctx: {embed: [cpu]}}\n"),
            "trainer.group2ctx.embed: expected a string but got a list (exp.yaml:1:30)");
}

TEST(ConfigParse, OutOfRangeIntegers) {
  EXPECT_EQ(ParseError("trainer:\n  epochs: 3000000000\n"),
            "trainer.epochs: expected an integer between -2147483648 and 2147483647 but got "
            "'3000000000' (exp.yaml:2:11)");
  EXPECT_EQ(ParseError("trainer: {max_updates: 9223372036854775808}\n"),
            "trainer.max_updates: expected an integer between -9223372036854775808 and "
            "9223372036854775807 but got '9223372036854775808' (exp.yaml:1:24)");
  EXPECT_EQ(ParseError("trainer: {seed: -1}\n"),
            "trainer.seed: expected an integer between 0 and 18446744073709551615 but got '-1' "
            "(exp.yaml:1:17)");
  EXPECT_EQ(ParseError("trainer: {seed: 18446744073709551616}\n"),
            "trainer.seed: expected an integer between 0 and 18446744073709551615 but got "
            "'18446744073709551616' (exp.yaml:1:17)");
  EXPECT_EQ(ParseError("optimizer: {lr: 1e39}\n"),
            "optimizer.lr: expected a number within a float's range (about +-3.4e38) but got "
            "'1e39' (exp.yaml:1:17)");
}

TEST(ConfigParse, UnknownKeysSuggestTheNearestKey) {
  std::string error = ParseError("model: {builtin: mlp}\noptimizer:\n  lrr: 0.1\n");
  EXPECT_EQ(error,
            "unknown key 'optimizer.lrr', did you mean 'optimizer.lr'? (exp.yaml:3:3)\n"
            "  valid keys in optimizer: name, lr, momentum, wd, rescale_grad, clip_gradient, "
            "clip_global_norm, beta1, beta2, epsilon, rho, lr_schedule");
  EXPECT_THAT(ParseError("optimiser:\n  lr: 0.1\n"),
              StartsWith("unknown key 'optimiser', did you mean 'optimizer'? (exp.yaml:1:1)\n"
                         "  valid keys at the top level: name, include, model, data, optimizer, "
                         "trainer, checkpoint, logging, distributed"));
  EXPECT_THAT(ParseError("trainer:\n  epoch: 3\n"),
              StartsWith("unknown key 'trainer.epoch', did you mean 'trainer.epochs'? "
                         "(exp.yaml:2:3)"));
  // A key in the wrong section: the suggestion is where it lives.
  EXPECT_THAT(ParseError("trainer:\n  batch_size: 64\n"),
              StartsWith("unknown key 'trainer.batch_size', did you mean 'data.batch_size'? "
                         "(exp.yaml:2:3)"));
  EXPECT_THAT(ParseError("data:\n  train: {sorce: mnist}\n"),
              StartsWith("unknown key 'data.train.sorce', did you mean 'data.train.source'? "
                         "(exp.yaml:2:11)"));
  // Nothing close: no suggestion, but the valid keys.
  EXPECT_THAT(ParseError("optimizer: {xy: 1}\n"),
              StartsWith("unknown key 'optimizer.xy' (exp.yaml:1:13)\n"));
  EXPECT_EQ(ParseError("logging:\n  colour_scheme: dark\n"),
            "unknown key 'logging.colour_scheme' (exp.yaml:2:3)\n"
            "  valid keys in logging: run_root, run_dir, log_every, progress, tensorboard");
}

TEST(ConfigParse, DuplicateKeys) {
  EXPECT_EQ(ParseError("optimizer:\n  lr: 0.1\n  lr: 0.2\n"),
            "duplicate key 'optimizer.lr', first given at line 2 (exp.yaml:3:3)");
  EXPECT_EQ(ParseError("model: {builtin: mlp}\ntrainer: {epochs: 1}\nmodel: {builtin: lenet}\n"),
            "duplicate key 'model', first given at line 1 (exp.yaml:3:1)");
  EXPECT_EQ(ParseError("trainer:\n  group2ctx: {a: cpu, a: gpu}\n"),
            "duplicate key 'trainer.group2ctx.a' (exp.yaml:2:23)");
}

TEST(ConfigParse, KeysMustBeNames) {
  EXPECT_EQ(ParseError("optimizer:\n  ? [lr]\n  : 0.1\n"),
            "optimizer: expected a key name but got a list (exp.yaml:2:5)");
}

TEST(ConfigParse, YamlSyntaxErrorsNameTheFilePosition) {
  // The position is where yaml-cpp notices the problem: the unclosed '{' of line 3 at the
  // ':' of line 4, which cannot be part of a flow map.
  EXPECT_EQ(
      ConfigErrorOf([] { LoadExperiment(ConfigPath("syntax_error.yaml")); }),
      "invalid YAML: end of map flow not found (" + ConfigPath("syntax_error.yaml") + ":4:8)");
  EXPECT_EQ(ParseError("model:\n  builtin: mlp\n bad indent: 1\n"),
            "invalid YAML: end of map not found (exp.yaml:3:2)");
  EXPECT_EQ(ParseError("model: {builtin: *missing}\n"),
            "invalid YAML: the referenced anchor is not defined (exp.yaml:1:18)");
}

TEST(ConfigParse, EmptyFilesAndNonMaps) {
  const std::string keys =
      "name, include, model, data, optimizer, trainer, checkpoint, logging, distributed";
  EXPECT_EQ(ConfigErrorOf([] { LoadExperiment(ConfigPath("empty.yaml")); }),
            "the experiment is empty; expected a map with the keys " + keys + " (" +
                ConfigPath("empty.yaml") + ":1:1)");
  EXPECT_EQ(ConfigErrorOf([] { LoadExperiment(ConfigPath("comments_only.yaml")); }),
            "the experiment is empty; expected a map with the keys " + keys + " (" +
                ConfigPath("comments_only.yaml") + ":1:1)");
  EXPECT_EQ(ParseError("- model\n- data\n"), "expected a map with the keys " + keys +
                                                 " at the top level but got a list "
                                                 "(exp.yaml:1:1)");
  EXPECT_EQ(ParseError("\n\nhello\n"), "expected a map with the keys " + keys +
                                           " at the top level but got 'hello' (exp.yaml:3:1)");
  EXPECT_EQ(ParseError("model: {builtin: mlp}\n---\nmodel: {builtin: lenet}\n"),
            "invalid YAML: expected one YAML document but got 2 (separated by '---') "
            "(exp.yaml:3:1)");
  // yaml-cpp 0.7's LoadAll loops forever on these; they are syntax errors.
  EXPECT_EQ(ParseError(","), "invalid YAML: unexpected ',' (exp.yaml:1:1)");
  EXPECT_EQ(ParseError("model: {builtin: mlp}\n...\n, x\n"),
            "invalid YAML: unexpected ',' (exp.yaml:3:1)");
}

TEST(ConfigParse, IncludeNeedsAFile) {
  EXPECT_EQ(ParseError("include: base.yaml\nmodel: {builtin: mlp}\n"),
            "include: other files are included only when the experiment is loaded from a file "
            "(LoadExperiment), not from text or overrides (exp.yaml:1:1)");
  // An empty include is no include.
  EXPECT_EQ(ParseExperiment("include: []\nmodel: {builtin: mlp}\n", "x").include_size(), 0);
}

TEST(ConfigParse, MissingFile) {
  EXPECT_EQ(ConfigErrorOf([] { LoadExperiment("/nonexistent/exp.yaml"); }),
            "cannot read experiment file '/nonexistent/exp.yaml': No such file or directory");
}

}  // namespace
}  // namespace loom::train
