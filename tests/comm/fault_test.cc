// A rank that dies mid-job. CommFault.* (run in one process by ctest) launches this binary under
// `mpirun -np 2` with LOOM_TEST_SCENARIO=killed_rank, where ScenarioKilledRank kills rank 1 with
// SIGKILL after a first allreduce, and checks what really happens:
// - plain mpirun: Open MPI notices the dead process and aborts the job itself; mpirun exits
//   non-zero within seconds, naming rank 1 ("process rank 1 ... exited on signal 9").
// - mpirun --enable-recovery (Open MPI keeps the survivors running): rank 0's allreduce times
//   out after LOOM_COMM_TIMEOUT and its CommError names the collective and rank 1 as not
//   answering; the process exits with status 3. A shell wrapper prints each rank's exit status,
//   since mpirun itself returns 0 in that mode.
// Neither ever hangs; both finish well within the time bound the test asserts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "loom/comm/communicator.h"
#include "loom/comm/launch.h"
#include "loom/scheduler/error.h"

#ifndef LOOM_MPIEXEC
#define LOOM_MPIEXEC ""  // a build without MPI: the CommFault tests skip
#endif

namespace loom::comm {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kScenario = "LOOM_TEST_SCENARIO";
constexpr int kTimeoutSeconds = 3;
constexpr int kSurvivorStatus = 3;

// Runs inside the job that CommFault.* starts; skipped everywhere else.
TEST(ScenarioKilledRank, SurvivorReportsTheDeadRank) {
  const char* scenario = std::getenv(kScenario);
  if (!scenario || std::string(scenario) != "killed_rank") {
    GTEST_SKIP() << "only runs in the job CommFault.* launches";
  }
  auto comm = Communicator::Create({.backend = "mpi"});
  NDArray a = NDArray::Ones({1000});
  comm->AllReduce(a, a).Wait();
  if (comm->rank() == 1) std::raise(SIGKILL);
  try {
    comm->AllReduce(a, a).Wait();
  } catch (const CommError& e) {
    // What `loom train` does with a CommError: print it and exit non-zero.
    std::fprintf(stderr, "[rank %d] CommError: %s\n", comm->rank(), e.what());
    std::fflush(stderr);
    std::exit(kSurvivorStatus);
  }
  ADD_FAILURE() << "the allreduce with a dead rank completed";
}

struct JobResult {
  int status = -1;  // mpirun's exit status
  std::string output;
  double seconds = 0;
};

JobResult RunJob(const std::string& mpirun_flags, bool wrap) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  self[n] = '\0';
  std::string command =
      "timeout 120 " LOOM_MPIEXEC " -np 2 --oversubscribe --bind-to none " + mpirun_flags +
      (geteuid() == 0 ? " --allow-run-as-root" : "") + " -x " + kScenario +
      "=killed_rank -x LOOM_COMM_TIMEOUT=" + std::to_string(kTimeoutSeconds) + " ";
  const std::string test = std::string(self) + " --gtest_filter=ScenarioKilledRank.*";
  if (wrap) {
    command += "/bin/sh -c '" + test +
               " >/dev/null; echo \"loom-test rank $OMPI_COMM_WORLD_RANK status $?\"'";
  } else {
    command += test;
  }
  command += " 2>&1";
  JobResult result;
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t got = 0;
  while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, got);
  const int status = pclose(pipe);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

#define LOOM_REQUIRE_MPIRUN()                                                            \
  do {                                                                                   \
    if (std::string(LOOM_MPIEXEC).empty()) GTEST_SKIP() << "a build without MPI";        \
    if (DiscoverLaunch().size > 1) GTEST_SKIP() << "launches its own job: run it alone"; \
  } while (0)

TEST(CommFault, KilledRankAbortsTheJob) {
  LOOM_REQUIRE_MPIRUN();
  const JobResult job = RunJob("", /*wrap=*/false);
  SCOPED_TRACE(job.output);
  EXPECT_NE(job.status, 0);
  EXPECT_NE(job.status, 124) << "the job hung until timeout(1) killed it";
  EXPECT_THAT(job.output, HasSubstr("rank 1"));
  EXPECT_LT(job.seconds, 60);
}

TEST(CommFault, SurvivorExitsNonZeroNamingTheDeadRank) {
  LOOM_REQUIRE_MPIRUN();
  const JobResult job = RunJob("--enable-recovery", /*wrap=*/true);
  SCOPED_TRACE(job.output);
  EXPECT_NE(job.status, 124) << "the job hung until timeout(1) killed it";
  EXPECT_THAT(job.output,
              AllOf(HasSubstr("[rank 0] CommError: allreduce #2 (1000 x float32) timed out after "
                              "3 s on rank 0 of 2"),
                    HasSubstr("rank 1 did not answer"),
                    HasSubstr("loom-test rank 0 status " + std::to_string(kSurvivorStatus))));
  EXPECT_THAT(job.output, Not(HasSubstr("loom-test rank 0 status 0")));
  EXPECT_LT(job.seconds, kTimeoutSeconds + 30);
}

}  // namespace
}  // namespace loom::comm
