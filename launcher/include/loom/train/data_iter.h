// Data iterators for training: the sources an experiment's `data` section names (Fashion-MNIST and
// MNIST idx files, any idx pair, CSV, synthetic), loaded into memory once, then served as batches
// with shuffling, a last-batch policy, normalisation, sharding by rank and background prefetching.
//
//   loom::train::DataIterOptions options;
//   options.seed = 7;
//   auto it = loom::train::CreateDataIter(experiment.data().train(), experiment.data(), options);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     it->Reset(epoch);                  // order depends only on (seed, epoch)
//     loom::train::DataBatch batch;
//     while (it->Next(&batch)) { ... batch.data[0], batch.label[0], batch.pad ... }
//   }
//
// The lower layers are public too (ReadIdxImages, ReadCsv, MakeSynthetic, CreateDatasetIter), so
// tests and programs can build iterators over data they made themselves. docs/data.md describes
// the sources, keys and semantics.
//
// Errors: missing or unreadable files throw loom::IoError (naming the path and, for the standard
// data sets, the package that provides them); files whose contents are wrong (bad magic, truncated,
// counts that disagree, labels out of range, bad CSV numbers) throw loom::DataError naming the file
// and what was wrong.
//
// Thread safety: one iterator is used by one thread at a time. Its prefetch thread is internal:
// it is stopped and joined by Reset, Skip and the destructor, and its exceptions are rethrown by
// Next. A Dataset is immutable once built and may be shared by iterators in several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/ndarray.h"
#include "loom/core/shape.h"
#include "loom/proto/experiment.pb.h"

namespace loom::train {

/// Name, shape (batch dimension first) and element type of one input the iterator feeds.
struct DataDesc {
  std::string name;
  Shape shape;
  DType dtype = DType::kFloat32;
};

/// One batch. Rows past batch size - pad repeat earlier samples and must be ignored.
struct DataBatch {
  std::vector<NDArray> data;   // one per ProvideData() entry, CPU, float32 (images normalised)
  std::vector<NDArray> label;  // one per ProvideLabel() entry, CPU, float32 class indices
  int64_t pad = 0;             // trailing rows that are padding (last_batch: pad), to be ignored
};

/// A source of batches, epoch after epoch.
class DataIter {
 public:
  virtual ~DataIter() = default;
  virtual std::vector<DataDesc> ProvideData() const = 0;
  virtual std::vector<DataDesc> ProvideLabel() const = 0;
  virtual int64_t BatchSize() const = 0;
  virtual int64_t NumBatches() const = 0;  // batches per epoch (this rank's shard)
  virtual int64_t NumSamples() const = 0;  // samples per epoch (this rank's shard)
  /// Starts epoch `epoch`: the order depends only on (seed, epoch), so a resumed run sees the same
  /// data.
  virtual void Reset(int64_t epoch) = 0;
  /// Fills *batch with the next batch; false at the end of the epoch (batch untouched).
  virtual bool Next(DataBatch* batch) = 0;
  /// Moves past the next `batches` batches of this epoch (for resuming mid-epoch); stops at the end
  /// of the epoch. Default: Next() `batches` times.
  virtual void Skip(int64_t batches);
};

/// How CreateDataIter shards and seeds an iterator.
struct DataIterOptions {
  uint64_t seed = 0;
  bool is_train = true;  // shuffling only when is_train && data.shuffle()
  int rank = 0;          // shard: rank r takes samples r, r+n, ... (issue 6)
  int num_ranks = 1;
};

/// Builds the iterator for one source (train or val) of an experiment's data section; applies
/// batch_size, shuffle, last_batch, mean/std, flatten, limit, prefetch (background thread).
/// @throws IoError, DataError (see the file comment), ConfigError for invalid keys (unknown source
/// or last_batch, batch_size < 1, std == 0, ...).
std::unique_ptr<DataIter> CreateDataIter(const proto::DataSource& source, const proto::Data& data,
                                         const DataIterOptions& options);

/// A whole data set in host memory: num_samples() samples of sample_shape and one label each.
/// Samples are stored either as bytes (pixels: dtype kUInt8, scaled by 1/255 when batched) or as
/// floats (dtype kFloat32, used as they are); normalisation applies to both.
struct Dataset {
  Shape sample_shape;             // one sample, e.g. (1, 28, 28) or (4)
  DType dtype = DType::kFloat32;  // kUInt8: `bytes` holds the samples; kFloat32: `floats`
  std::vector<uint8_t> bytes;     // num_samples() * sample_shape.Size() when kUInt8
  std::vector<float> floats;      // num_samples() * sample_shape.Size() when kFloat32
  std::vector<float> labels;      // one per sample: class index or regression target
  std::string origin;             // where it came from, for messages ("images.gz + labels.gz")

  int64_t num_samples() const { return static_cast<int64_t>(labels.size()); }
  /// Keeps only the first n samples (n >= num_samples(): no change).
  void Truncate(int64_t n);
};

/// Reads an idx image file (magic 0x00000803: unsigned bytes, count x rows x cols) and an idx
/// label file (magic 0x00000801: unsigned bytes, count), each gzip-compressed or plain (told apart
/// by the gzip magic bytes). Samples have shape (1, rows, cols), dtype kUInt8.
/// @param num_classes labels must lie in [0, num_classes). @throws IoError, DataError.
Dataset ReadIdx(const std::string& images_path, const std::string& labels_path, int num_classes);

/// Reads a numeric CSV file: every line has the same number of columns; `label_column` (negative:
/// counted from the end, -1 the last) is the label, the others the sample (shape (columns - 1),
/// kFloat32). With header, the first line is skipped. Empty lines are skipped.
/// @throws IoError; DataError naming file:line:column for a bad number or a wrong column count.
Dataset ReadCsv(const std::string& path, int label_column, bool header);

/// Deterministic synthetic classification data (a model can learn it): sample i has label
/// i mod num_classes; class c has a mean pattern m_c (each element uniform in [-1, 1], drawn from
/// `seed` only) and a sample is m_c plus N(0, 1) noise drawn from (seed, stream), so data made with
/// the same seed but another stream (train vs test) is new data from the same distribution.
/// kFloat32. @throws ConfigError for num_samples < 1, num_classes < 1 or an empty shape.
Dataset MakeSynthetic(int64_t num_samples, const Shape& sample_shape, int num_classes,
                      uint64_t seed, uint64_t stream);

/// Loads what one DataSource names (fashion_mnist, mnist, idx, csv, synthetic), limit applied.
/// @throws IoError, DataError, ConfigError.
Dataset LoadDataSource(const proto::DataSource& source);

/// What to do with the last partial batch of an epoch (MXNet's NDArrayIter last_batch_handle).
enum class LastBatch {
  kPad,       // fill it up from the start of the epoch's order; DataBatch::pad counts those rows
  kDiscard,   // drop it
  kRollOver,  // carry its samples into the first batch of the next epoch
};
/// "pad", "discard", "roll_over". @throws ConfigError naming the accepted values.
LastBatch ParseLastBatch(const std::string& name);

/// Batching options of CreateDatasetIter (CreateDataIter fills them from proto::Data).
struct BatchOptions {
  int64_t batch_size = 128;
  bool shuffle = false;
  uint64_t seed = 0;
  LastBatch last_batch = LastBatch::kPad;
  float mean = 0.0f;  // x = (x [/ 255 for kUInt8] - mean) / std
  float std = 1.0f;
  bool flatten = false;  // samples as (batch, sample size) instead of (batch, sample_shape...)
  int prefetch = 0;      // batches prepared ahead by a background thread (0: none)
  int rank = 0;
  int num_ranks = 1;
  std::string data_name = "data";
  std::string label_name = "softmax_label";
  /// Optional work on each finished batch (augmentation, checks), run where the batch is made: on
  /// the prefetch thread when prefetch > 0. What it throws is rethrown by Next.
  std::function<void(DataBatch* batch)> transform;
};

/// An iterator over an in-memory data set. @throws ConfigError for invalid options, DataError when
/// the data set has fewer samples than ranks.
std::unique_ptr<DataIter> CreateDatasetIter(std::shared_ptr<const Dataset> dataset,
                                            const BatchOptions& options);

}  // namespace loom::train
