// The iterator over an in-memory Dataset: epoch orders, last-batch policies, sharding, batch
// assembly and the prefetch thread.
//
// Order. Epoch e visits the samples in the order perm(e), a permutation drawn from (seed, e) alone
// (the identity without shuffling). All ranks draw the same perm(e); rank r of n takes positions
// r, r+n, r+2n, ... of it, so the ranks' shards of one epoch are disjoint and together cover the
// data set once.
//
// Last batch. With N samples, rank r's shard has S_r = ceil((N - r) / n) samples.
//   pad:       ceil(ceil(N / n) / b) batches for every rank (equal counts keep ranks in step); rows
//              past S_r wrap around to the start of the shard (row q takes shard sample q mod S_r)
//              and batch.pad counts them.
//   discard:   floor(floor(N / n) / b) full batches for every rank; the rest is dropped.
//   roll_over: every rank reads the endless stream shard(perm(0)) ++ shard(perm(1)) ++ ... in
//              epochs of L = floor(N / n) samples (a rank's sample past L is dropped so that all
//              ranks count alike), cut into batches of b. Epoch e holds the batches that end inside
//              its L samples: global batches floor(e L / b) .. floor((e + 1) L / b) - 1. Its first
//              batch thus starts with the previous epoch's leftover, as MXNet's NDArrayIter does,
//              yet depends only on (seed, e - 1, e): a resumed run needs no saved leftover.
//
// Prefetch. A producer thread makes the batches of the current epoch in order, from the consumer's
// position, into a queue of at most `prefetch` batches. Reset, Skip and the destructor stop and
// join it before they touch the plan it reads, so the plan is immutable while a producer runs. A
// failed batch is queued as its exception and ends the producer; Next rethrows it in order.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "data/batch_checks.h"
#include "data/random.h"
#include "loom/scheduler/error.h"
#include "loom/train/data_iter.h"

namespace loom::train {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

class DatasetIter final : public DataIter {
 public:
  DatasetIter(std::shared_ptr<const Dataset> dataset, BatchOptions options)
      : dataset_(std::move(dataset)), options_(std::move(options)) {
    const int64_t n = dataset_->num_samples();
    const int64_t ranks = options_.num_ranks;
    LOOM_CHECK_TYPED(DataError, n >= ranks, "data set ", dataset_->origin, " has ", n,
                     " samples, fewer than the ", ranks, " ranks that share it");
    shard_size_ = CeilDiv(n - options_.rank, ranks);
    sample_size_ = dataset_->sample_shape.Size();
    const int64_t b = options_.batch_size;
    switch (options_.last_batch) {
      case LastBatch::kPad:
        samples_per_epoch_ = shard_size_;
        break;
      case LastBatch::kDiscard:
        samples_per_epoch_ = n / ranks / b * b;
        break;
      case LastBatch::kRollOver:
        samples_per_epoch_ = n / ranks;
        break;
    }
    data_shape_ = options_.flatten ? Shape{b, sample_size_} : Shape{b};
    if (!options_.flatten) {
      for (int64_t d : dataset_->sample_shape) data_shape_.push_back(d);
    }
    if (dataset_->dtype == DType::kUInt8) {
      for (int v = 0; v < 256; ++v) {
        pixel_table_[v] = (static_cast<float>(v) / 255.0f - options_.mean) / options_.std;
      }
    }
    Plan(0);
  }

  ~DatasetIter() override { StopProducer(); }

  std::vector<DataDesc> ProvideData() const override {
    return {DataDesc{options_.data_name, data_shape_, DType::kFloat32}};
  }
  std::vector<DataDesc> ProvideLabel() const override {
    return {DataDesc{options_.label_name, Shape{options_.batch_size}, DType::kFloat32}};
  }
  int64_t BatchSize() const override { return options_.batch_size; }
  int64_t NumBatches() const override { return num_batches_; }
  int64_t NumSamples() const override { return samples_per_epoch_; }

  void Reset(int64_t epoch) override {
    LOOM_CHECK(epoch >= 0, "expected an epoch >= 0 but got ", epoch);
    StopProducer();
    Plan(epoch);
    StartProducer();
  }

  bool Next(DataBatch* batch) override {
    if (next_batch_ >= num_batches_) return false;
    if (options_.prefetch <= 0) {
      MakeBatch(next_batch_, batch);
      ++next_batch_;
      return true;
    }
    if (!producer_.joinable()) StartProducer();
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // The producer pushes every batch up to num_batches_ or stops at a failed one, which it
      // pushes too: the queue cannot stay empty while batches remain.
      cv_.wait(lock, [&] { return !queue_.empty(); });
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    cv_.notify_all();
    if (item.error) {
      // The producer ended after queueing the error; a later Next retries this batch.
      StopProducer();
      std::rethrow_exception(item.error);
    }
    *batch = std::move(item.batch);
    ++next_batch_;
    return true;
  }

  void Skip(int64_t batches) override {
    LOOM_CHECK(batches >= 0, "expected a number of batches to skip >= 0 but got ", batches);
    StopProducer();
    next_batch_ = std::min(num_batches_, next_batch_ + batches);
    StartProducer();
  }

 private:
  struct Item {
    DataBatch batch;
    std::exception_ptr error;
  };

  // Sets up epoch `epoch` (no producer may be running).
  void Plan(int64_t epoch) {
    epoch_ = epoch;
    next_batch_ = 0;
    orders_.clear();
    const int64_t b = options_.batch_size;
    if (options_.last_batch == LastBatch::kRollOver) {
      const int64_t l = samples_per_epoch_;
      const int64_t first = epoch * l / b;
      num_batches_ = (epoch + 1) * l / b - first;
      first_position_ = first * b;
    } else {
      num_batches_ = options_.last_batch == LastBatch::kPad
                         ? CeilDiv(CeilDiv(dataset_->num_samples(), options_.num_ranks), b)
                         : samples_per_epoch_ / b;
      first_position_ = 0;
    }
    if (options_.shuffle && num_batches_ > 0) {
      const int64_t first_epoch = EpochOf(first_position_);
      const int64_t last_epoch = EpochOf(first_position_ + num_batches_ * b - 1);
      for (int64_t e = first_epoch; e <= last_epoch; ++e) {
        orders_[e] = detail::EpochPermutation(dataset_->num_samples(), options_.seed, e);
      }
    }
  }

  int64_t EpochOf(int64_t position) const {
    return options_.last_batch == LastBatch::kRollOver ? position / samples_per_epoch_ : epoch_;
  }

  // The data set index of row `row` (0-based from the epoch's first batch).
  int64_t SampleOf(int64_t row) const {
    int64_t epoch = epoch_;
    int64_t j = row;
    if (options_.last_batch == LastBatch::kRollOver) {
      const int64_t position = first_position_ + row;
      epoch = position / samples_per_epoch_;
      j = position % samples_per_epoch_;
    } else if (j >= shard_size_) {
      j %= shard_size_;
    }
    const int64_t global = options_.rank + options_.num_ranks * j;
    return options_.shuffle ? orders_.at(epoch)[static_cast<size_t>(global)] : global;
  }

  // Batch k of the current epoch. Reads only the plan and the data set.
  void MakeBatch(int64_t k, DataBatch* out) const {
    const int64_t b = options_.batch_size;
    NDArray data = NDArray::Empty(data_shape_);
    NDArray label = NDArray::Empty(Shape{b});
    // Fresh arrays: no engine operation can be pending on them, so the host may write at once.
    float* x = data.data<float>();
    float* y = label.data<float>();
    const auto size = static_cast<size_t>(sample_size_);
    const bool identity = options_.mean == 0.0f && options_.std == 1.0f;
    for (int64_t i = 0; i < b; ++i) {
      const auto index = static_cast<size_t>(SampleOf(k * b + i));
      float* row = x + static_cast<size_t>(i) * size;
      if (dataset_->dtype == DType::kUInt8) {
        const uint8_t* src = dataset_->bytes.data() + index * size;
        for (size_t j = 0; j < size; ++j) row[j] = pixel_table_[src[j]];
      } else {
        const float* src = dataset_->floats.data() + index * size;
        if (identity) {
          std::copy(src, src + size, row);
        } else {
          for (size_t j = 0; j < size; ++j) row[j] = (src[j] - options_.mean) / options_.std;
        }
      }
      y[i] = dataset_->labels[index];
    }
    out->data = {std::move(data)};
    out->label = {std::move(label)};
    out->pad = options_.last_batch == LastBatch::kPad
                   ? std::clamp<int64_t>((k + 1) * b - shard_size_, 0, b)
                   : 0;
    if (options_.transform) options_.transform(out);
  }

  void StartProducer() {
    if (options_.prefetch <= 0 || next_batch_ >= num_batches_) return;
    stop_ = false;
    producer_ = std::thread([this, start = next_batch_] { Produce(start); });
  }

  void StopProducer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (producer_.joinable()) producer_.join();
    queue_.clear();
  }

  void Produce(int64_t start) {
    const auto capacity = static_cast<size_t>(options_.prefetch);
    for (int64_t k = start; k < num_batches_; ++k) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || queue_.size() < capacity; });
        if (stop_) return;
      }
      Item item;
      try {
        MakeBatch(k, &item.batch);
      } catch (...) {
        item.error = std::current_exception();
      }
      const bool failed = static_cast<bool>(item.error);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
        queue_.push_back(std::move(item));
      }
      cv_.notify_all();
      if (failed) return;
    }
  }

  const std::shared_ptr<const Dataset> dataset_;
  const BatchOptions options_;
  int64_t shard_size_ = 0;         // S_r
  int64_t sample_size_ = 0;        // elements per sample
  int64_t samples_per_epoch_ = 0;  // real samples per epoch (roll_over: L)
  Shape data_shape_;
  float pixel_table_[256] = {};  // (v / 255 - mean) / std for uint8 samples

  // The plan of the current epoch: written by Plan only while no producer runs.
  int64_t epoch_ = 0;
  int64_t num_batches_ = 0;
  int64_t first_position_ = 0;  // roll_over: stream position of the epoch's first row
  std::map<int64_t, std::vector<int64_t>> orders_;  // perm(e) for the epochs this one reads

  int64_t next_batch_ = 0;  // the consumer's position (consumer thread only)

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool stop_ = false;       // guarded by mu_
  std::thread producer_;
};

}  // namespace

namespace detail {

void CheckBatchOptions(const BatchOptions& options) {
  LOOM_CHECK_TYPED(ConfigError, options.batch_size >= 1, "data.batch_size: expected >= 1 but got ",
                   options.batch_size);
  LOOM_CHECK_TYPED(ConfigError, options.prefetch >= 0, "data.prefetch: expected >= 0 but got ",
                   options.prefetch);
  LOOM_CHECK_TYPED(ConfigError, std::isfinite(options.mean),
                   "data.mean: expected a finite number but got ", options.mean);
  LOOM_CHECK_TYPED(ConfigError, std::isfinite(options.std) && options.std != 0.0f,
                   "data.std: expected a finite non-zero number but got ", options.std);
  LOOM_CHECK_TYPED(ConfigError,
                   options.num_ranks >= 1 && options.rank >= 0 && options.rank < options.num_ranks,
                   "expected rank in [0, num_ranks) and num_ranks >= 1 but got rank ", options.rank,
                   " of ", options.num_ranks);
}

}  // namespace detail

std::unique_ptr<DataIter> CreateDatasetIter(std::shared_ptr<const Dataset> dataset,
                                            const BatchOptions& options) {
  LOOM_CHECK(dataset != nullptr, "expected a data set but got none");
  detail::CheckBatchOptions(options);
  const Dataset& ds = *dataset;
  LOOM_CHECK_TYPED(DataError, ds.num_samples() >= 1, "data set ", ds.origin, " has no samples");
  const auto elements = static_cast<size_t>(ds.num_samples()) *
                        static_cast<size_t>(std::max<int64_t>(ds.sample_shape.Size(), 0));
  const size_t stored = ds.dtype == DType::kUInt8 ? ds.bytes.size() : ds.floats.size();
  LOOM_CHECK_TYPED(DataError, ds.dtype == DType::kUInt8 || ds.dtype == DType::kFloat32, "data set ",
                   ds.origin, ": expected dtype uint8 or float32 but got ", ToString(ds.dtype));
  LOOM_CHECK_TYPED(DataError,
                   ds.sample_shape.ndim() >= 1 && ds.sample_shape.Size() >= 1 && stored == elements,
                   "data set ", ds.origin, ": expected ", ds.num_samples(), " samples of shape ",
                   ds.sample_shape.ToString(), " (", elements, " values) but it holds ", stored);
  return std::make_unique<DatasetIter>(std::move(dataset), options);
}

}  // namespace loom::train
