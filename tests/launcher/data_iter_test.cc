// The in-memory iterator: batch contents and order, last-batch policies (MXNet NDArrayIter
// semantics), shuffling per (seed, epoch), sharding, normalisation, Skip and prefetching.
#include "loom/train/data_iter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>

#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// n samples of shape (2): sample i is (i, -i), its label i. Batches then show which samples they
// hold.
std::shared_ptr<const Dataset> Indexed(int64_t n) {
  auto ds = std::make_shared<Dataset>();
  ds->sample_shape = Shape{2};
  ds->origin = "indexed";
  for (int64_t i = 0; i < n; ++i) {
    ds->floats.push_back(static_cast<float>(i));
    ds->floats.push_back(static_cast<float>(-i));
    ds->labels.push_back(static_cast<float>(i));
  }
  return ds;
}

BatchOptions Options(int64_t batch, LastBatch last, bool shuffle = false, int prefetch = 0) {
  BatchOptions o;
  o.batch_size = batch;
  o.last_batch = last;
  o.shuffle = shuffle;
  o.seed = 42;
  o.prefetch = prefetch;
  return o;
}

struct Seen {
  std::vector<int64_t> labels;  // every row, padding included
  std::vector<int64_t> pads;
};

// The rows of every batch of epoch `epoch`, checking that data matches labels.
std::vector<std::vector<int64_t>> Epoch(DataIter* it, int64_t epoch, std::vector<int64_t>* pads) {
  it->Reset(epoch);
  std::vector<std::vector<int64_t>> batches;
  DataBatch batch;
  while (it->Next(&batch)) {
    EXPECT_EQ(batch.data.size(), 1u);
    EXPECT_EQ(batch.label.size(), 1u);
    const std::vector<float> x = batch.data[0].ToVector<float>();
    const std::vector<float> y = batch.label[0].ToVector<float>();
    std::vector<int64_t> rows;
    for (size_t i = 0; i < y.size(); ++i) {
      EXPECT_EQ(x[2 * i], y[i]);
      EXPECT_EQ(x[2 * i + 1], -y[i]);
      rows.push_back(static_cast<int64_t>(y[i]));
    }
    batches.push_back(rows);
    if (pads != nullptr) pads->push_back(batch.pad);
  }
  EXPECT_EQ(static_cast<int64_t>(batches.size()), it->NumBatches());
  return batches;
}

std::vector<int64_t> Flat(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
  return out;
}

TEST(DataIter, PadWrapsAroundAndReportsPadding) {
  auto it = CreateDatasetIter(Indexed(10), Options(4, LastBatch::kPad));
  EXPECT_EQ(it->NumBatches(), 3);
  EXPECT_EQ(it->NumSamples(), 10);
  EXPECT_EQ(it->BatchSize(), 4);
  std::vector<int64_t> pads;
  EXPECT_THAT(
      Epoch(it.get(), 0, &pads),
      ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7), ElementsAre(8, 9, 0, 1)));
  EXPECT_THAT(pads, ElementsAre(0, 0, 2));
  // A batch larger than the data set wraps around as often as needed.
  auto big = CreateDatasetIter(Indexed(3), Options(8, LastBatch::kPad));
  pads.clear();
  EXPECT_THAT(Epoch(big.get(), 0, &pads), ElementsAre(ElementsAre(0, 1, 2, 0, 1, 2, 0, 1)));
  EXPECT_THAT(pads, ElementsAre(5));
}

TEST(DataIter, DiscardDropsTheLastPartialBatch) {
  auto it = CreateDatasetIter(Indexed(10), Options(4, LastBatch::kDiscard));
  EXPECT_EQ(it->NumBatches(), 2);
  EXPECT_EQ(it->NumSamples(), 8);
  std::vector<int64_t> pads;
  EXPECT_THAT(Epoch(it.get(), 0, &pads),
              ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7)));
  EXPECT_THAT(pads, ElementsAre(0, 0));
  auto none = CreateDatasetIter(Indexed(3), Options(4, LastBatch::kDiscard));
  EXPECT_EQ(none->NumBatches(), 0);
  EXPECT_TRUE(Epoch(none.get(), 0, nullptr).empty());
}

TEST(DataIter, RollOverCarriesTheRestIntoTheNextEpoch) {
  // MXNet's NDArrayIter(last_batch_handle='roll_over') on 10 samples, batch 4, no shuffling:
  // epoch 0: [0..3] [4..7] (8, 9 cached); epoch 1: [8 9 0 1] [2..5] [6..9]; epoch 2 as epoch 0.
  auto it = CreateDatasetIter(Indexed(10), Options(4, LastBatch::kRollOver));
  EXPECT_THAT(Epoch(it.get(), 0, nullptr),
              ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7)));
  EXPECT_THAT(
      Epoch(it.get(), 1, nullptr),
      ElementsAre(ElementsAre(8, 9, 0, 1), ElementsAre(2, 3, 4, 5), ElementsAre(6, 7, 8, 9)));
  EXPECT_EQ(it->NumBatches(), 3);
  EXPECT_THAT(Epoch(it.get(), 2, nullptr),
              ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7)));
}

TEST(DataIter, ShuffleDependsOnlyOnSeedAndEpoch) {
  auto a = CreateDatasetIter(Indexed(50), Options(8, LastBatch::kPad, true));
  auto b = CreateDatasetIter(Indexed(50), Options(8, LastBatch::kPad, true));
  const auto a0 = Flat(Epoch(a.get(), 0, nullptr));
  const auto a1 = Flat(Epoch(a.get(), 1, nullptr));
  // Another iterator jumping straight to epoch 1 (a resumed run), then back to 0.
  EXPECT_EQ(Flat(Epoch(b.get(), 1, nullptr)), a1);
  EXPECT_EQ(Flat(Epoch(b.get(), 0, nullptr)), a0);
  EXPECT_NE(a0, a1);
  std::vector<int64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  for (const auto& order : {a0, a1}) {
    // 50 real rows then 6 of padding repeating the epoch's first 6.
    std::vector<int64_t> real(order.begin(), order.begin() + 50);
    EXPECT_NE(real, identity);
    std::sort(real.begin(), real.end());
    EXPECT_EQ(real, identity);
    EXPECT_TRUE(std::equal(order.begin() + 50, order.end(), order.begin()));
  }
  BatchOptions other = Options(8, LastBatch::kPad, true);
  other.seed = 43;
  auto c = CreateDatasetIter(Indexed(50), other);
  EXPECT_NE(Flat(Epoch(c.get(), 0, nullptr)), a0);
}

TEST(DataIter, RollOverWithShuffleResumesWithoutHistory) {
  auto a = CreateDatasetIter(Indexed(23), Options(5, LastBatch::kRollOver, true));
  std::vector<std::vector<std::vector<int64_t>>> epochs;
  for (int e = 0; e < 4; ++e) epochs.push_back(Epoch(a.get(), e, nullptr));
  // Stream view: the epochs together are perm(0) ++ perm(1) ++ ... cut into batches of 5.
  std::vector<int64_t> stream;
  for (const auto& e : epochs) {
    const auto flat = Flat(e);
    stream.insert(stream.end(), flat.begin(), flat.end());
  }
  for (int e = 0; e + 1 < 4; ++e) {
    std::vector<int64_t> block(stream.begin() + 23 * e, stream.begin() + 23 * (e + 1));
    std::sort(block.begin(), block.end());
    for (int64_t i = 0; i < 23; ++i) EXPECT_EQ(block[static_cast<size_t>(i)], i);
  }
  for (int e = 0; e < 4; ++e) {
    EXPECT_EQ(static_cast<int64_t>(epochs[static_cast<size_t>(e)].size()),
              (e + 1) * 23 / 5 - e * 23 / 5);
    auto fresh = CreateDatasetIter(Indexed(23), Options(5, LastBatch::kRollOver, true));
    EXPECT_EQ(Epoch(fresh.get(), e, nullptr), epochs[static_cast<size_t>(e)]) << "epoch " << e;
  }
}

TEST(DataIter, ShardsCoverEverySampleOnceWithEqualBatchCounts) {
  for (const int64_t n : {12, 10, 7}) {
    for (const int ranks : {1, 2, 3}) {
      std::multiset<int64_t> seen;
      std::set<int64_t> batch_counts;
      for (int r = 0; r < ranks; ++r) {
        BatchOptions o = Options(2, LastBatch::kPad, true);
        o.rank = r;
        o.num_ranks = ranks;
        auto it = CreateDatasetIter(Indexed(n), o);
        std::vector<int64_t> pads;
        const auto batches = Epoch(it.get(), 3, &pads);
        batch_counts.insert(static_cast<int64_t>(batches.size()));
        int64_t real = 0;
        for (size_t k = 0; k < batches.size(); ++k) {
          const auto valid = static_cast<size_t>(2 - pads[k]);
          for (size_t i = 0; i < valid; ++i) seen.insert(batches[k][i]);
          real += static_cast<int64_t>(valid);
        }
        EXPECT_EQ(real, it->NumSamples());
        for (const LastBatch other : {LastBatch::kDiscard, LastBatch::kRollOver}) {
          o.last_batch = other;
          auto it2 = CreateDatasetIter(Indexed(n), o);
          for (int e = 0; e < 3; ++e) {
            const auto count = static_cast<int64_t>(Epoch(it2.get(), e, nullptr).size());
            const int64_t per_rank = n / ranks;
            EXPECT_EQ(count, other == LastBatch::kDiscard
                                 ? per_rank / 2
                                 : ((e + 1) * per_rank / 2 - e * per_rank / 2));
          }
        }
      }
      EXPECT_EQ(batch_counts.size(), 1u) << n << " samples, " << ranks << " ranks";
      std::multiset<int64_t> all;
      for (int64_t i = 0; i < n; ++i) all.insert(i);
      EXPECT_EQ(seen, all) << n << " samples, " << ranks << " ranks";
    }
  }
}

TEST(DataIter, RanksWithoutShufflingTakeStridedSamples) {
  BatchOptions o = Options(2, LastBatch::kPad);
  o.rank = 1;
  o.num_ranks = 3;
  auto it = CreateDatasetIter(Indexed(8), o);  // rank 1 of 3: samples 1, 4, 7
  std::vector<int64_t> pads;
  EXPECT_THAT(Epoch(it.get(), 0, &pads), ElementsAre(ElementsAre(1, 4), ElementsAre(7, 1)));
  EXPECT_THAT(pads, ElementsAre(0, 1));
  o.rank = 2;  // samples 2, 5: one fewer, padded to the same two batches
  auto it2 = CreateDatasetIter(Indexed(8), o);
  pads.clear();
  EXPECT_THAT(Epoch(it2.get(), 0, &pads), ElementsAre(ElementsAre(2, 5), ElementsAre(2, 5)));
  EXPECT_THAT(pads, ElementsAre(0, 2));
  o.num_ranks = 9;
  o.rank = 0;
  EXPECT_THROW(CreateDatasetIter(Indexed(8), o), DataError);
}

TEST(DataIter, NormalisesPixelsAndFlattens) {
  auto ds = std::make_shared<Dataset>();
  ds->sample_shape = Shape{1, 2, 2};
  ds->dtype = DType::kUInt8;
  ds->bytes = {0, 51, 255, 102};
  ds->labels = {3};
  BatchOptions o = Options(1, LastBatch::kPad);
  o.mean = 0.5f;
  o.std = 0.25f;
  auto it = CreateDatasetIter(ds, o);
  EXPECT_EQ(it->ProvideData()[0].shape, (Shape{1, 1, 2, 2}));
  EXPECT_EQ(it->ProvideData()[0].name, "data");
  EXPECT_EQ(it->ProvideLabel()[0].shape, Shape{1});
  EXPECT_EQ(it->ProvideLabel()[0].name, "softmax_label");
  it->Reset(0);
  DataBatch batch;
  ASSERT_TRUE(it->Next(&batch));
  EXPECT_EQ(batch.data[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(batch.data[0].dtype(), DType::kFloat32);
  // (v / 255 - 0.5) / 0.25
  EXPECT_THAT(batch.data[0].ToVector<float>(),
              ElementsAre(::testing::FloatEq(-2.0f), ::testing::FloatEq(-1.2f),
                          ::testing::FloatEq(2.0f), ::testing::FloatEq(-0.4f)));
  EXPECT_THAT(batch.label[0].ToVector<float>(), ElementsAre(3.0f));
  EXPECT_FALSE(it->Next(&batch));

  o.flatten = true;
  o.mean = 0.0f;
  o.std = 1.0f;
  o.data_name = "x";
  o.label_name = "y";
  auto flat = CreateDatasetIter(ds, o);
  EXPECT_EQ(flat->ProvideData()[0].shape, (Shape{1, 4}));
  EXPECT_EQ(flat->ProvideData()[0].name, "x");
  EXPECT_EQ(flat->ProvideLabel()[0].name, "y");
  ASSERT_TRUE(flat->Next(&batch));  // usable before the first Reset: epoch 0
  EXPECT_EQ(batch.data[0].shape(), (Shape{1, 4}));
  EXPECT_THAT(batch.data[0].ToVector<float>(),
              ElementsAre(0.0f, ::testing::FloatEq(0.2f), 1.0f, ::testing::FloatEq(0.4f)));

  // Float samples: (x - mean) / std.
  BatchOptions f = Options(2, LastBatch::kPad);
  f.mean = 1.0f;
  f.std = 2.0f;
  auto floats = CreateDatasetIter(Indexed(2), f);
  ASSERT_TRUE(floats->Next(&batch));
  EXPECT_THAT(batch.data[0].ToVector<float>(), ElementsAre(-0.5f, -0.5f, 0.0f, -1.0f));
}

TEST(DataIter, SkipMovesToTheSameBatchesAsReading) {
  for (const int prefetch : {0, 2}) {
    auto full = CreateDatasetIter(Indexed(30), Options(4, LastBatch::kRollOver, true, prefetch));
    auto skip = CreateDatasetIter(Indexed(30), Options(4, LastBatch::kRollOver, true, prefetch));
    const auto batches = Epoch(full.get(), 1, nullptr);
    ASSERT_EQ(batches.size(), 8u);  // positions 28..59 of the stream: 15 - 7 batches
    skip->Reset(1);
    skip->Skip(3);
    DataBatch batch;
    ASSERT_TRUE(skip->Next(&batch));
    std::vector<int64_t> rows;
    for (float v : batch.label[0].ToVector<float>()) rows.push_back(static_cast<int64_t>(v));
    EXPECT_EQ(rows, batches[3]) << "prefetch " << prefetch;
    skip->Skip(1);
    ASSERT_TRUE(skip->Next(&batch));
    rows.clear();
    for (float v : batch.label[0].ToVector<float>()) rows.push_back(static_cast<int64_t>(v));
    EXPECT_EQ(rows, batches[5]);
    skip->Skip(100);
    EXPECT_FALSE(skip->Next(&batch));
    // The base class's Skip (Next n times) agrees.
    skip->Reset(1);
    skip->DataIter::Skip(3);
    ASSERT_TRUE(skip->Next(&batch));
    rows.clear();
    for (float v : batch.label[0].ToVector<float>()) rows.push_back(static_cast<int64_t>(v));
    EXPECT_EQ(rows, batches[3]);
  }
}

TEST(DataIter, PrefetchGivesTheSameBatchesAsNoPrefetch) {
  for (const LastBatch last : {LastBatch::kPad, LastBatch::kDiscard, LastBatch::kRollOver}) {
    auto plain = CreateDatasetIter(Indexed(37), Options(5, last, true, 0));
    for (const int prefetch : {1, 2, 8}) {
      auto ahead = CreateDatasetIter(Indexed(37), Options(5, last, true, prefetch));
      for (int e = 0; e < 3; ++e) {
        std::vector<int64_t> pads_a;
        std::vector<int64_t> pads_b;
        EXPECT_EQ(Epoch(ahead.get(), e, &pads_a), Epoch(plain.get(), e, &pads_b));
        EXPECT_EQ(pads_a, pads_b);
      }
    }
  }
}

TEST(DataIter, ResetMidEpochRestartsCleanly) {
  auto it = CreateDatasetIter(Indexed(64), Options(4, LastBatch::kPad, true, 3));
  auto reference = CreateDatasetIter(Indexed(64), Options(4, LastBatch::kPad, true, 0));
  for (int round = 0; round < 20; ++round) {
    it->Reset(round % 3);
    DataBatch batch;
    for (int k = 0; k < round % 5; ++k) ASSERT_TRUE(it->Next(&batch));
  }
  EXPECT_EQ(Epoch(it.get(), 2, nullptr), Epoch(reference.get(), 2, nullptr));
}

TEST(DataIter, ErrorsOnThePrefetchThreadSurfaceAtNextInOrder) {
  for (const int prefetch : {0, 2}) {
    BatchOptions o = Options(2, LastBatch::kPad, false, prefetch);
    auto calls = std::make_shared<std::atomic<int>>(0);
    o.transform = [calls](DataBatch* batch) {
      if (batch->label[0].ToVector<float>()[0] == 4.0f && calls->fetch_add(1) == 0) {
        throw DataError("augmentation failed on the batch starting at sample 4");
      }
    };
    auto it = CreateDatasetIter(Indexed(10), o);
    it->Reset(0);
    DataBatch batch;
    ASSERT_TRUE(it->Next(&batch));
    ASSERT_TRUE(it->Next(&batch));
    try {
      it->Next(&batch);
      ADD_FAILURE() << "expected the transform's error";
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr("sample 4"));
    }
    // The failed batch is retried (the transform succeeds the second time), then the rest.
    ASSERT_TRUE(it->Next(&batch));
    EXPECT_EQ(batch.label[0].ToVector<float>()[0], 4.0f);
    ASSERT_TRUE(it->Next(&batch));
    EXPECT_EQ(batch.label[0].ToVector<float>()[0], 6.0f);
  }
}

TEST(DataIter, DestroyingMidEpochStopsTheProducer) {
  auto made = std::make_shared<std::atomic<int>>(0);
  BatchOptions o = Options(2, LastBatch::kPad, true, 2);
  o.transform = [made](DataBatch*) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    made->fetch_add(1);
  };
  {
    auto it = CreateDatasetIter(Indexed(1000), o);
    it->Reset(0);
    DataBatch batch;
    ASSERT_TRUE(it->Next(&batch));
    // The producer fills the queue (2 ahead) and then blocks until the iterator goes away.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_LE(made->load(), 4);
  }
  const int after = made->load();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(made->load(), after);  // joined: nothing runs any more
  // Destroyed right after Reset, while the producer is busy.
  for (int i = 0; i < 10; ++i) {
    auto it = CreateDatasetIter(Indexed(1000), o);
    it->Reset(i);
  }
}

TEST(DataIter, InvalidOptionsAreConfigErrors) {
  BatchOptions o = Options(0, LastBatch::kPad);
  EXPECT_THROW(CreateDatasetIter(Indexed(4), o), ConfigError);
  o = Options(2, LastBatch::kPad);
  o.std = 0.0f;
  EXPECT_THROW(CreateDatasetIter(Indexed(4), o), ConfigError);
  o = Options(2, LastBatch::kPad);
  o.prefetch = -1;
  EXPECT_THROW(CreateDatasetIter(Indexed(4), o), ConfigError);
  o = Options(2, LastBatch::kPad);
  o.rank = 2;
  o.num_ranks = 2;
  EXPECT_THROW(CreateDatasetIter(Indexed(4), o), ConfigError);
  EXPECT_EQ(ParseLastBatch("roll_over"), LastBatch::kRollOver);
  try {
    ParseLastBatch("keep");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("expected one of pad, discard, roll_over but got 'keep'"));
  }
  auto broken = std::make_shared<Dataset>();
  broken->sample_shape = Shape{3};
  broken->floats = {1, 2};
  broken->labels = {0};
  EXPECT_THROW(CreateDatasetIter(broken, Options(1, LastBatch::kPad)), DataError);
  EXPECT_THROW(CreateDatasetIter(std::make_shared<Dataset>(), Options(1, LastBatch::kPad)),
               DataError);
}

}  // namespace
}  // namespace loom::train
