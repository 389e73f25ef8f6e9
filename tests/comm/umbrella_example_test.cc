// The example at the top of loom/comm.h, verbatim, with its stated results checked. Runs in one
// process and, as Mpi/CommHeaderExample under mpirun, across ranks.
#include <gtest/gtest.h>

#include <vector>

#include "loom/comm.h"

namespace {

class CommHeaderExample : public ::testing::TestWithParam<int> {};

TEST_P(CommHeaderExample, RunsAsDocumented) {
  // clang-format off
  auto kv = loom::comm::KVStore::Create("dist_sync");   // MPI under mpirun, else one process
  const int workers = kv->num_workers();
  kv->Init("w", loom::NDArray::Full({2, 3}, 1.0));      // every rank starts from rank 0's value
  kv->SetUpdater([](const loom::comm::Key&, const loom::NDArray& grad, loom::NDArray& w) {
    w -= grad * 0.5;                                    // a plain SGD step, once per push
  });
  std::vector<loom::NDArray> grads = {                  // two devices of this process
      loom::NDArray::Full({2, 3}, 1.0, loom::Context::CPU(0)),
      loom::NDArray::Full({2, 3}, 1.0, loom::Context::CPU(1))};
  loom::NDArray w = loom::NDArray::Empty({2, 3});
  kv->PushPull("w", grads, {w});                        // sum 2 * workers, then the step
  std::vector<float> v = w.ToVector<float>();           // 1 - 0.5 * 2 * workers everywhere

  auto comm = kv->communicator();                       // or Communicator::Create()
  loom::NDArray x = loom::NDArray::Full({5}, comm->rank() + 1.0);
  comm->AllReduce(x, x).Wait();                         // 1 + 2 + ... + workers
  kv->Barrier();
  // clang-format on

  EXPECT_EQ(v, std::vector<float>(6, 1.0f - 0.5f * 2 * workers));
  EXPECT_EQ(x.ToVector<float>(), std::vector<float>(5, workers * (workers + 1) / 2.0f));
}

INSTANTIATE_TEST_SUITE_P(InProcess, CommHeaderExample, ::testing::Values(0));
INSTANTIATE_TEST_SUITE_P(Mpi, CommHeaderExample, ::testing::Values(0));

}  // namespace
