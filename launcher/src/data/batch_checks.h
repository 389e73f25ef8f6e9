// Validation of BatchOptions, shared by CreateDataIter (before it loads any data) and
// CreateDatasetIter.
#pragma once

#include "loom/train/data_iter.h"

namespace loom::train::detail {

/// @throws ConfigError naming the key and the accepted values for an invalid option.
void CheckBatchOptions(const BatchOptions& options);

}  // namespace loom::train::detail
