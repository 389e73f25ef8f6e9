// Semantic checks: closed sets of names, sizes, ranges and required pairs, each error located at
// the value's line in the file (or the override, or nowhere for a default).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_util.h"
#include "loom/train/config.h"

namespace loom::train {
namespace {

using testing::ConfigErrorOf;

// `yaml` is added after a valid model section (line 1), so its first line is line 2.
std::string Error(const std::string& yaml) {
  return ConfigErrorOf([&] { ParseExperiment("model: {builtin: mlp}\n" + yaml, "exp.yaml"); });
}

TEST(ConfigValidate, EnumeratedNames) {
  EXPECT_EQ(Error("optimizer:\n  name: sgdd\n"),
            "optimizer.name: expected one of sgd, nag, adam, adamw, rmsprop, adagrad but got "
            "'sgdd'; did you mean 'sgd'? (exp.yaml:3:9)");
  EXPECT_EQ(Error("optimizer: {lr_schedule: {type: step}}\n"),
            "optimizer.lr_schedule.type: expected one of none, factor, multifactor, cosine but "
            "got 'step' (exp.yaml:2:33)");
  EXPECT_EQ(Error("data: {last_batch: keep}\n"),
            "data.last_batch: expected one of pad, discard, roll_over but got 'keep' "
            "(exp.yaml:2:20)");
  EXPECT_EQ(Error("data:\n  train: {source: cifar}\n"),
            "data.train.source: expected one of fashion_mnist, mnist, idx, csv, synthetic but got "
            "'cifar' (exp.yaml:3:19)");
  EXPECT_EQ(Error("data:\n  val: {split: tset}\n"),
            "data.val.split: expected one of train, test but got 'tset'; did you mean 'test'? "
            "(exp.yaml:3:16)");
  EXPECT_EQ(Error("trainer:\n  initializer: {type: glorot}\n"),
            "trainer.initializer.type: expected one of uniform, normal, xavier, msra, zero, one, "
            "constant but got 'glorot' (exp.yaml:3:23)");
  EXPECT_EQ(Error("logging: {progress: tqdm}\n"),
            "logging.progress: expected one of auto, bar, lines, none but got 'tqdm' "
            "(exp.yaml:2:21)");
  EXPECT_EQ(Error("distributed: {kvstore: dist_async}\n"),
            "distributed.kvstore: expected one of local, device, nccl, dist_sync, "
            "dist_device_sync but got 'dist_async'; did you mean 'dist_sync'? (exp.yaml:2:24)");
  EXPECT_EQ(Error("trainer: {grad_req: null_op}\n"),
            "trainer.grad_req: expected one of write, add but got 'null_op' (exp.yaml:2:21)");
  EXPECT_EQ(Error("trainer: {metrics: [accuracy, acc]}\n"),
            "trainer.metrics[1]: expected one of accuracy, top_k_accuracy, cross_entropy, "
            "perplexity, mse, mae but got 'acc' (exp.yaml:2:31)");
  EXPECT_EQ(ConfigErrorOf(
                [] { ParseExperiment("model: {builtin: mlp, activation: gelu}\n", "exp.yaml"); }),
            "model.activation: expected one of relu, sigmoid, tanh, softrelu but got 'gelu'; did "
            "you mean 'relu'? (exp.yaml:1:35)");
}

TEST(ConfigValidate, ModelNeedsExactlyOneOfBuiltinAndSymbol) {
  const std::string what =
      "expected exactly one of model.builtin (mlp, lenet, resnet) and model.symbol (an MXNet "
      "symbol JSON file) but got ";
  EXPECT_EQ(ConfigErrorOf([] { ParseExperiment("name: x\nmodel:\n  hidden: [10]\n", "e.yaml"); }),
            "model: " + what + "neither (e.yaml:3:3)");
  EXPECT_EQ(ConfigErrorOf([] { ParseExperiment("name: x\n", "e.yaml"); }),
            "model: " + what + "neither");
  EXPECT_EQ(ConfigErrorOf([] {
              ParseExperiment("model:\n  builtin: mlp\n  symbol: net-symbol.json\n", "e.yaml");
            }),
            "model.symbol: " + what + "both (e.yaml:3:11)");
  EXPECT_EQ(ConfigErrorOf([] { ParseExperiment("model: {builtin: vgg}\n", "e.yaml"); }),
            "model.builtin: expected one of mlp, lenet, resnet but got 'vgg' (e.yaml:1:18)");
  EXPECT_EQ(ConfigErrorOf([] { ParseExperiment("model: {builtin: ''}\n", "e.yaml"); }),
            "model: " + what + "neither (e.yaml:1:8)");
  proto::Experiment symbol = ParseExperiment("model: {symbol: net-symbol.json}\n", "e.yaml");
  EXPECT_EQ(symbol.model().symbol(), "net-symbol.json");
}

TEST(ConfigValidate, SizesAndRanges) {
  EXPECT_EQ(Error("data:\n  batch_size: 0\n"),
            "data.batch_size: expected a positive integer but got 0 (exp.yaml:3:15)");
  EXPECT_EQ(Error("data: {batch_size: -8}\n"),
            "data.batch_size: expected a positive integer but got -8 (exp.yaml:2:20)");
  EXPECT_EQ(Error("trainer:\n  epochs: 0\n"),
            "trainer.epochs: expected a positive integer but got 0 (exp.yaml:3:11)");
  EXPECT_EQ(ConfigErrorOf(
                [] { ParseExperiment("model:\n  builtin: mlp\n  dropout: 1.0\n", "exp.yaml"); }),
            "model.dropout: expected a number in [0, 1) but got 1 (exp.yaml:3:12)");
  EXPECT_EQ(ConfigErrorOf(
                [] { ParseExperiment("model:\n  builtin: mlp\n  dropout: -0.1\n", "exp.yaml"); }),
            "model.dropout: expected a number in [0, 1) but got -0.1 (exp.yaml:3:12)");
  EXPECT_EQ(ConfigErrorOf(
                [] { ParseExperiment("model:\n  builtin: mlp\n  hidden: [64, 0]\n", "exp.yaml"); }),
            "model.hidden[1]: expected a positive integer but got 0 (exp.yaml:3:16)");
  EXPECT_EQ(Error("optimizer: {momentum: 1.5}\n"),
            "optimizer.momentum: expected a number in [0, 1) but got 1.5 (exp.yaml:2:23)");
  EXPECT_EQ(Error("optimizer: {lr: -0.1}\n"),
            "optimizer.lr: expected a number >= 0 but got -0.1 (exp.yaml:2:17)");
  EXPECT_EQ(Error("optimizer: {lr: .nan}\n"),
            "optimizer.lr: expected a finite number but got nan (exp.yaml:2:17)");
  EXPECT_EQ(Error("data: {std: 0}\n"),
            "data.std: expected a positive number but got 0 (exp.yaml:2:13)");
  EXPECT_EQ(Error("optimizer:\n  lr_schedule: {type: multifactor, steps: [300, 200]}\n"),
            "optimizer.lr_schedule.steps[1]: expected increasing update counts but got 200 after "
            "300 (exp.yaml:3:49)");
  EXPECT_EQ(Error("optimizer:\n  lr_schedule: {type: multifactor}\n"),
            "optimizer.lr_schedule.steps: expected at least one update count "
            "(optimizer.lr_schedule.type is multifactor) (exp.yaml:3:16)");
  EXPECT_EQ(Error("logging: {log_every: 0}\n"),
            "logging.log_every: expected a positive integer but got 0 (exp.yaml:2:22)");
  EXPECT_EQ(Error("checkpoint: {keep: -1}\n"),
            "checkpoint.keep: expected an integer >= 0 but got -1 (exp.yaml:2:20)");
  EXPECT_EQ(Error("checkpoint: {resume: ''}\n"),
            "checkpoint.resume: expected no, auto or a checkpoint file path but got an empty "
            "string (exp.yaml:2:22)");
}

TEST(ConfigValidate, RequiredFilesOfASource) {
  EXPECT_EQ(Error("data:\n  train: {source: idx, images: train-images-idx3-ubyte}\n"),
            "data.train.labels: expected the idx label file (data.train.source is idx) but got an "
            "empty string (exp.yaml:3:10)");
  EXPECT_EQ(Error("data:\n  val: {source: csv}\n"),
            "data.val.csv: expected the CSV file (data.val.source is csv) but got an empty string "
            "(exp.yaml:3:8)");
}

TEST(ConfigValidate, Contexts) {
  proto::Experiment e = ParseExperiment(
      "model: {builtin: mlp}\ntrainer: {context: 'gpu(0), gpu(1)', group2ctx: {a: cpu}}\n", "x");
  EXPECT_EQ(e.trainer().context(), "gpu(0), gpu(1)");
  EXPECT_EQ(Error("trainer: {context: cuda}\n"),
            "trainer.context: expected a device such as cpu, cpu(1) or gpu(0) (several separated "
            "by commas) but got 'cuda' (exp.yaml:2:20)");
}

TEST(ConfigValidate, ExperimentsBuiltInCode) {
  proto::Experiment e;
  EXPECT_EQ(ConfigErrorOf([&] { ValidateExperiment(e); }),
            "model: expected exactly one of model.builtin (mlp, lenet, resnet) and model.symbol "
            "(an MXNet symbol JSON file) but got neither");
  e.mutable_model()->set_builtin("lenet");
  ValidateExperiment(e);
  e.mutable_data()->set_batch_size(0);
  EXPECT_EQ(ConfigErrorOf([&] { ValidateExperiment(e); }),
            "data.batch_size: expected a positive integer but got 0");
}

}  // namespace
}  // namespace loom::train
