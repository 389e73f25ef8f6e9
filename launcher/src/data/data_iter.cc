// DataIter's default Skip and the last_batch names.
#include "loom/train/data_iter.h"

#include "loom/scheduler/error.h"

namespace loom::train {

void DataIter::Skip(int64_t batches) {
  DataBatch discarded;
  for (int64_t i = 0; i < batches && Next(&discarded); ++i) {
  }
}

}  // namespace loom::train
