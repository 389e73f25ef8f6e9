// `loom launch`: the mpirun command line built for each case (flags, hosts files, LOOM_* variables,
// the kvstore override), its errors, the command-line parsing, and one real 2-rank run of the
// `loom` executable through mpirun.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_test_util.h"
#include "loom/launcher/cli.h"
#include "loom/launcher/launch.h"
#include "loom/scheduler/error.h"

namespace loom {
namespace {

namespace fs = std::filesystem;
using launch::BuildLaunchCommand;
using launch::LaunchCommand;
using launch::LaunchEnvironment;
using launch::LaunchRequest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kExperiment = R"(name: launch_test
model: {builtin: mlp, hidden: [16], num_classes: 3}
data:
  train: {source: synthetic, num_samples: 96, shape: [8], num_classes: 3}
  batch_size: 16
optimizer: {name: sgd, lr: 0.1}
trainer: {epochs: 1}
logging: {progress: lines, log_every: 1, tensorboard: false}
)";

class LaunchCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("loom_launch_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    experiment_ = Write("exp.yaml", kExperiment);
    env_.mpirun = "/usr/bin/mpirun";
    env_.loom_executable = "/opt/loom/bin/loom";
    env_.local_cores = 4;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  LaunchRequest Request(int n, std::vector<std::string> overrides = {}) const {
    return {.num_processes = n,
            .hosts_file = "",
            .experiment = experiment_,
            .overrides = std::move(overrides)};
  }

  /// The message BuildLaunchCommand throws, or "" when it does not.
  std::string ErrorOf(const LaunchRequest& request) const {
    try {
      BuildLaunchCommand(request, env_);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
  std::string experiment_;
  LaunchEnvironment env_;
};

TEST_F(LaunchCommandTest, TwoLocalRanks) {
  const LaunchCommand cmd = BuildLaunchCommand(Request(2), env_);
  EXPECT_THAT(cmd.argv,
              ElementsAre("/usr/bin/mpirun", "-np", "2", "--bind-to", "none", "/opt/loom/bin/loom",
                          "train", experiment_, "distributed.kvstore=dist_sync"));
  ASSERT_EQ(cmd.notes.size(), 1u);
  EXPECT_THAT(cmd.notes[0], HasSubstr("kvstore 'local' does not reduce across processes"));
}

TEST_F(LaunchCommandTest, OversubscribesOnlyBeyondTheLocalCores) {
  const std::vector<std::string> four = BuildLaunchCommand(Request(4), env_).argv;
  EXPECT_EQ(std::count(four.begin(), four.end(), "--oversubscribe"), 0);
  const LaunchCommand five = BuildLaunchCommand(Request(5), env_);
  EXPECT_THAT(std::vector<std::string>(five.argv.begin(), five.argv.begin() + 6),
              ElementsAre("/usr/bin/mpirun", "-np", "5", "--bind-to", "none", "--oversubscribe"));
  EXPECT_THAT(five.notes[0], HasSubstr("5 processes on 4 cores"));
}

TEST_F(LaunchCommandTest, RootAndLoomVariables) {
  env_.is_root = true;
  env_.loom_variables = {"LOOM_COMM_TIMEOUT", "LOOM_NUM_THREADS"};
  const LaunchCommand cmd = BuildLaunchCommand(Request(1), env_);
  EXPECT_THAT(cmd.argv,
              ElementsAre("/usr/bin/mpirun", "-np", "1", "--bind-to", "none", "--allow-run-as-root",
                          "-x", "LOOM_COMM_TIMEOUT", "-x", "LOOM_NUM_THREADS", "/opt/loom/bin/loom",
                          "train", experiment_, "distributed.kvstore=dist_sync"));
  EXPECT_THAT(cmd.notes[0], HasSubstr("running as root"));
}

TEST_F(LaunchCommandTest, OverridesAndTheKVStoreChoice) {
  // Overrides are passed on in order; dist_sync is appended after them.
  EXPECT_THAT(BuildLaunchCommand(Request(2, {"optimizer.lr=0.5", "trainer.epochs=3"}), env_).argv,
              ElementsAre("/usr/bin/mpirun", "-np", "2", "--bind-to", "none", "/opt/loom/bin/loom",
                          "train", experiment_, "optimizer.lr=0.5", "trainer.epochs=3",
                          "distributed.kvstore=dist_sync"));
  // A kvstore that reduces across processes is kept, from an override or the file.
  for (const char* kv : {"dist_sync", "dist_device_sync", "nccl"}) {
    const LaunchCommand cmd =
        BuildLaunchCommand(Request(2, {std::string("distributed.kvstore=") + kv}), env_);
    EXPECT_EQ(cmd.argv.back(), std::string("distributed.kvstore=") + kv);
    EXPECT_TRUE(cmd.notes.empty()) << kv;
  }
  experiment_ =
      Write("dist.yaml", std::string(kExperiment) + "distributed: {kvstore: dist_sync}\n");
  EXPECT_EQ(BuildLaunchCommand(Request(2), env_).argv.back(), experiment_);
  // `device` (several devices per process) becomes its distributed counterpart.
  EXPECT_EQ(BuildLaunchCommand(Request(2, {"distributed.kvstore=device"}), env_).argv.back(),
            "distributed.kvstore=dist_device_sync");
}

TEST_F(LaunchCommandTest, HostsFile) {
  const std::string hosts =
      Write("hosts", "# two nodes\nnode1 slots=2\n\n  node2 slots=2 max_slots=4  # GPU\n");
  const std::vector<launch::HostEntry> entries = launch::ReadHostsFile(hosts);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].host, "node2");
  EXPECT_EQ(entries[1].slots, 2);
  EXPECT_EQ(entries[1].max_slots, 4);
  LaunchRequest request = Request(4);
  request.hosts_file = hosts;
  env_.local_cores = 1;  // the hosts' slots count, not this host's cores: no --oversubscribe
  EXPECT_THAT(
      BuildLaunchCommand(request, env_).argv,
      ElementsAre("/usr/bin/mpirun", "-np", "4", "--bind-to", "none", "--hostfile", hosts,
                  "/opt/loom/bin/loom", "train", experiment_, "distributed.kvstore=dist_sync"));
  request.num_processes = 5;
  EXPECT_THAT(ErrorOf(request), HasSubstr("-n 5 exceeds the 4 slots of hosts file '" + hosts));
  // A host without slots= has as many as it has cores, unknown here: no check.
  request.hosts_file = Write("hosts2", "node1 slots=2\nnode2\n");
  EXPECT_EQ(ErrorOf(request), "");
}

TEST_F(LaunchCommandTest, MalformedHostsFilesNameFileAndLine) {
  LaunchRequest request = Request(2);
  request.hosts_file = Write("h1", "node1 slots=2\nnode2 slots=two\n");
  EXPECT_THAT(ErrorOf(request), HasSubstr(request.hosts_file + ":2: expected a positive integer"));
  request.hosts_file = Write("h2", "node1\nnode2 cpus\n");
  EXPECT_THAT(ErrorOf(request), HasSubstr(request.hosts_file + ":2: expected key=value"));
  request.hosts_file = Write("h3", "\n\nnode1 gpus=2\n");
  EXPECT_THAT(ErrorOf(request), HasSubstr(request.hosts_file +
                                          ":3: expected slots=K or max_slots=K but got 'gpus=2'"));
  request.hosts_file = Write("h4", "slots=2 node1\n");
  EXPECT_THAT(ErrorOf(request), HasSubstr(request.hosts_file + ":1: expected a host name first"));
  request.hosts_file = Write("h5", "node1 slots=4 max_slots=2\n");
  EXPECT_THAT(ErrorOf(request), HasSubstr(":1: slots=4 exceeds max_slots=2"));
  request.hosts_file = Write("h6", "# nothing\n\n");
  EXPECT_THAT(ErrorOf(request), HasSubstr("names no host"));
  request.hosts_file = (dir_ / "missing_hosts").string();
  EXPECT_THAT(ErrorOf(request),
              HasSubstr("hosts file '" + request.hosts_file + "' does not exist"));
}

TEST_F(LaunchCommandTest, Errors) {
  EXPECT_THAT(ErrorOf(Request(0)), HasSubstr("expected -n N with N >= 1 but got 0"));
  LaunchRequest missing = Request(2);
  missing.experiment = (dir_ / "missing.yaml").string();
  EXPECT_THAT(ErrorOf(missing),
              HasSubstr("experiment file '" + missing.experiment + "' does not exist"));
  EXPECT_THAT(ErrorOf(Request(2, {"optimizer.lr=fast"})), HasSubstr("optimizer.lr"));
  env_.mpirun.clear();
  EXPECT_THAT(ErrorOf(Request(2)), HasSubstr("mpirun was not found in PATH"));
  EXPECT_THAT(ErrorOf(Request(2)), HasSubstr("openmpi-bin"));
}

TEST(LaunchShellQuote, QuotesOnlyWhatTheShellWouldSplitOrExpand) {
  EXPECT_EQ(launch::ShellQuote("optimizer.lr=0.5"), "optimizer.lr=0.5");
  EXPECT_EQ(launch::ShellQuote("/a/b-c_d,e:f@g%h+"), "/a/b-c_d,e:f@g%h+");
  EXPECT_EQ(launch::ShellQuote("a b"), "'a b'");
  EXPECT_EQ(launch::ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(launch::ShellQuote("$HOME"), "'$HOME'");
  EXPECT_EQ(launch::ShellQuote("[1,2]"), "'[1,2]'");
  EXPECT_EQ(launch::ShellQuote(""), "''");
  EXPECT_EQ(launch::ShellJoin({"loom", "train", "my exp.yaml"}), "loom train 'my exp.yaml'");
}

TEST(LaunchEnvironmentTest, ReadsThisProcess) {
  setenv("LOOM_LAUNCH_TEST_VARIABLE", "1", 1);
  unsetenv("LOOM_LAUNCH_TEST_UNSET");
  const LaunchEnvironment env = launch::CurrentEnvironment();
  EXPECT_THAT(env.loom_variables, ::testing::Contains("LOOM_LAUNCH_TEST_VARIABLE"));
  EXPECT_THAT(env.loom_variables, ::testing::Not(::testing::Contains("LOOM_LAUNCH_TEST_UNSET")));
  EXPECT_TRUE(std::is_sorted(env.loom_variables.begin(), env.loom_variables.end()));
  EXPECT_GE(env.local_cores, 1);
  EXPECT_EQ(env.is_root, geteuid() == 0);
  EXPECT_TRUE(fs::equivalent(env.loom_executable, "/proc/self/exe"));
  unsetenv("LOOM_LAUNCH_TEST_VARIABLE");
}

using testing_cli::Loom;
using testing_cli::Result;

TEST_F(LaunchCommandTest, CommandLine) {
  const Result help = Loom({"launch", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: loom launch -n N [--hosts FILE] [--dry-run]"));
  EXPECT_THAT(Loom({"--help"}).out, HasSubstr("launch -n N"));
  EXPECT_THAT(Loom({"launch", experiment_}).err, HasSubstr("expected -n N"));
  EXPECT_THAT(Loom({"launch", "-n", "2"}).err, HasSubstr("expected an experiment file"));
  EXPECT_THAT(Loom({"launch", "-n", "two", experiment_}).err,
              HasSubstr("expected a number after -n but got 'two'"));
  EXPECT_THAT(Loom({"launch", experiment_, "-n"}).err, HasSubstr("-n expects a value"));
  EXPECT_THAT(Loom({"launch", "-n", "2", experiment_, "--fast"}).err,
              HasSubstr("unknown option '--fast'"));
  EXPECT_THAT(Loom({"launch", "-n", "2", experiment_, "b.yaml"}).err,
              HasSubstr("expected one experiment file"));
  const Result zero = Loom({"launch", "-np", "0", experiment_});
  EXPECT_EQ(zero.status, 2);
  EXPECT_THAT(zero.err, HasSubstr("loom launch: expected -n N with N >= 1 but got 0"));
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"launch"}, {"launch", experiment_}, {"launch", "-n", "x", "a"}}) {
    EXPECT_EQ(Loom(bad).status, 2);
  }
}

TEST_F(LaunchCommandTest, DryRunPrintsOneLineAndRunsNothing) {
  if (launch::CurrentEnvironment().mpirun.empty()) GTEST_SKIP() << "no mpirun in PATH";
  const std::string run_dir = (dir_ / "run dir").string();
  const Result r =
      Loom({"launch", "-n", "2", "--dry-run", experiment_, "logging.run_dir=" + run_dir});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  EXPECT_THAT(r.out, ::testing::StartsWith("loom launch: "));
  EXPECT_THAT(r.out, HasSubstr(" -np 2 --bind-to none "));
  EXPECT_THAT(r.out, HasSubstr(" train " + experiment_ + " 'logging.run_dir=" + run_dir +
                               "' distributed.kvstore=dist_sync\n"));
  EXPECT_THAT(r.err, HasSubstr("loom launch: the experiment's kvstore 'local'"));
  EXPECT_FALSE(fs::exists(run_dir));
}

// The real thing: `loom launch -n 2` runs mpirun, which runs two `loom train` ranks that train one
// model together (rank 1 reports itself; rank 0 writes the final checkpoint).
TEST_F(LaunchCommandTest, RealRunOfTwoRanks) {
#ifndef LOOM_EXECUTABLE
  GTEST_SKIP() << "built without MPI (LOOM_USE_MPI=OFF)";
#else
  if (launch::CurrentEnvironment().mpirun.empty()) GTEST_SKIP() << "no mpirun in PATH";
  const std::string run_dir = (dir_ / "run").string();
  const std::string command = launch::ShellJoin({LOOM_EXECUTABLE, "launch", "-n", "2", experiment_,
                                                 "logging.run_dir=" + run_dir}) +
                              " 2>&1";
  setenv("LOOM_COMM_TIMEOUT", "60", 1);
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, n);
  const int status = pclose(pipe);
  unsetenv("LOOM_COMM_TIMEOUT");
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n" << output;
  EXPECT_THAT(output, HasSubstr("loom launch: "));
  EXPECT_THAT(output, HasSubstr("-x LOOM_COMM_TIMEOUT"));
  EXPECT_THAT(output, HasSubstr("rank 1 of 2"));
  EXPECT_THAT(output, HasSubstr("epoch 1/1 done"));
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "checkpoints" / "ckpt-final.pb")) << output;
#endif
}

}  // namespace
}  // namespace loom
