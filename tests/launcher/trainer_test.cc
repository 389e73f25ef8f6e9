// RunExperiment end to end on synthetic data (and a Fashion-MNIST subset when installed): the run
// directory, accuracy, resume equality (after whole epochs, mid-epoch, after Ctrl-C), NaN/Inf
// loss, a failing checkpoint write, MXNet .params fine-tuning, and progress formatting.
#include "loom/train/trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "loom/train/atomic_file.h"
#include "loom/train/checkpoint.h"
#include "loom/train/config.h"
#include "loom/train/event_writer.h"
#include "loom/train/mxnet_params.h"
#include "loom/train/progress.h"

namespace loom::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("loom_trainer_test_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // 4-class synthetic data (40 features, ~99% separable): 256 training samples in batches of 32
  // (8 batches per epoch), 128 validation samples; an MLP with one hidden layer of 32 and dropout
  // (so resuming must restore the random state too).
  proto::Experiment Synthetic(const std::string& run) const {
    proto::Experiment e = ParseExperiment(R"(
name: synthetic_mlp
model: {builtin: mlp, hidden: [32], num_classes: 4, dropout: 0.2}
data:
  train: {source: synthetic, split: train, num_samples: 256, shape: [40], num_classes: 4, seed: 3}
  val: {source: synthetic, split: test, num_samples: 128, shape: [40], num_classes: 4, seed: 3}
  batch_size: 32
optimizer: {name: sgd, lr: 0.1, momentum: 0.9, wd: 0.0001}
trainer: {epochs: 2, seed: 7, deterministic: true, metrics: [accuracy, cross_entropy]}
checkpoint: {every_epochs: 1}
logging: {progress: none}
)",
                                          "synthetic.yaml");
    e.mutable_logging()->set_run_dir((root_ / run).string());
    return e;
  }

  int Train(const proto::Experiment& e, RunReport* report = nullptr,
            std::function<void(const BatchEndInfo&)> hook = nullptr) {
    out_.str("");
    err_.str("");
    RunOptions options;
    options.report = report;
    options.on_batch_end = std::move(hook);
    options.is_tty = false;
    return RunExperiment(e, out_, err_, options);
  }

  fs::path root_;
  std::ostringstream out_, err_;
};

std::map<std::string, std::string> TensorBytes(
    const google::protobuf::RepeatedPtrField<proto::Tensor>& tensors) {
  std::map<std::string, std::string> out;
  for (const proto::Tensor& t : tensors) out[t.name()] = t.data();
  return out;
}

// Parameters, auxiliary states and optimizer state of a checkpoint, as raw bytes.
void ExpectSameState(const std::string& a_path, const std::string& b_path) {
  const proto::CheckpointFile a = LoadCheckpoint(a_path), b = LoadCheckpoint(b_path);
  EXPECT_EQ(a.num_update(), b.num_update());
  EXPECT_EQ(a.epoch(), b.epoch());
  EXPECT_EQ(a.batch_in_epoch(), b.batch_in_epoch());
  ASSERT_GT(a.arg_params_size(), 0);
  EXPECT_EQ(TensorBytes(a.arg_params()), TensorBytes(b.arg_params()));
  EXPECT_EQ(TensorBytes(a.aux_params()), TensorBytes(b.aux_params()));
  EXPECT_EQ(TensorBytes(a.optimizer_state()), TensorBytes(b.optimizer_state()));
  EXPECT_EQ(a.rng_state(), b.rng_state());
}

double Metric(const RunReport& r, const std::string& key) {
  for (const auto& [k, v] : r.final_metrics) {
    if (k == key) return v;
  }
  ADD_FAILURE() << "no metric " << key;
  return 0;
}

std::vector<std::string> Lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(TrainerTest, SyntheticRunLearnsAndWritesTheRunDirectory) {
  proto::Experiment e = Synthetic("run");
  e.mutable_trainer()->set_epochs(3);
  e.mutable_logging()->set_log_every(4);
  RunReport report;
  ASSERT_EQ(Train(e, &report), kExitOk) << err_.str();
  EXPECT_GE(Metric(report, "val_accuracy"), 0.9);  // stated target for this data
  EXPECT_EQ(report.epochs_done, 3);
  EXPECT_EQ(report.num_update, 24);
  const fs::path run = root_ / "run";
  EXPECT_EQ(report.run_dir, run.string());
  EXPECT_EQ(
      ParseExperiment(ReadFile((run / "config.yaml").string()), "config.yaml").SerializeAsString(),
      ParseExperiment(ExperimentToYaml(e), "e").SerializeAsString());
  EXPECT_EQ(ReadFile((run / "overrides.yaml").string()), "[]\n");
  // metrics.jsonl: 2 log lines per epoch (8 batches, log_every 4) and one epoch line.
  const auto lines = Lines(run / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_THAT(lines[0], HasSubstr("{\"phase\":\"train\",\"epoch\":1,\"iter\":4,\"update\":4,"));
  EXPECT_THAT(lines[2], HasSubstr("{\"phase\":\"epoch\",\"epoch\":1,\"update\":8,"));
  EXPECT_THAT(lines[8], HasSubstr("\"val_accuracy\":"));
  // TensorBoard: one events file whose records verify.
  int events = 0;
  for (const auto& entry : fs::directory_iterator(run)) {
    if (entry.path().filename().string().starts_with("events.out.tfevents.")) {
      ++events;
      EXPECT_GT(ReadTfRecords(entry.path().string()).size(), 10u);
    }
  }
  EXPECT_EQ(events, 1);
  // Checkpoints: epochs 1 and 2, then final (epoch 3); last_checkpoint names the final one.
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "ckpt-0001.pb"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "ckpt-0002.pb"));
  EXPECT_EQ(ReadFile((run / "checkpoints" / "last_checkpoint").string()), "ckpt-final.pb\n");
  const proto::CheckpointFile final_ckpt =
      LoadCheckpoint((run / "checkpoints/ckpt-final.pb").string());
  EXPECT_EQ(final_ckpt.epoch(), 3);
  EXPECT_EQ(final_ckpt.batch_in_epoch(), 0);
  EXPECT_EQ(final_ckpt.num_update(), 24);
  EXPECT_EQ(final_ckpt.config().name(), "synthetic_mlp");
  EXPECT_GT(final_ckpt.optimizer_state_size(), 0);  // momentum
  EXPECT_TRUE(final_ckpt.metrics().contains("val_accuracy"));
  // MXNet format for every checkpointed epoch and the end.
  EXPECT_TRUE(fs::exists(run / "synthetic_mlp-symbol.json"));
  EXPECT_TRUE(fs::exists(run / "synthetic_mlp-0001.params"));
  EXPECT_TRUE(fs::exists(run / "synthetic_mlp-0003.params"));
  EXPECT_THAT(out_.str(), HasSubstr("run directory: " + run.string()));
  EXPECT_THAT(out_.str(), HasSubstr("done in"));
}

TEST_F(TrainerTest, DefaultRunDirectoryIsUnderRunRootByNameAndTimestamp) {
  proto::Experiment e = Synthetic("unused");
  e.mutable_logging()->clear_run_dir();
  e.mutable_logging()->set_run_root((root_ / "runs").string());
  e.mutable_trainer()->set_epochs(1);
  RunReport a, b;
  ASSERT_EQ(Train(e, &a), kExitOk) << err_.str();
  ASSERT_EQ(Train(e, &b), kExitOk) << err_.str();
  EXPECT_EQ(fs::path(a.run_dir).parent_path(), root_ / "runs" / "synthetic_mlp");
  EXPECT_NE(a.run_dir, b.run_dir);  // same second: a -2 suffix
  EXPECT_TRUE(fs::exists(fs::path(b.run_dir) / "config.yaml"));
}

TEST_F(TrainerTest, ResumeAfterWholeEpochsEqualsAnUninterruptedRun) {
  RunReport straight;
  ASSERT_EQ(Train(Synthetic("straight"), &straight), kExitOk) << err_.str();

  proto::Experiment first = Synthetic("resumed");
  first.mutable_trainer()->set_epochs(1);
  ASSERT_EQ(Train(first), kExitOk) << err_.str();
  proto::Experiment second = Synthetic("resumed");
  second.mutable_checkpoint()->set_resume("auto");
  RunReport resumed;
  ASSERT_EQ(Train(second, &resumed), kExitOk) << err_.str();
  EXPECT_EQ(resumed.resumed_from, (root_ / "resumed/checkpoints/ckpt-final.pb").string());
  EXPECT_THAT(out_.str(), HasSubstr("resuming from"));
  ExpectSameState((root_ / "straight/checkpoints/ckpt-final.pb").string(),
                  (root_ / "resumed/checkpoints/ckpt-final.pb").string());
}

TEST_F(TrainerTest, ResumeMidEpochEqualsAnUninterruptedRun) {
  ASSERT_EQ(Train(Synthetic("straight")), kExitOk) << err_.str();
  proto::Experiment first = Synthetic("resumed");
  first.mutable_trainer()->set_max_updates(11);  // 1 epoch and 3 batches of the second
  ASSERT_EQ(Train(first), kExitOk) << err_.str();
  const proto::CheckpointFile mid =
      LoadCheckpoint((root_ / "resumed/checkpoints/ckpt-final.pb").string());
  EXPECT_EQ(mid.epoch(), 1);
  EXPECT_EQ(mid.batch_in_epoch(), 3);
  proto::Experiment second = Synthetic("resumed");
  second.mutable_checkpoint()->set_resume("auto");
  ASSERT_EQ(Train(second), kExitOk) << err_.str();
  ExpectSameState((root_ / "straight/checkpoints/ckpt-final.pb").string(),
                  (root_ / "resumed/checkpoints/ckpt-final.pb").string());
}

TEST_F(TrainerTest, SigintFinishesTheBatchSavesAndReturns130ThenResumes) {
  ASSERT_EQ(Train(Synthetic("straight")), kExitOk) << err_.str();
  RunReport report;
  const int status = Train(Synthetic("interrupted"), &report, [](const BatchEndInfo& info) {
    if (info.epoch == 0 && info.batch == 4) std::raise(SIGINT);
  });
  ASSERT_EQ(status, kExitInterrupted) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("interrupted at epoch 1 batch 5"));
  EXPECT_THAT(err_.str(), HasSubstr("checkpoint.resume=auto"));
  const fs::path ckpt = root_ / "interrupted/checkpoints/ckpt-interrupted.pb";
  ASSERT_TRUE(fs::exists(ckpt));
  EXPECT_EQ(ReadFile((root_ / "interrupted/checkpoints/last_checkpoint").string()),
            "ckpt-interrupted.pb\n");
  const proto::CheckpointFile c = LoadCheckpoint(ckpt.string());
  EXPECT_EQ(c.epoch(), 0);
  EXPECT_EQ(c.batch_in_epoch(), 5);
  EXPECT_EQ(c.num_update(), 5);
  // The default SIGINT disposition is back after the run.
  struct sigaction now {};
  sigaction(SIGINT, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);

  proto::Experiment resume = Synthetic("interrupted");
  resume.mutable_checkpoint()->set_resume("auto");
  ASSERT_EQ(Train(resume), kExitOk) << err_.str();
  ExpectSameState((root_ / "straight/checkpoints/ckpt-final.pb").string(),
                  (root_ / "interrupted/checkpoints/ckpt-final.pb").string());
}

TEST_F(TrainerTest, NonFiniteLossStopsNamingTheBatchAndKeepsTheLastGoodCheckpoint) {
  proto::Experiment e = Synthetic("nan");
  e.mutable_optimizer()->set_lr(1e15f);
  e.mutable_optimizer()->set_momentum(0.9f);
  e.mutable_checkpoint()->set_every_updates(1);
  e.mutable_checkpoint()->set_keep(0);
  RunReport report;
  ASSERT_EQ(Train(e, &report), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("training diverged at epoch 1 batch "));
  const fs::path dir = root_ / "nan/checkpoints";
  const auto latest = CheckpointDir(dir.string()).Latest();
  ASSERT_TRUE(latest.has_value()) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("the last good checkpoint is " + *latest));
  // Every parameter of the last good checkpoint is finite.
  const proto::CheckpointFile good = LoadCheckpoint(*latest);
  for (const proto::Tensor& t : good.arg_params()) {
    const std::vector<float> v = FromTensor(t).ToVector<float>();
    for (float x : v) ASSERT_TRUE(std::isfinite(x)) << t.name();
  }
  EXPECT_FALSE(fs::exists(dir / "ckpt-final.pb"));
}

TEST_F(TrainerTest, FailedCheckpointWriteLeavesThePreviousOneIntact) {
  proto::Experiment e = Synthetic("failing");
  e.mutable_checkpoint()->set_every_updates(2);
  const int status = Train(e, nullptr, [](const BatchEndInfo& info) {
    if (info.num_update == 3) detail::SetWriteFailureAfterBytesForTesting(100);
  });
  detail::SetWriteFailureAfterBytesForTesting(std::nullopt);
  EXPECT_EQ(status, kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("injected failure"));
  const fs::path dir = root_ / "failing/checkpoints";
  EXPECT_EQ(ReadFile((dir / "last_checkpoint").string()), "ckpt-0000002.pb\n");
  EXPECT_EQ(LoadCheckpoint((dir / "ckpt-0000002.pb").string()).num_update(), 2);
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp")));
  }
}

TEST_F(TrainerTest, MXNetParamsFineTuneRoundTrip) {
  proto::Experiment a = Synthetic("a");
  ASSERT_EQ(Train(a), kExitOk) << err_.str();
  const fs::path params = root_ / "a/synthetic_mlp-0002.params";
  ASSERT_TRUE(fs::exists(params));
  const NamedArrays saved = LoadMXNetParams(params.string());
  EXPECT_TRUE(saved.contains("arg:fc1_weight"));
  EXPECT_TRUE(saved.contains("arg:fc2_bias"));
  // Fine-tune from them with lr 0: the parameters stay exactly the loaded ones.
  proto::Experiment b = Synthetic("b");
  b.mutable_model()->set_params(params.string());
  b.mutable_optimizer()->set_lr(0);
  b.mutable_trainer()->set_epochs(1);
  RunReport report;
  ASSERT_EQ(Train(b, &report), kExitOk) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("loaded 4 parameters from " + params.string()));
  EXPECT_GE(Metric(report, "val_accuracy"), 0.9);  // starts trained
  const NamedArrays tuned = LoadMXNetParams((root_ / "b/synthetic_mlp-0001.params").string());
  ASSERT_EQ(tuned.size(), saved.size());
  for (const auto& [key, array] : saved) {
    EXPECT_EQ(tuned.at(key).ToVector<float>(), array.ToVector<float>()) << key;
  }
  // A .params file of another model: the report names what does not fit.
  proto::Experiment c = Synthetic("c");
  c.mutable_model()->clear_hidden();
  c.mutable_model()->add_hidden(16);
  c.mutable_model()->set_params(params.string());
  c.mutable_trainer()->set_epochs(1);
  ASSERT_EQ(Train(c), kExitOk) << err_.str();
  EXPECT_THAT(err_.str(), HasSubstr("Skip loading parameter 'fc1_weight' due to incompatible "
                                    "shapes: (32,40) in the file but (16,40) in the model"));
}

// trainer.context with two devices: data parallelism in one process learns, and a run resumed
// mid-epoch ends bitwise where an uninterrupted one does.
TEST_F(TrainerTest, TwoDevicesInOneProcessLearnAndResumeExactly) {
  proto::Experiment straight = Synthetic("straight");
  straight.mutable_trainer()->set_context("cpu(0), cpu(1)");
  RunReport report;
  ASSERT_EQ(Train(straight, &report), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("(8 batches of 32, each split over 2 devices)"));
  EXPECT_GT(Metric(report, "val_accuracy"), 0.9);

  proto::Experiment first = Synthetic("resumed");
  first.mutable_trainer()->set_context("cpu(0),cpu(1)");
  first.mutable_trainer()->set_max_updates(11);  // 1 epoch and 3 batches of the second
  ASSERT_EQ(Train(first), kExitOk) << err_.str();
  proto::Experiment second = first;
  second.mutable_trainer()->set_max_updates(0);
  second.mutable_checkpoint()->set_resume("auto");
  ASSERT_EQ(Train(second), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("resuming from"));
  ExpectSameState((root_ / "straight/checkpoints/ckpt-final.pb").string(),
                  (root_ / "resumed/checkpoints/ckpt-final.pb").string());
}

TEST_F(TrainerTest, SeveralDevicesWithGroup2CtxOrTooSmallABatchAreConfigErrors) {
  proto::Experiment split = Synthetic("split");
  split.mutable_trainer()->set_context("cpu(0),cpu(1)");
  (*split.mutable_trainer()->mutable_group2ctx())["dev1"] = "cpu(1)";
  EXPECT_EQ(Train(split), kExitConfigError);
  EXPECT_THAT(err_.str(), HasSubstr("cannot also be replicated over several devices"));

  proto::Experiment small = Synthetic("small");
  small.mutable_trainer()->set_context("cpu(0),cpu(1),cpu(2)");
  small.mutable_data()->set_batch_size(2);
  EXPECT_EQ(Train(small), kExitConfigError);
  EXPECT_THAT(err_.str(), HasSubstr("data.batch_size: a batch of 2 rows cannot be split over the 3 "
                                    "devices of trainer.context"));
}

TEST_F(TrainerTest, SymbolWhoseInputsDoNotMatchTheDataIsAConfigError) {
  const fs::path symbol = root_ / "net-symbol.json";
  std::ofstream(symbol) << R"({"nodes": [{"op": "null", "name": "x", "inputs": []},
 {"op": "null", "name": "fc_weight", "inputs": []}, {"op": "null", "name": "fc_bias", "inputs": []},
 {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "4"}, "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
 {"op": "null", "name": "softmax_label", "inputs": []},
 {"op": "SoftmaxOutput", "name": "softmax", "inputs": [[3, 0, 0], [4, 0, 0]]}],
 "arg_nodes": [0, 1, 2, 4], "node_row_ptr": [0, 1, 2, 3, 4, 5, 6], "heads": [[5, 0, 0]],
 "attrs": {"mxnet_version": ["int", 10901]}})";
  proto::Experiment e = Synthetic("sym");
  e.mutable_model()->clear_builtin();
  e.mutable_model()->set_symbol(symbol.string());
  ASSERT_EQ(Train(e), kExitConfigError);
  EXPECT_THAT(err_.str(), HasSubstr("the data input 'data' is not an argument of the symbol"));
  e.mutable_data()->set_data_name("x");
  ASSERT_EQ(Train(e), kExitOk) << err_.str();
}

TEST_F(TrainerTest, MissingDataFilesAreARuntimeFailureNamingThePackage) {
  proto::Experiment e = Synthetic("missing");
  e.mutable_data()->mutable_train()->set_source("fashion_mnist");
  e.mutable_data()->mutable_train()->set_dir((root_ / "nowhere").string());
  EXPECT_EQ(Train(e), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("dataset-fashion-mnist"));
}

TEST_F(TrainerTest, FashionMnistSubsetReachesStatedAccuracy) {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "train-images-idx3-ubyte.gz") &&
      !fs::exists(dir / "train-images-idx3-ubyte")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed (package dataset-fashion-mnist)";
  }
  proto::Experiment e =
      LoadExperiment(std::string(LOOM_TEST_DATA_DIR) + "/../../configs/fashion_mnist_mlp.yaml",
                     {"data.train.limit=8000", "data.val.limit=2000", "trainer.epochs=2",
                      "logging.progress=none"});
  e.mutable_logging()->set_run_dir((root_ / "fmnist").string());
  RunReport report;
  ASSERT_EQ(Train(e, &report), kExitOk) << err_.str();
  EXPECT_GE(Metric(report, "val_accuracy"), 0.78);  // 8,000 images, 2 epochs
}

TEST(Progress, FormatsBarLineAndTimes) {
  EXPECT_EQ(FormatEta(17), "0:00:17");
  EXPECT_EQ(FormatEta(3725), "1:02:05");
  EXPECT_EQ(FormatClock(12), "00:12");
  EXPECT_EQ(FormatClock(3725), "1:02:05");
  EXPECT_EQ(ShortMetricName("accuracy"), "acc");
  EXPECT_EQ(ShortMetricName("cross_entropy"), "cross_entropy");
  // 420/1000 = 42%: 4 full cells (40%) and 2% of a cell = 1/8 of a cell (one eighth).
  EXPECT_EQ(FormatBar("epoch 3/10 ", 420, 1000, 12, 17, 35.1, "loss=0.412"),
            "epoch 3/10   42%|\u2588\u2588\u2588\u2588\u258f     | 420/1000 [00:12<00:17, 35.1 "
            "it/s, loss=0.412]");
  EXPECT_EQ(FormatBar("e", 1000, 1000, 60, 0, 16.7, ""),
            "e 100%|\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588| 1000/1000 "
            "[01:00<00:00, 16.7 it/s]");
  EXPECT_EQ(ResolveProgressMode("auto", true), ProgressMode::kBar);
  EXPECT_EQ(ResolveProgressMode("auto", false), ProgressMode::kLines);
  EXPECT_THROW(ResolveProgressMode("fancy", false), ConfigError);

  std::ostringstream out;
  Progress lines(out, ProgressMode::kLines, /*log_every=*/2, /*num_epochs=*/3);
  lines.BeginEpoch(1, 4, 0);
  for (int b = 0; b < 4; ++b) {
    lines.Batch({.batch = b,
                 .samples = 100,
                 .loss = 0.5 + b,
                 .metrics = {{"accuracy", 0.75}},
                 .lr = 0.1,
                 .batch_seconds = 0.02,
                 .data_seconds = 0.001});
  }
  lines.EndEpoch({.epoch = 1,
                  .seconds = 0.08,
                  .samples_per_second = 5000,
                  .loss = 2.0,
                  .train = {{"accuracy", 0.75}},
                  .val = {{"accuracy", 0.7}}});
  // Two log lines (batches 2 and 4), median loss of the last 2 and 4 batches; eta = 0.02 s x
  // (0 left in this epoch + 4 in the last one).
  EXPECT_EQ(out.str(),
            "epoch 2/3 iter 2/4 eta 0:00:00 loss 1.0000 (median of 2) acc 0.7500 lr 0.1 "
            "samples/s 5000 time 0.0200 data_time 0.0010\n"
            "epoch 2/3 iter 4/4 eta 0:00:00 loss 2.0000 (median of 4) acc 0.7500 lr 0.1 "
            "samples/s 5000 time 0.0200 data_time 0.0010\n"
            "epoch 2/3 done in 0.1s (5000 samples/s): train loss 2.0000 accuracy 0.7500 | val "
            "accuracy 0.7000\n");
}

}  // namespace
}  // namespace loom::train
