// DataIter's default Skip, the last_batch names and CreateDataIter (proto::Data -> BatchOptions).
#include "loom/train/data_iter.h"

#include "data/batch_checks.h"
#include "loom/scheduler/error.h"

namespace loom::train {

void DataIter::Skip(int64_t batches) {
  DataBatch discarded;
  for (int64_t i = 0; i < batches && Next(&discarded); ++i) {
  }
}

LastBatch ParseLastBatch(const std::string& name) {
  if (name == "pad") return LastBatch::kPad;
  if (name == "discard") return LastBatch::kDiscard;
  if (name == "roll_over") return LastBatch::kRollOver;
  throw ConfigError("data.last_batch: expected one of pad, discard, roll_over but got '" + name +
                    "'");
}

std::unique_ptr<DataIter> CreateDataIter(const proto::DataSource& source, const proto::Data& data,
                                         const DataIterOptions& options) {
  BatchOptions batch;
  batch.batch_size = data.batch_size();
  batch.shuffle = options.is_train && data.shuffle();
  batch.seed = options.seed;
  // Evaluation sees every sample exactly once per epoch: pad (the padding is excluded from the
  // metrics through DataBatch::pad), whatever the training policy is.
  const LastBatch policy = ParseLastBatch(data.last_batch());
  batch.last_batch = options.is_train ? policy : LastBatch::kPad;
  batch.mean = data.mean();
  batch.std = data.std();
  batch.flatten = data.has_flatten() && data.flatten();
  batch.prefetch = data.prefetch();
  batch.rank = options.rank;
  batch.num_ranks = options.num_ranks;
  batch.data_name = data.data_name();
  batch.label_name = data.label_name();
  detail::CheckBatchOptions(batch);
  return CreateDatasetIter(std::make_shared<const Dataset>(LoadDataSource(source)), batch);
}

}  // namespace loom::train
