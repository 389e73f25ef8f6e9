// The local communicator, argument checks, LOOM_COMM_TIMEOUT and rank discovery (one process).
#include "loom/comm/communicator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "loom/comm/launch.h"
#include "loom/scheduler/env.h"
#include "loom/scheduler/error.h"

namespace loom::comm {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

using Vars = std::map<std::string, std::optional<std::string>>;

// Sets environment variables for one scope and restores them afterwards.
class ScopedEnv {
 public:
  explicit ScopedEnv(const Vars& vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      Set(name, value);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) Set(name, value);
  }

 private:
  static void Set(const std::string& name, const std::optional<std::string>& value) {
    if (value) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

// Every launcher variable unset, so a test under mpirun or Slurm sees a clean slate.
Vars NoLauncher() {
  Vars vars;
  for (const char* name :
       {"LOOM_RANK", "LOOM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE", "PMI_RANK", "PMI_SIZE",
        "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
        "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}) {
    vars[name] = std::nullopt;
  }
  return vars;
}

TEST(LocalCommunicator, CollectivesAreIdentities) {
  auto comm = Communicator::Create({.backend = "local"});
  EXPECT_EQ(comm->backend(), "local");
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  NDArray a = NDArray::FromHost<float>({1, 2, 3}, {3});
  NDArray b = NDArray::Empty({3});
  Work w = comm->AllReduce(a, b);
  EXPECT_EQ(w.seq(), 1u);
  EXPECT_EQ(w.op(), CollectiveOp::kAllReduce);
  w.Wait();
  EXPECT_TRUE(w.IsCompleted());
  EXPECT_EQ(b.ToVector<float>(), (std::vector<float>{1, 2, 3}));
  comm->AllReduce(a, a).Wait();
  EXPECT_EQ(a.ToVector<float>(), (std::vector<float>{1, 2, 3}));
  NDArray d = NDArray::FromHost<double>({4, 5}, {2});
  comm->Broadcast(d, 0).Wait();
  EXPECT_EQ(d.ToVector<double>(), (std::vector<double>{4, 5}));
  NDArray g = NDArray::Empty({2}, Context::CPU(), DType::kFloat64);
  comm->AllGather(d, g).Wait();
  EXPECT_EQ(g.ToVector<double>(), (std::vector<double>{4, 5}));
  Work barrier = comm->Barrier();
  barrier.Wait();
  EXPECT_EQ(barrier.seq(), 5u);
  EXPECT_EQ(comm->issued(), 5u);
  EXPECT_TRUE(Work().IsCompleted());
}

// A collective is an engine operation: it waits for its input's writer and its output can be
// waited on like any array.
TEST(LocalCommunicator, OrderedByTheEngine) {
  auto comm = Communicator::Create({.backend = "local"});
  NDArray a = NDArray::Zeros({1000});
  a += 5.0;
  NDArray b = NDArray::Empty({1000});
  comm->AllReduce(a, b);
  b += 1.0;
  EXPECT_EQ(b.ToVector<float>(), std::vector<float>(1000, 6.0f));
}

TEST(LocalCommunicator, ChecksArguments) {
  auto comm = Communicator::Create({.backend = "local"});
  NDArray f = NDArray::Ones({4});
  EXPECT_THAT([&] { comm->AllReduce(NDArray::Ones({4}, Context::CPU(), DType::kInt32), f); },
              ThrowsMessage<DTypeError>(HasSubstr("expected an input of dtype float32 or float64 "
                                                  "but got int32")));
  EXPECT_THAT([&] { comm->AllReduce(f, NDArray::Ones({5})); },
              ThrowsMessage<ShapeError>(HasSubstr("expected an output of 4 elements")));
  EXPECT_THAT([&] { comm->AllReduce(f, NDArray::Ones({4}, Context::CPU(), DType::kFloat64)); },
              ThrowsMessage<DTypeError>(HasSubstr("expected an output of dtype float32")));
  EXPECT_THAT([&] { comm->AllReduce(f, NDArray::Ones({4}, Context::CPU(1))); },
              ThrowsMessage<Error>(HasSubstr("expected input and output on one context")));
  EXPECT_THAT([&] { comm->Broadcast(f, 1); },
              ThrowsMessage<Error>(HasSubstr("expected a root rank from 0 to 0 but got 1")));
  EXPECT_THAT([&] { comm->AllGather(f, NDArray::Ones({8})); },
              ThrowsMessage<ShapeError>(HasSubstr("expected an output of 1 x 4 = 4 elements")));
  EXPECT_THAT([&] { comm->AllGather(f, f); },
              ThrowsMessage<Error>(HasSubstr("must not share memory")));
  EXPECT_THAT([&] { comm->AllReduce(NDArray(), f); },
              ThrowsMessage<Error>(HasSubstr("none NDArray")));
  EXPECT_EQ(comm->issued(), 0u);
}

TEST(CommunicatorCreate, Backends) {
  ScopedEnv env(NoLauncher());
  EXPECT_EQ(Communicator::Create()->backend(), "local");
  EXPECT_THAT([] { Communicator::Create({.backend = "gloo"}); },
              ThrowsMessage<Error>(HasSubstr("expected a communicator backend auto, local, mpi "
                                             "or nccl but got 'gloo'")));
  const std::vector<std::string> backends = AvailableBackends();
  EXPECT_EQ(backends.front(), "local");
  if (std::find(backends.begin(), backends.end(), "nccl") == backends.end()) {
    EXPECT_THROW(Communicator::Create({.backend = "nccl"}), NotSupportedError);
  }
  EXPECT_STREQ(ToString(CollectiveOp::kAllGather), "allgather");
}

TEST(CommunicatorTimeout, FromOptionsAndEnvironment) {
  using std::chrono::milliseconds;
  {
    ScopedEnv env(Vars{{env::kCommTimeout, std::nullopt}});
    EXPECT_EQ(ResolveTimeout({}), milliseconds(300'000));
    EXPECT_EQ(ResolveTimeout({.timeout = milliseconds(1500)}), milliseconds(1500));
  }
  {
    ScopedEnv env(Vars{{env::kCommTimeout, "2.5"}});
    EXPECT_EQ(ResolveTimeout({}), milliseconds(2500));
    EXPECT_EQ(Communicator::Create({.backend = "local"})->timeout(), milliseconds(2500));
  }
  for (const char* bad : {"soon", "-1", "0", "3s"}) {
    ScopedEnv env(Vars{{env::kCommTimeout, bad}});
    EXPECT_THAT([] { ResolveTimeout({}); },
                ThrowsMessage<Error>(HasSubstr("expected LOOM_COMM_TIMEOUT to be a positive "
                                               "number of seconds but got '" +
                                               std::string(bad))));
  }
}

TEST(DiscoverLaunch, LauncherVariables) {
  {
    ScopedEnv env(NoLauncher());
    const LaunchInfo info = DiscoverLaunch();
    EXPECT_EQ(info.rank, 0);
    EXPECT_EQ(info.size, 1);
    EXPECT_EQ(info.source, "");
    EXPECT_EQ(info.ToString(), "rank 0 of 1 (no launcher variables)");
  }
  {
    auto vars = NoLauncher();
    vars["OMPI_COMM_WORLD_RANK"] = "3";
    vars["OMPI_COMM_WORLD_SIZE"] = "4";
    vars["OMPI_COMM_WORLD_LOCAL_RANK"] = "1";
    vars["OMPI_COMM_WORLD_LOCAL_SIZE"] = "2";
    vars["SLURM_PROCID"] = "0";  // ignored: Open MPI's pair comes first
    vars["SLURM_NTASKS"] = "9";
    ScopedEnv env(vars);
    const LaunchInfo info = DiscoverLaunch();
    EXPECT_EQ(info.ToString(), "rank 3 of 4 (local 1 of 2) from OMPI_COMM_WORLD_*");
  }
  {
    auto vars = NoLauncher();
    vars["PMI_RANK"] = "1";
    vars["PMI_SIZE"] = "2";
    ScopedEnv env(vars);
    const LaunchInfo info = DiscoverLaunch();
    EXPECT_EQ(info.rank, 1);
    EXPECT_EQ(info.size, 2);
    EXPECT_EQ(info.local_rank, 1);
    EXPECT_EQ(info.source, "PMI_*");
  }
  {
    auto vars = NoLauncher();
    vars["SLURM_PROCID"] = "5";
    vars["SLURM_NTASKS"] = "8";
    vars["SLURM_LOCALID"] = "1";
    ScopedEnv env(vars);
    const LaunchInfo info = DiscoverLaunch();
    EXPECT_EQ(info.rank, 5);
    EXPECT_EQ(info.local_rank, 1);
    EXPECT_EQ(info.source, "SLURM_PROCID/SLURM_NTASKS");
  }
  {
    auto vars = NoLauncher();
    vars["LOOM_RANK"] = "0";
    vars["LOOM_WORLD_SIZE"] = "2";
    vars["RANK"] = "1";
    vars["WORLD_SIZE"] = "2";
    ScopedEnv env(vars);
    EXPECT_EQ(DiscoverLaunch().source, "LOOM_RANK/LOOM_WORLD_SIZE");
  }
}

TEST(DiscoverLaunch, BadVariablesAreErrors) {
  {
    auto vars = NoLauncher();
    vars["PMI_RANK"] = "1";
    ScopedEnv env(vars);
    EXPECT_THAT([] { DiscoverLaunch(); },
                ThrowsMessage<Error>(HasSubstr("the launcher set PMI_RANK but not PMI_SIZE")));
  }
  {
    auto vars = NoLauncher();
    vars["RANK"] = "2";
    vars["WORLD_SIZE"] = "2";
    ScopedEnv env(vars);
    EXPECT_THAT([] { DiscoverLaunch(); },
                ThrowsMessage<Error>(HasSubstr("expected RANK from 0 to WORLD_SIZE - 1")));
  }
  {
    auto vars = NoLauncher();
    vars["SLURM_PROCID"] = "x";
    vars["SLURM_NTASKS"] = "2";
    ScopedEnv env(vars);
    EXPECT_THAT([] { DiscoverLaunch(); },
                ThrowsMessage<Error>(HasSubstr("expected SLURM_PROCID to be a non-negative "
                                               "integer but got 'x'")));
  }
  {
    auto vars = NoLauncher();
    vars["OMPI_COMM_WORLD_RANK"] = "1";
    vars["OMPI_COMM_WORLD_SIZE"] = "2";
    ScopedEnv env(vars);
    const std::vector<std::string> backends = AvailableBackends();
    if (std::find(backends.begin(), backends.end(), "mpi") == backends.end()) {
      EXPECT_THAT([] { Communicator::Create(); },
                  ThrowsMessage<NotSupportedError>(HasSubstr("built without MPI")));
    }
  }
}

TEST(PrepareMpiEnvironment, SetsOpenMpiDefaultsAndKeepsTheUsers) {
  constexpr const char* kAlgorithm = "OMPI_MCA_coll_libnbc_iallreduce_algorithm";
  const char* before = std::getenv(kAlgorithm);
  const std::string saved = before ? before : "";
  unsetenv(kAlgorithm);
  PrepareMpiEnvironment();
  ASSERT_NE(std::getenv(kAlgorithm), nullptr);
  EXPECT_STREQ(std::getenv(kAlgorithm), "3");  // Rabenseifner's
  setenv(kAlgorithm, "1", /*overwrite=*/1);
  PrepareMpiEnvironment();
  EXPECT_STREQ(std::getenv(kAlgorithm), "1");
  if (before) {
    setenv(kAlgorithm, saved.c_str(), 1);
  } else {
    unsetenv(kAlgorithm);
  }
}

}  // namespace
}  // namespace loom::comm
