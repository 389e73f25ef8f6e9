// GradientBucketer and the KVStore's fused list calls, with a loopback communicator that plays
// several ranks holding the same data (so every sum is size * value): bucket layouts, launch
// order, results equal to per-tensor allreduce, and the one-rank no-op.
#include "loom/comm/bucketer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "loom/comm/kvstore.h"
#include "loom/scheduler/error.h"
#include "loopback_communicator.h"

namespace loom::comm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::LoopbackCommunicator;

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Gradients of 10, 20, ..., 60 floats; buckets of 100 bytes = 25 floats.
std::vector<NDArray> Grads(uint32_t seed) {
  std::vector<NDArray> grads;
  for (int i = 0; i < 6; ++i) {
    const int64_t n = 10 * (i + 1);
    grads.push_back(NDArray::FromHost(Random(n, seed + i), {n}));
  }
  return grads;
}

TEST(GradientBucketer, LayoutFollowsProductionOrder) {
  auto comm = std::make_shared<LoopbackCommunicator>(2);
  // Default order: 5, 4, ..., 0 (60, 50, 40, 30, 20, 10 floats) in buckets of 25 floats: each
  // of 5..2 overflows a bucket alone, and 20 + 10 > 25 as well.
  GradientBucketer bucketer(comm, Grads(1), {}, {.bucket_bytes = 100});
  EXPECT_EQ(bucketer.buckets(), (std::vector<std::vector<int>>{{5}, {4}, {3}, {2}, {1}, {0}}));
  GradientBucketer wide(comm, Grads(1), {}, {.bucket_bytes = 4 * 100});
  // 60 + 50 = 110 > 100 floats: {5}, then 50 + 40 = 90, + 30 > 100: {4, 3}, {2, 1, 0} = 60.
  EXPECT_EQ(wide.buckets(), (std::vector<std::vector<int>>{{5}, {4, 3}, {2, 1, 0}}));
  GradientBucketer ordered(comm, Grads(1), {0, 1, 2, 3, 4, 5}, {.bucket_bytes = 4 * 100});
  EXPECT_EQ(ordered.buckets(), (std::vector<std::vector<int>>{{0, 1, 2, 3}, {4}, {5}}));
}

TEST(GradientBucketer, FirstBucketIsCappedSeparately) {
  auto comm = std::make_shared<LoopbackCommunicator>(2);
  // First bucket at most 50 floats: {5} (60 floats) fills it alone; then buckets of 100 floats.
  GradientBucketer bucketer(comm, Grads(1), {},
                            {.bucket_bytes = 4 * 100, .first_bucket_bytes = 4 * 50});
  EXPECT_EQ(bucketer.buckets(), (std::vector<std::vector<int>>{{5}, {4, 3}, {2, 1, 0}}));
  // Order 0..5 with a first cap of 30 floats: 10 + 20 fills it; then 30 + 40, 50, 60.
  GradientBucketer small(comm, Grads(1), {0, 1, 2, 3, 4, 5},
                         {.bucket_bytes = 4 * 100, .first_bucket_bytes = 4 * 30});
  EXPECT_EQ(small.buckets(), (std::vector<std::vector<int>>{{0, 1}, {2, 3}, {4}, {5}}));
}

TEST(GradientBucketer, EqualsPerTensorAllReduceAndLaunchesInOrder) {
  auto comm = std::make_shared<LoopbackCommunicator>(3);
  std::vector<NDArray> grads = Grads(7);
  std::vector<std::vector<float>> expected;
  for (const NDArray& g : grads) {
    std::vector<float> v = g.ToVector<float>();
    for (float& x : v) x *= 3;
    expected.push_back(v);
  }
  GradientBucketer bucketer(comm, grads, {}, {.bucket_bytes = 4 * 100});
  // Hand gradients over out of order: bucket {2, 1, 0} completes first but must wait for the
  // buckets before it.
  for (int i : {0, 1, 2, 3}) bucketer.Ready(i);
  EXPECT_EQ(comm->issued(), 0u);
  bucketer.Ready(5);
  bucketer.Ready(4);
  bucketer.Wait();
  for (size_t i = 0; i < grads.size(); ++i) {
    EXPECT_EQ(grads[i].ToVector<float>(), expected[i]) << "gradient " << i;
  }
  std::vector<int64_t> elements;
  for (const auto& call : comm->calls()) elements.push_back(call.elements);
  EXPECT_THAT(elements, ElementsAre(60, 90, 60));
  // The next step starts over.
  bucketer.Flush();
  bucketer.Wait();
  EXPECT_EQ(comm->calls().size(), 6u);
  for (size_t i = 0; i < grads.size(); ++i) {
    std::vector<float> twice = expected[i];
    for (float& x : twice) x *= 3;
    EXPECT_EQ(grads[i].ToVector<float>(), twice) << "gradient " << i;
  }
}

TEST(GradientBucketer, OverlapsWithTheProducers) {
  // Ready is called before the gradients are written: the pack waits for the writers.
  auto comm = std::make_shared<LoopbackCommunicator>(2);
  std::vector<NDArray> grads = {NDArray::Zeros({100}), NDArray::Zeros({100})};
  GradientBucketer bucketer(comm, grads);
  grads[1] += 1.0;
  grads[0] += 2.0;
  bucketer.Ready(1);
  bucketer.Ready(0);
  grads[0] += 0.5;  // after the reduction, in push order
  EXPECT_EQ(grads[0].ToVector<float>(), std::vector<float>(100, 4.5f));
  EXPECT_EQ(grads[1].ToVector<float>(), std::vector<float>(100, 2.0f));
}

TEST(GradientBucketer, OneRankIsANoOp) {
  auto comm = Communicator::Create({.backend = "local"});
  std::vector<NDArray> grads = Grads(3);
  const std::vector<float> before = grads[2].ToVector<float>();
  GradientBucketer bucketer(comm, grads);
  EXPECT_TRUE(bucketer.buckets().empty());
  bucketer.Flush();
  bucketer.Wait();
  EXPECT_EQ(grads[2].ToVector<float>(), before);
  EXPECT_EQ(comm->issued(), 0u);
}

TEST(GradientBucketer, Misuse) {
  auto comm = std::make_shared<LoopbackCommunicator>(2);
  std::vector<NDArray> grads = Grads(1);
  grads[2] = NDArray();  // a parameter without gradient
  EXPECT_THAT(
      [&] {
        GradientBucketer(comm, grads, {0, 1, 3, 4});
      },
      ::testing::ThrowsMessage<Error>(
          HasSubstr("parameter 5 has a gradient but is missing from the order")));
  EXPECT_THAT(
      [&] {
        GradientBucketer(comm, grads, {0, 1, 3, 4, 5, 5});
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("parameter 5 is twice in the order")));
  EXPECT_THAT(
      [&] {
        GradientBucketer(comm, grads, {0, 1, 2, 3, 4, 5});
      },
      ::testing::ThrowsMessage<Error>(HasSubstr("parameter 2 is in the order but has no "
                                                "gradient array")));
  GradientBucketer bucketer(comm, grads);
  EXPECT_EQ(bucketer.buckets(), (std::vector<std::vector<int>>{{5, 4, 3, 1, 0}}));
  EXPECT_THAT([&] { bucketer.Ready(2); },
              ::testing::ThrowsMessage<Error>(HasSubstr("parameter 2 has no gradient")));
  bucketer.Ready(4);
  EXPECT_THAT([&] { bucketer.Ready(4); },
              ::testing::ThrowsMessage<Error>(HasSubstr("parameter 4 was already handed over")));
  bucketer.Flush();
  bucketer.Wait();
  grads[0] = NDArray::Ones({3}, Context::CPU(), DType::kInt32);
  EXPECT_THROW(GradientBucketer(comm, grads), DTypeError);
}

// A KVStore list call fuses keys into buckets in list order and sums like per-key pushes.
TEST(KVStoreFusion, ListCallsAreBucketedInListOrder) {
  auto comm = std::make_shared<LoopbackCommunicator>(2);
  KVStoreOptions options;
  options.communicator = comm;
  options.bucket_bytes = 4 * 100;
  auto kv = KVStore::Create("dist_sync", options);
  EXPECT_EQ(kv->num_workers(), 2);
  std::vector<Key> keys;
  std::vector<NDArray> grads, weights;
  for (int i = 0; i < 6; ++i) {
    const int64_t n = 10 * (i + 1);
    kv->Init(i, NDArray::Zeros({n}));
    grads.push_back(NDArray::FromHost(Random(n, 40 + i), {n}));
    weights.push_back(NDArray::Zeros({n}));
  }
  kv->WaitAll();
  EXPECT_EQ(comm->calls().size(), 6u);  // the inits' broadcasts
  for (int i = 5; i >= 0; --i) keys.push_back(i);
  std::vector<NDArray> reversed(grads.rbegin(), grads.rend());
  std::vector<NDArray> outs(weights.rbegin(), weights.rend());
  kv->SetUpdater([](const Key&, const NDArray& recv, NDArray& stored) { stored += recv; });
  kv->PushPull(keys, reversed, outs);
  kv->WaitAll();
  std::vector<LoopbackCommunicator::Call> calls = comm->calls();
  ASSERT_EQ(calls.size(), 9u);
  std::vector<int64_t> elements;
  for (size_t c = 6; c < calls.size(); ++c) elements.push_back(calls[c].elements);
  EXPECT_THAT(elements, ElementsAre(60, 90, 60));
  for (int i = 0; i < 6; ++i) {
    std::vector<float> expected = grads[i].ToVector<float>();
    for (float& x : expected) x *= 2;
    EXPECT_EQ(weights[i].ToVector<float>(), expected) << "key " << i;
  }
}

}  // namespace
}  // namespace loom::comm
