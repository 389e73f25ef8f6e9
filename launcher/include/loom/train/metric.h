// Evaluation metrics, accumulated over batches as MXNet's mx.metric.EvalMetric: Update per batch,
// Get for the running value, Reset per epoch.
//
//   auto acc = loom::train::CreateMetric("accuracy");
//   acc->Update(batch.label[0], outputs[0], batch_size - batch.pad);   // host arrays
//   double value = acc->Get();
//
// Definitions, as MXNet 1.9.1's mx.metric (N counted rows; p a row of the prediction, y its label):
//   accuracy          mean [argmax p == y] (first maximum wins); a prediction of the label's shape
//                     holds class indices itself (both truncated to integers, as astype('int32'))
//   top_<k>_accuracy  mean [y is among the k largest entries of p] (ties: the lower index ranks
//                     first); k >= the number of classes counts every row
//   cross_entropy     mean -log(p[y] + 1e-12)        (p are probabilities, e.g. SoftmaxOutput's)
//   perplexity        exp(mean -log(max(p[y], 1e-10)))
//   mse, mae          mean of (y - p)^2, |y - p| over every element of the counted rows (MXNet
//                     averages per-batch means instead; the two agree when batches are equal)
// cross_entropy and perplexity also take label (batch, d...) with pred (batch, d..., classes).
// A class label outside [0, classes) is a loom::DataError naming the metric, the row and the value;
// shapes that do not fit are a loom::ShapeError naming both shapes.
//
// Thread safety: one metric object is used by one thread at a time. Update waits for the arrays'
// pending writes; arrays must be on the host (CPU) and float32.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "loom/core/ndarray.h"

namespace loom::train {

class EvalMetric {
 public:
  virtual ~EvalMetric() = default;
  virtual std::string Name() const = 0;
  /// label: (batch) class indices or (batch, ...) targets; pred: network output (batch, classes) or
  /// same shape as label. Only the first `valid_rows` rows count (padding excluded). Host arrays.
  virtual void Update(const NDArray& label, const NDArray& pred, int64_t valid_rows) = 0;
  virtual void Reset() = 0;
  virtual double Get() const = 0;  // NaN when nothing was seen
};

/// accuracy, top_k_accuracy (name "top_<k>_accuracy"), cross_entropy, perplexity, mse, mae.
/// @throws ConfigError naming the accepted names for an unknown name or top_k < 1.
std::unique_ptr<EvalMetric> CreateMetric(const std::string& name, int top_k = 5);

}  // namespace loom::train
