// MakeReplicaReducer: cross-replica sums (synchronized BatchNorm) over a communicator of their
// own. The Mpi* tests run under `mpirun -np 2` (ctest comm_mpi_np2, comm_mpi_fault_np2) and
// skip when started alone; every rank runs them in the same order.
#include "loom/comm/replica_reducer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "loom/comm/communicator.h"
#include "loom/comm/launch.h"
#include "loom/scheduler/error.h"
#include "mpi_test_util.h"

namespace loom::comm {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ReplicaReducer, OneRankLeavesTheDataAlone) {
  auto reducer = MakeReplicaReducer(CommOptions{.backend = "local"});
  EXPECT_EQ(reducer->num_replicas(), 1);
  std::vector<double> v = {1.5, -2, 3};
  reducer->SumInPlace(v.data(), v.size());
  EXPECT_EQ(v, (std::vector<double>{1.5, -2, 3}));
  EXPECT_THROW(MakeReplicaReducer(std::shared_ptr<Communicator>()), Error);
}

// Rank r's value of element i of sum k: distinct per rank, exact in double.
double Value(int rank, int k, size_t i) { return static_cast<double>(k * 1000 + i * 3 + rank * 7); }

// Sums issued from engine operations (as BatchNorm's) while gradient allreduces are in flight
// on the KVStore's communicator, issued from another thread.
TEST(MpiReplicaReducer, SumsWhileGradientAllReducesAreInFlight) {
  LOOM_REQUIRE_RANKS();
  if (Engine::Get().kind() == "naive") {
    GTEST_SKIP() << "two threads each blocking in an engine operation need a concurrent engine";
  }
  auto grads = Communicator::Create({.backend = "mpi", .timeout = std::chrono::seconds(60)});
  auto reducer =
      MakeReplicaReducer(CommOptions{.backend = "mpi", .timeout = std::chrono::seconds(60)});
  const int rank = grads->rank(), size = grads->size();
  ASSERT_EQ(reducer->num_replicas(), size);

  std::vector<NDArray> gradients;
  std::thread trainer([&] {
    for (int i = 0; i < 20; ++i) {
      gradients.push_back(NDArray::Full({1 << 18}, rank + i, Context::CPU(i % 2)));
      grads->AllReduce(gradients.back(), gradients.back());
    }
  });
  constexpr int kSums = 40;
  std::vector<std::vector<double>> sums(kSums);
  NDArray order = NDArray::Zeros({1});  // every sum writes it: they run in push order
  for (int k = 0; k < kSums; ++k) {
    sums[k].resize(k % 5 == 0 ? 1 : 2 * k + 1);
    for (size_t i = 0; i < sums[k].size(); ++i) sums[k][i] = Value(rank, k, i);
    std::vector<double>* data = &sums[k];
    Engine::Get().Push(
        [reducer, data](RunContext) { reducer->SumInPlace(data->data(), data->size()); },
        Context::CPU(), {}, {order.var()}, 0, "bn_sum");
  }
  order.WaitToRead();
  trainer.join();
  for (int k = 0; k < kSums; ++k) {
    for (size_t i = 0; i < sums[k].size(); ++i) {
      double expected = 0;
      for (int r = 0; r < size; ++r) expected += Value(r, k, i);
      ASSERT_EQ(sums[k][i], expected) << "sum " << k << " element " << i;
    }
  }
  for (int i = 0; i < 20; ++i) {
    const float expected = size * (size - 1) / 2.0f + size * i;
    const std::vector<float> v = gradients[i].ToVector<float>();
    ASSERT_EQ(v.front(), expected) << i;
    ASSERT_EQ(v.back(), expected) << i;
  }
}

// One rank never sums: the other's SumInPlace fails within the reducer's timeout with a
// CommError naming the missing rank (which fails the BatchNorm operation calling it).
TEST(MpiFault, ReplicaReducerNamesTheMissingRank) {
  LOOM_REQUIRE_RANKS();
  auto fresh = Communicator::Create({.backend = "mpi", .timeout = std::chrono::seconds(60)});
  auto reducer =
      MakeReplicaReducer(CommOptions{.backend = "mpi", .timeout = std::chrono::milliseconds(2000)});
  std::vector<double> v = {1, 2, 3};
  if (fresh->rank() == 0) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THAT([&] { reducer->SumInPlace(v.data(), v.size()); },
                ::testing::ThrowsMessage<CommError>(
                    AllOf(HasSubstr("allreduce #1 (3 x float64) timed out after 2 s on rank 0"),
                          HasSubstr("rank 1 has not issued it"))));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 4.0);
  }
  fresh->Barrier().Wait();
  if (fresh->rank() == 1) {
    // The late sum completes rank 0's abandoned one, so nothing is left in flight.
    reducer->SumInPlace(v.data(), v.size());
  }
  fresh->Barrier().Wait();
}

}  // namespace
}  // namespace loom::comm
