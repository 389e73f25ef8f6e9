// Collectives across processes. Run under `mpirun -np 2` (ctest comm_mpi_np2 and
// comm_mpi_fault_np2); started alone they skip. Every rank runs the same tests in the same order,
// so their communicators match.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "loom/comm/bucketer.h"
#include "loom/comm/communicator.h"
#include "loom/comm/kvstore.h"
#include "loom/comm/launch.h"
#include "loom/core/storage.h"
#include "loom/scheduler/error.h"
#include "mpi_test_util.h"

namespace loom::comm {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

std::shared_ptr<Communicator> Mpi(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  return Communicator::Create({.backend = "mpi", .timeout = timeout});
}

// Rank r's value of element i: distinct per rank and element, exact in float.
double Value(int rank, size_t i) { return static_cast<double>((i * 7 + rank * 13) % 1000); }

template <typename T>
NDArray RankArray(int rank, size_t n, Context ctx = Context::CPU()) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<T>(Value(rank, i));
  return NDArray::FromHost(v, {static_cast<int64_t>(n)}, ctx);
}

TEST(MpiCommunicator, AllReduceOddSizes) {
  LOOM_REQUIRE_RANKS();
  auto comm = Mpi();
  EXPECT_EQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->size(), DiscoverLaunch().size);
  EXPECT_EQ(comm->rank(), DiscoverLaunch().rank);
  for (size_t n : {1, 7, 1001, 65537, 1000003}) {
    NDArray f = RankArray<float>(comm->rank(), n);
    NDArray d = RankArray<double>(comm->rank(), n, Context::CPU(1));
    NDArray out = NDArray::Empty({static_cast<int64_t>(n)}, Context::CPU(1), DType::kFloat64);
    comm->AllReduce(f, f);    // in place
    comm->AllReduce(d, out);  // out of place, another device's pool
    const std::vector<float> fv = f.ToVector<float>();
    const std::vector<double> dv = out.ToVector<double>();
    for (size_t i = 0; i < n; ++i) {
      double sum = 0;
      for (int r = 0; r < comm->size(); ++r) sum += Value(r, i);
      ASSERT_EQ(fv[i], static_cast<float>(sum)) << "n " << n << " element " << i;
      ASSERT_EQ(dv[i], sum) << "n " << n << " element " << i;
    }
  }
}

TEST(MpiCommunicator, BroadcastAndAllGatherOddSizes) {
  LOOM_REQUIRE_RANKS();
  auto comm = Mpi();
  const int size = comm->size();
  for (size_t n : {1, 3, 999, 100003}) {
    for (int root = 0; root < size; ++root) {
      NDArray a = RankArray<double>(comm->rank(), n);
      comm->Broadcast(a, root).Wait();
      const std::vector<double> v = a.ToVector<double>();
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(v[i], Value(root, i));
    }
    NDArray in = RankArray<float>(comm->rank(), n);
    NDArray out = NDArray::Empty({static_cast<int64_t>(size), static_cast<int64_t>(n)});
    comm->AllGather(in, out).Wait();
    const std::vector<float> v = out.ToVector<float>();
    for (int r = 0; r < size; ++r) {
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(v[r * n + i], static_cast<float>(Value(r, i)));
    }
  }
  comm->Barrier().Wait();
}

// Collectives start in issue order even when a later one's input is ready first: the first
// collective's input comes from a slow engine operation on one rank only.
TEST(MpiCommunicator, IssueOrderNotReadinessOrder) {
  LOOM_REQUIRE_RANKS();
  auto comm = Mpi();
  NDArray slow = NDArray::Zeros({1000});
  NDArray fast = NDArray::Ones({10});
  if (comm->rank() == 0) {
    Engine::Get().Push(
        [](RunContext) { std::this_thread::sleep_for(std::chrono::milliseconds(300)); },
        Context::CPU(2), {}, {slow.var()}, 0, "slow_producer");
  }
  slow += 1.0;
  Work a = comm->AllReduce(slow, slow);
  Work b = comm->AllReduce(fast, fast);
  b.Wait();
  a.Wait();
  EXPECT_EQ(slow.ToVector<float>(), std::vector<float>(1000, 1.0f * comm->size()));
  EXPECT_EQ(fast.ToVector<float>(), std::vector<float>(10, 1.0f * comm->size()));
}

// Many collectives in flight at once, pushed from a loop as a trainer would.
TEST(MpiCommunicator, ManyInFlight) {
  LOOM_REQUIRE_RANKS();
  auto comm = Mpi();
  std::vector<NDArray> arrays;
  for (int i = 0; i < 200; ++i) {
    arrays.push_back(NDArray::Full({i % 17 + 1}, comm->rank() + i, Context::CPU(i % 3)));
    comm->AllReduce(arrays.back(), arrays.back(), -i);
  }
  const int size = comm->size();
  for (int i = 0; i < 200; ++i) {
    const float expected = size * (size - 1) / 2.0f + size * i;
    ASSERT_EQ(arrays[i].ToVector<float>(), std::vector<float>(i % 17 + 1, expected)) << i;
  }
}

// Bucketing gives exactly the per-tensor allreduce results (random data differing per rank).
TEST(MpiBucketer, EqualsPerTensorAllReduce) {
  LOOM_REQUIRE_RANKS();
  auto comm = Mpi();
  std::mt19937 gen(11 + comm->rank());
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<NDArray> grads, reference;
  for (int i = 0; i < 40; ++i) {
    const int64_t n = 1 + (i * 997) % 5000;
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    grads.push_back(NDArray::FromHost(v, {n}));
    reference.push_back(NDArray::FromHost(v, {n}));
  }
  for (NDArray& r : reference) comm->AllReduce(r, r);
  GradientBucketer bucketer(comm, grads, {}, {.bucket_bytes = 16 << 10});
  EXPECT_GT(bucketer.buckets().size(), 3u);
  for (int step = 0; step < 2; ++step) {
    for (int i = 39; i >= 0; --i) bucketer.Ready(i);
    bucketer.Wait();
    for (int i = 0; i < 40; ++i) {
      ASSERT_EQ(grads[i].ToVector<float>(), reference[i].ToVector<float>()) << "gradient " << i;
    }
    if (step == 0) {
      for (NDArray& r : reference) comm->AllReduce(r, r);
    }
  }
}

// The KVStore's fused list call equals per-key pushes across ranks.
TEST(MpiKVStore, FusedListEqualsPerKey) {
  LOOM_REQUIRE_RANKS();
  KVStoreOptions options;
  options.bucket_bytes = 4 << 10;
  auto fused = KVStore::Create("dist_sync", options);
  auto single = KVStore::Create("dist_sync");
  std::vector<Key> keys;
  std::vector<NDArray> grads;
  for (int i = 0; i < 30; ++i) {
    const int64_t n = 1 + (i * 131) % 2000;
    keys.push_back(i);
    fused->Init(i, NDArray::Zeros({n}));
    single->Init(i, NDArray::Zeros({n}));
    grads.push_back(RankArray<float>(fused->rank(), n));
  }
  std::vector<NDArray> a, b;
  for (const NDArray& g : grads) {
    a.push_back(NDArray::Empty(g.shape()));
    b.push_back(NDArray::Empty(g.shape()));
  }
  fused->PushPull(keys, grads, a);
  for (int i = 0; i < 30; ++i) single->PushPull(i, {grads[i]}, {b[i]}, -i);
  for (int i = 0; i < 30; ++i) ASSERT_EQ(a[i].ToVector<float>(), b[i].ToVector<float>()) << i;
}

// Whether each rank can have a GPU of its own (NCCL refuses two ranks on one GPU); the reason
// otherwise. The same on every rank of one machine, so that all skip together.
std::string NoGpuPerRankReason(int ranks) {
  const std::vector<std::string> backends = AvailableBackends();
  if (std::find(backends.begin(), backends.end(), "nccl") == backends.end()) {
    return "no nccl backend: Loom was built without CUDA or NCCL";
  }
  if (NumGpus() < ranks) {
    return "the nccl tests need a GPU per rank: " + std::to_string(NumGpus()) + " GPU(s) for " +
           std::to_string(ranks) + " ranks";
  }
  return "";
}

// The NCCL communicator (its id broadcast over MPI): sums of GPU arrays, odd sizes, both float
// types, in place and out of place; then dist_device_sync and nccl kvstores over GPU gradients.
TEST(NcclCommunicator, AllReduceGpuArrays) {
  LOOM_REQUIRE_RANKS();
  if (const std::string reason = NoGpuPerRankReason(DiscoverLaunch().size); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  auto comm = Communicator::Create({.backend = "nccl", .timeout = std::chrono::seconds(60)});
  EXPECT_EQ(comm->backend(), "nccl");
  const Context gpu = Context::GPU(comm->rank() % NumGpus());
  for (size_t n : {1, 7, 65537, 1000003}) {
    NDArray f = RankArray<float>(comm->rank(), n, gpu);
    NDArray d = RankArray<double>(comm->rank(), n, gpu);
    NDArray out = NDArray::Empty({static_cast<int64_t>(n)}, gpu, DType::kFloat64);
    comm->AllReduce(f, f);
    comm->AllReduce(d, out);
    const std::vector<float> fv = f.ToVector<float>();
    const std::vector<double> dv = out.ToVector<double>();
    for (size_t i = 0; i < n; ++i) {
      double sum = 0;
      for (int r = 0; r < comm->size(); ++r) sum += Value(r, i);
      ASSERT_EQ(fv[i], static_cast<float>(sum)) << "n " << n << " element " << i;
      ASSERT_EQ(dv[i], sum) << "n " << n << " element " << i;
    }
  }
  for (const char* type : {"nccl", "dist_device_sync"}) {
    auto kv = KVStore::Create(type);
    std::vector<Key> keys;
    std::vector<NDArray> grads, outs;
    for (int i = 0; i < 12; ++i) {
      const int64_t n = 1 + (i * 977) % 5000;
      keys.push_back(i);
      kv->Init(i, NDArray::Zeros({n}));
      grads.push_back(RankArray<float>(kv->rank(), static_cast<size_t>(n), gpu));
      outs.push_back(NDArray::Empty({n}, gpu));
    }
    kv->PushPull(keys, grads, outs);
    for (int i = 0; i < 12; ++i) {
      const std::vector<float> got = outs[i].ToVector<float>();
      for (size_t e = 0; e < got.size(); ++e) {
        double sum = 0;
        for (int r = 0; r < kv->num_workers(); ++r) sum += Value(r, e);
        ASSERT_EQ(got[e], static_cast<float>(sum)) << type << " key " << i << " element " << e;
      }
    }
  }
}

// One rank never issues a collective: the other fails within the timeout naming it, and the
// communicator refuses further work; a fresh communicator still works.
TEST(MpiFault, SkippedCollectiveNamesTheMissingRank) {
  LOOM_REQUIRE_RANKS();
  auto fresh = Mpi();
  const auto timeout = std::chrono::milliseconds(2000);
  auto comm = Mpi(timeout);
  NDArray a = NDArray::Ones({1000});
  comm->AllReduce(a, a).Wait();
  if (comm->rank() == 0) {
    const Clock::time_point start = Clock::now();
    Work w = comm->AllReduce(a, a);
    EXPECT_THAT([&] { w.Wait(); },
                ::testing::ThrowsMessage<CommError>(AllOf(
                    HasSubstr("allreduce #2 (1000 x float32) timed out after 2 s on rank 0 of "),
                    HasSubstr("rank 1 has not issued it (its last issued collective is #1)"))));
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_GE(seconds, 1.9);
    EXPECT_LT(seconds, 4.0);
    EXPECT_THROW(a.WaitToRead(), CommError);
    EXPECT_THAT([&] { comm->Barrier().Wait(); },
                ::testing::ThrowsMessage<CommError>(
                    HasSubstr("barrier #3 cannot run on rank 0 of 2: this communicator failed "
                              "earlier: allreduce #2")));
  }
  fresh->Barrier().Wait();
  if (comm->rank() == 1) {
    // Issue the late collective, so rank 0's abandoned one completes and nothing is left over.
    NDArray b = NDArray::Ones({1000});
    comm->AllReduce(b, b).Wait();
  }
  fresh->Barrier().Wait();
}

// A rank that issued the collective but whose input is still being computed is reported so.
TEST(MpiFault, StalledInputIsReported) {
  LOOM_REQUIRE_RANKS();
  auto fresh = Mpi();
  auto comm = Mpi(std::chrono::milliseconds(2000));
  NDArray a = NDArray::Ones({100});
  if (comm->rank() == 1) {
    Engine::Get().Push(
        [](RunContext) { std::this_thread::sleep_for(std::chrono::milliseconds(3500)); },
        Context::CPU(1), {}, {a.var()}, 0, "slow_backward");
  }
  Work w = comm->AllReduce(a, a);
  if (comm->rank() == 0) {
    // The naive engine runs the slow producer in the pushing thread: rank 1 has not even
    // issued the allreduce then.
    const bool naive = Engine::Get().kind() == "naive";
    EXPECT_THAT([&] { w.Wait(); },
                ::testing::ThrowsMessage<CommError>(AllOf(
                    HasSubstr("allreduce #1 (100 x float32) timed out"),
                    HasSubstr(naive ? "rank 1 has not issued it (it has issued no collective yet)"
                                    : "rank 1 issued it but has not started it (its inputs are "
                                      "not ready"))));
  } else {
    w.Wait();  // started late; rank 0's abandoned allreduce still completes it
  }
  fresh->Barrier().Wait();
}

}  // namespace
}  // namespace loom::comm
