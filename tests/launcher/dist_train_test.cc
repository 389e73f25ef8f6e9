// Data-parallel `loom train` across processes. DistTrain.* run inside `mpirun -np 2` (the ctest
// entry launcher_mpi_np2) and skip elsewhere: 2 ranks with batch B reach the parameters of 1 rank
// with batch 2B, resuming restores every rank from rank 0's checkpoint, and only rank 0 writes.
// TrainFault.* (run alone by ctest) launch their own jobs in which a rank dies mid-training.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "loom/comm/launch.h"
#include "loom/train/checkpoint.h"
#include "loom/train/config.h"
#include "loom/train/trainer.h"

#ifndef LOOM_MPIEXEC
#define LOOM_MPIEXEC ""  // a build without MPI: the TrainFault tests skip
#endif

namespace loom::train {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Per-rank batch B; the reference runs one process with 2B.
constexpr int kBatch = 16;
constexpr int kSteps = 20;

proto::Experiment MlpExperiment(int batch_size) {
  proto::Experiment e = ParseExperiment(R"(
name: dist_mlp
model: {builtin: mlp, hidden: [32, 16], num_classes: 4}
data:
  train: {source: synthetic, split: train, num_samples: 512, shape: [40], num_classes: 4, seed: 3}
  batch_size: 16
optimizer: {name: sgd, lr: 0.1, momentum: 0.9, wd: 0.0001}
trainer: {epochs: 100, seed: 7, threads: 1, metrics: [accuracy]}
checkpoint: {every_epochs: 0, mxnet_format: false}
logging: {progress: none}
distributed: {kvstore: dist_sync, timeout_s: 60}
)",
                                        "dist_mlp.yaml");
  e.mutable_data()->set_batch_size(batch_size);
  e.mutable_trainer()->set_max_updates(kSteps);
  return e;
}

// LeNet with BatchNorm after each convolution on 1x12x12 synthetic images.
proto::Experiment LeNetExperiment(int batch_size) {
  proto::Experiment e = ParseExperiment(R"(
name: dist_lenet
model: {builtin: lenet, num_classes: 4, batch_norm: true}
data:
  train: {source: synthetic, split: train, num_samples: 256, shape: [1, 16, 16], num_classes: 4, seed: 5}
  batch_size: 16
optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
trainer: {epochs: 100, seed: 11, threads: 1, metrics: [accuracy]}
checkpoint: {every_epochs: 0, mxnet_format: false}
logging: {progress: none}
distributed: {kvstore: dist_sync, timeout_s: 60}
)",
                                        "dist_lenet.yaml");
  e.mutable_data()->set_batch_size(batch_size);
  e.mutable_trainer()->set_max_updates(kSteps);
  return e;
}

// Parameters whose every value is below this are rounding noise (see ExpectSameParams).
constexpr double kNoiseLevel = 1e-5;

// MXNet's reldiff: sum |a - b| / sum |b|, per parameter and auxiliary state.
void ExpectSameParams(const proto::CheckpointFile& got, const proto::CheckpointFile& want,
                      double tolerance) {
  auto by_name = [](const google::protobuf::RepeatedPtrField<proto::Tensor>& tensors) {
    std::map<std::string, std::vector<float>> out;
    for (const proto::Tensor& t : tensors) out[t.name()] = FromTensor(t).ToVector<float>();
    return out;
  };
  for (const auto& [which, g, w] :
       {std::tuple{"arg", by_name(got.arg_params()), by_name(want.arg_params())},
        std::tuple{"aux", by_name(got.aux_params()), by_name(want.aux_params())}}) {
    ASSERT_EQ(g.size(), w.size()) << which;
    for (const auto& [name, values] : w) {
      ASSERT_TRUE(g.contains(name)) << name;
      const std::vector<float>& other = g.at(name);
      ASSERT_EQ(other.size(), values.size()) << name;
      double diff = 0, norm = 0, largest = 0, largest_diff = 0;
      for (size_t i = 0; i < values.size(); ++i) {
        const double d = std::abs(static_cast<double>(other[i]) - values[i]);
        diff += d;
        norm += std::abs(static_cast<double>(values[i]));
        largest = std::max(largest, std::abs(static_cast<double>(values[i])));
        largest_diff = std::max(largest_diff, d);
      }
      if (largest < kNoiseLevel) {
        // Only rounding noise: a convolution bias followed by BatchNorm starts at 0 and has a
        // gradient of exactly 0 (BatchNorm removes any constant), so its values are the
        // rounding of 20 updates and a relative difference means nothing.
        EXPECT_LE(largest_diff, kNoiseLevel) << which << " " << name;
        continue;
      }
      EXPECT_LE(diff / std::max(norm, 1e-30), tolerance)
          << which << " " << name << ": sum |a - b| = " << diff << ", sum |b| = " << norm;
    }
  }
}

class DistTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    job_ = comm::DiscoverLaunch();
    if (job_.size != 2) GTEST_SKIP() << "runs under mpirun -np 2 (ctest launcher_mpi_np2)";
    root_ = fs::temp_directory_path() /
            ("loom_dist_train_" + std::to_string(getpid()) + "_rank" + std::to_string(job_.rank));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }

  int Train(proto::Experiment e, const std::string& run, RunReport* report,
            std::optional<comm::LaunchInfo> job = std::nullopt) {
    e.mutable_logging()->set_run_dir((root_ / run).string());
    out_.str("");
    err_.str("");
    RunOptions options;
    options.report = report;
    options.is_tty = false;
    options.job = job;
    return RunExperiment(e, out_, err_, options);
  }

  // Rank 0 trains the reference alone (one process, batch 2B, no kvstore) and compares.
  void CompareWithOneProcess(proto::Experiment reference, const RunReport& distributed,
                             double tolerance) {
    if (job_.rank != 0) return;
    reference.mutable_distributed()->set_kvstore("local");
    RunReport one;
    ASSERT_EQ(Train(reference, "one", &one, comm::LaunchInfo{}), kExitOk) << err_.str();
    ASSERT_FALSE(one.checkpoints.empty());
    ASSERT_FALSE(distributed.checkpoints.empty());
    EXPECT_EQ(one.num_update, kSteps);
    ExpectSameParams(LoadCheckpoint(distributed.checkpoints.back()),
                     LoadCheckpoint(one.checkpoints.back()), tolerance);
  }

  comm::LaunchInfo job_;
  fs::path root_;
  std::ostringstream out_, err_;
};

TEST_F(DistTrain, MlpTwoRanksOfBatchBEqualOneRankOfBatch2B) {
  RunReport report;
  ASSERT_EQ(Train(MlpExperiment(kBatch), "dist", &report), kExitOk) << err_.str();
  EXPECT_EQ(report.num_update, kSteps);
  if (job_.rank == 0) {
    EXPECT_THAT(out_.str(),
                AllOf(HasSubstr("[rank 0] run directory: "),
                      HasSubstr("training samples per rank ("), HasSubstr("on each of 2 ranks")));
  } else {
    // Rank 1 shows no progress and writes nothing; its lines say who wrote them.
    EXPECT_EQ(out_.str(), "");
    EXPECT_THAT(err_.str(), HasSubstr("[rank 1] rank 1 of 2"));
    EXPECT_TRUE(report.checkpoints.empty());
    EXPECT_FALSE(fs::exists(root_ / "dist"));
  }
  CompareWithOneProcess(MlpExperiment(2 * kBatch), report, 1e-5);
}

TEST_F(DistTrain, LeNetWithBatchNormTwoRanksEqualOneRankOfBatch2B) {
  RunReport report;
  ASSERT_EQ(Train(LeNetExperiment(kBatch), "dist", &report), kExitOk) << err_.str();
  CompareWithOneProcess(LeNetExperiment(2 * kBatch), report, 1e-5);
}

// Two devices per rank (trainer.context cpu(0),cpu(1), 8 rows each): the dist kvstore sums over
// the devices and the ranks, so 2 ranks x 2 devices x 8 rows train as 1 process of 32.
TEST_F(DistTrain, MlpTwoRanksOfTwoDevicesEqualOneProcessOfOneDevice) {
  proto::Experiment e = MlpExperiment(kBatch);
  e.mutable_trainer()->set_context("cpu(0),cpu(1)");
  RunReport report;
  ASSERT_EQ(Train(e, "dist_two_devices", &report), kExitOk) << err_.str();
  EXPECT_EQ(report.num_update, kSteps);
  CompareWithOneProcess(MlpExperiment(2 * kBatch), report, 1e-5);
}

// Rank 0 resumes from its checkpoint; rank 1 has no files and takes everything by broadcast.
TEST_F(DistTrain, ResumeEqualsAnUninterruptedRun) {
  RunReport straight;
  ASSERT_EQ(Train(MlpExperiment(kBatch), "straight", &straight), kExitOk) << err_.str();

  proto::Experiment first = MlpExperiment(kBatch);
  first.mutable_trainer()->set_max_updates(kSteps / 2);
  RunReport half, resumed;
  ASSERT_EQ(Train(first, "resumed", &half), kExitOk) << err_.str();
  proto::Experiment second = MlpExperiment(kBatch);
  second.mutable_checkpoint()->set_resume("auto");
  ASSERT_EQ(Train(second, "resumed", &resumed), kExitOk) << err_.str();
  EXPECT_EQ(resumed.num_update, kSteps);
  if (job_.rank != 0) return;
  EXPECT_EQ(resumed.resumed_from, half.checkpoints.back());
  ExpectSameParams(LoadCheckpoint(resumed.checkpoints.back()),
                   LoadCheckpoint(straight.checkpoints.back()), 0.0);
}

TEST_F(DistTrain, LocalKVStoreUnderMpirunIsAConfigError) {
  proto::Experiment e = MlpExperiment(kBatch);
  e.mutable_distributed()->set_kvstore("local");
  EXPECT_EQ(Train(e, "local", nullptr), kExitConfigError);
  EXPECT_THAT(err_.str(), AllOf(HasSubstr("[rank " + std::to_string(job_.rank) + "] loom train: "),
                                HasSubstr("distributed.kvstore"), HasSubstr("dist_sync")));
}

// A rank that fails to prepare (here: rank 0's resume file is missing) stops every rank at once.
TEST_F(DistTrain, RankZeroSetupFailureStopsEveryRank) {
  proto::Experiment e = MlpExperiment(kBatch);
  e.mutable_checkpoint()->set_resume((root_ / "no-such-checkpoint.pb").string());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Train(e, "bad", nullptr), kExitConfigError);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30);
  if (job_.rank == 1) {
    EXPECT_THAT(err_.str(), HasSubstr("rank 0 could not prepare the run"));
  }
}

// ---------------------------------------------------------------------------------------------
// A rank killed mid-training. The scenario runs inside the job TrainFault.* starts.

constexpr const char* kScenario = "LOOM_TEST_SCENARIO";
constexpr int kTimeoutSeconds = 3;

TEST(ScenarioTrainKilledRank, SurvivorExitsNonZeroNamingTheRank) {
  const char* scenario = std::getenv(kScenario);
  if (!scenario || std::string(scenario) != "train_killed_rank") {
    GTEST_SKIP() << "only runs in the job TrainFault.* launches";
  }
  const comm::LaunchInfo job = comm::DiscoverLaunch();
  proto::Experiment e = MlpExperiment(kBatch);
  e.mutable_trainer()->set_max_updates(100000);
  e.mutable_distributed()->set_timeout_s(kTimeoutSeconds);
  const fs::path dir = fs::temp_directory_path() / ("loom_train_fault_" + std::to_string(getpid()));
  e.mutable_logging()->set_run_dir(dir.string());
  RunOptions options;
  options.on_batch_end = [&](const BatchEndInfo& info) {
    if (job.rank == 1 && info.num_update == 5) std::raise(SIGKILL);
  };
  const int status = RunExperiment(e, std::cout, std::cerr, options);
  fs::remove_all(dir);
  std::cerr << "loom-test rank " << job.rank << " RunExperiment returned " << status << "\n";
  std::exit(status);
}

std::string RunKilledRankJob(int* exit_status, double* seconds) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  // --enable-recovery keeps the survivor running, so that its own error handling is what ends it
  // (plain mpirun would kill it as soon as rank 1 dies).
  const std::string command =
      "timeout 120 " LOOM_MPIEXEC " -np 2 --oversubscribe --bind-to none --enable-recovery" +
      std::string(geteuid() == 0 ? " --allow-run-as-root" : "") + " -x " + kScenario +
      "=train_killed_rank /bin/sh -c '" + self +
      " --gtest_filter=ScenarioTrainKilledRank.* >/dev/null; echo \"loom-test rank "
      "$OMPI_COMM_WORLD_RANK status $?\"' 2>&1";
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "";
  std::string output;
  char buffer[4096];
  size_t got = 0;
  while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, got);
  const int status = pclose(pipe);
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return output;
}

TEST(TrainFault, SurvivorOfAKilledRankExitsNonZeroWithinTheTimeout) {
  if (std::string(LOOM_MPIEXEC).empty()) GTEST_SKIP() << "a build without MPI";
  if (comm::DiscoverLaunch().size > 1) GTEST_SKIP() << "launches its own job: run it alone";
  int status = -1;
  double seconds = 0;
  const std::string output = RunKilledRankJob(&status, &seconds);
  SCOPED_TRACE(output);
  EXPECT_NE(status, 124) << "the job hung until timeout(1) killed it";
  EXPECT_THAT(output,
              AllOf(HasSubstr("[rank 0] loom train: "), HasSubstr("timed out after 3 s"),
                    HasSubstr("rank 1 did not answer"), HasSubstr("loom-test rank 0 status 1")));
  EXPECT_LT(seconds, kTimeoutSeconds + 60);
}

}  // namespace
}  // namespace loom::train
