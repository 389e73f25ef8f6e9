// `loom train` through the command line: --print-config, overrides, usage and config errors with
// exit status 2 and file:line messages, a short run with exit status 0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_test_util.h"
#include "loom/core/storage.h"
#include "loom/launcher/cli.h"
#include "loom/train/config.h"

namespace loom {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using testing_cli::Loom;
using testing_cli::Result;

class TrainCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("loom_train_cli_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  fs::path dir_;
};

constexpr const char* kSynthetic = R"(name: cli_synthetic
model: {builtin: mlp, hidden: [16], num_classes: 3}
data:
  train: {source: synthetic, num_samples: 96, shape: [8], num_classes: 3}
  batch_size: 32
optimizer: {name: sgd, lr: 0.1}
trainer: {epochs: 1}
logging: {progress: lines, log_every: 1}
)";

TEST_F(TrainCliTest, PrintConfigShowsTheResolvedExperimentWithOverrides) {
  const std::string path = Write("exp.yaml", kSynthetic);
  const Result r = Loom({"train", path, "optimizer.lr=0.05", "--print-config"});
  ASSERT_EQ(r.status, 0) << r.err;
  const proto::Experiment e = train::ParseExperiment(r.out, "printed");
  EXPECT_EQ(e.name(), "cli_synthetic");
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.05f);
  EXPECT_EQ(e.trainer().epochs(), 1);
  EXPECT_EQ(e.data().batch_size(), 32);
  EXPECT_THAT(r.out, HasSubstr("momentum"));  // defaults are printed too
  EXPECT_FALSE(fs::exists(dir_ / "runs"));    // nothing was trained
}

TEST_F(TrainCliTest, DefaultExperimentPrints) {
  const Result r =
      Loom({"train", std::string(LOOM_TEST_DATA_DIR) + "/../../configs/fashion_mnist_mlp.yaml",
            "--print-config"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(train::ParseExperiment(r.out, "printed").model().builtin(), "mlp");
  const Result lenet =
      Loom({"train", std::string(LOOM_TEST_DATA_DIR) + "/../../configs/fashion_mnist_lenet.yaml",
            "--print-config"});
  ASSERT_EQ(lenet.status, 0) << lenet.err;
  EXPECT_EQ(train::ParseExperiment(lenet.out, "printed").model().builtin(), "lenet");
}

TEST_F(TrainCliTest, ConfigErrorsExitTwoNamingFileAndLine) {
  const std::string path = Write("bad.yaml", "name: x\nmodel:\n  builtin: mlp\n  hiden: [3]\n");
  const Result r = Loom({"train", path});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:4"));
  EXPECT_THAT(r.err, HasSubstr("hidden"));  // the nearest valid key
  const std::string ok = Write("ok.yaml", kSynthetic);
  const Result o = Loom({"train", ok, "optimizer.lr=fast"});
  EXPECT_EQ(o.status, 2);
  EXPECT_THAT(o.err, HasSubstr("optimizer.lr"));
  EXPECT_EQ(Loom({"train", (dir_ / "missing.yaml").string()}).status, 2);
}

TEST_F(TrainCliTest, UsageErrors) {
  EXPECT_EQ(Loom({"train"}).status, 2);
  EXPECT_EQ(Loom({"train", "a.yaml", "b.yaml"}).status, 2);
  const Result unknown = Loom({"train", "a.yaml", "--fast"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown option '--fast'"));
  const Result help = Loom({"train", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: loom train EXPERIMENT.yaml"));
  EXPECT_THAT(Loom({"--help"}).out, HasSubstr("train EXPERIMENT.yaml"));
}

TEST_F(TrainCliTest, ShortRunExitsZeroAndSavesOverrides) {
  const std::string path = Write("exp.yaml", kSynthetic);
  const std::string run = (dir_ / "run").string();
  const Result r = Loom({"train", path, "logging.run_dir=" + run, "trainer.epochs=2"});
  ASSERT_EQ(r.status, 0) << r.err;
  // Lines mode, one line per batch: 3 batches per epoch.
  EXPECT_THAT(r.out, HasSubstr("epoch 1/2 iter 3/3 eta"));
  EXPECT_THAT(r.out, HasSubstr("epoch 2/2 done in"));
  std::ifstream in(fs::path(run) / "overrides.yaml");
  std::stringstream overrides;
  overrides << in.rdbuf();
  EXPECT_EQ(overrides.str(), "- 'logging.run_dir=" + run + "'\n- 'trainer.epochs=2'\n");
  EXPECT_TRUE(fs::exists(fs::path(run) / "checkpoints" / "ckpt-final.pb"));
}

TEST(VersionCli, ListsLibrariesAndGpus) {
  for (const char* spelling : {"--version", "version"}) {
    const Result r = Loom({spelling});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("loom "));
    for (const char* library :
         {"CUDA", "cuDNN", "cuBLAS", "NCCL", "MPI", "oneDNN", "OpenBLAS", "oneTBB", "protobuf"}) {
      EXPECT_THAT(r.out, HasSubstr(std::string("\n  ") + library + " ")) << library;
    }
    EXPECT_THAT(r.out, HasSubstr(NumGpus() == 0 ? "GPUs      none found" : "GPU       gpu(0): "));
  }
  const Result extra = Loom({"version", "--all"});
  EXPECT_EQ(extra.status, 2);
  EXPECT_THAT(extra.err, HasSubstr("expected no arguments"));
}

}  // namespace
}  // namespace loom
