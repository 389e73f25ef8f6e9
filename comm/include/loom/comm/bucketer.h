// GradientBucketer: sums gradients over the ranks of a communicator while backward is still
// running. Gradients are packed, in the order backward produces them, into buckets of about
// BucketOptions::bucket_bytes (default 25 MiB, PyTorch DDP's default); each bucket is allreduced
// as soon as its last gradient is handed over, then unpacked into the gradients in place.
//
//   auto comm = loom::comm::Communicator::Create();
//   std::vector<loom::NDArray> grads = ...;          // by parameter index (executor.grad_arrays())
//   loom::comm::GradientBucketer bucketer(comm, grads);   // order: last parameter first
//   for (each batch) {
//     exe.Forward(true, inputs);
//     exe.Backward();                                // pushed, still running
//     for (int i = n - 1; i >= 0; --i) bucketer.Ready(i);   // in the order backward writes them
//     for (int i = 0; i < n; ++i) optimizer->Update(i, weights[i], grads[i]);   // sums over ranks
//   }
//
// Everything is pushed on the engine: Ready returns at once, and a bucket's pack operation waits
// for its gradients' writers (the backward operations), so calling Ready right after Backward()
// returns already overlaps communication with the rest of backward. Bucket k is launched only
// after buckets 0..k-1 (its layout is fixed at construction, identical on every rank), so the
// ranks' collectives match whatever order Ready is called in; calling it in production order
// launches each bucket as early as possible. A step ends when every gradient is ready (or at
// Flush); the next Ready starts the next step.
//
// Operations run at priority -i, i being the smallest parameter index in the bucket (MXNet's
// convention): the first layers' gradients are unpacked first, for the next forward pass. A
// bucket holds gradients of one context and dtype (float32 or float64); a gradient larger than
// bucket_bytes is a bucket of its own, allreduced in place without packing.
//
// Thread safety: one thread drives a bucketer (as the communicator's ordering contract needs).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "loom/comm/communicator.h"
#include "loom/core/ndarray.h"

namespace loom::comm {

struct BucketOptions {
  /// Bytes per bucket; a bucket closes before the gradient that would overflow it.
  size_t bucket_bytes = size_t{25} << 20;
  /// Cap of the first bucket (PyTorch DDP's 1 MiB): the first gradients backward produces are
  /// sent while it is still computing the rest.
  size_t first_bucket_bytes = size_t{1} << 20;
};

class GradientBucketer {
 public:
  /// grads: gradient arrays by parameter index; none arrays (parameters without a gradient) are
  /// skipped. order: the indices with a gradient, each once, in the order backward produces
  /// them; empty = descending index order (backward runs from the last layer).
  /// @throws loom::Error naming the index for a bad order; DTypeError for a dtype other than
  ///         float32/float64; loom::Error for a context the communicator does not support.
  GradientBucketer(std::shared_ptr<Communicator> comm, std::vector<NDArray> grads,
                   std::vector<int> order = {}, BucketOptions options = {});
  ~GradientBucketer();
  GradientBucketer(const GradientBucketer&) = delete;
  GradientBucketer& operator=(const GradientBucketer&) = delete;

  /// Hands over grads[index] for this step (the operation writing it has been pushed) and
  /// launches every bucket that is complete and next in line.
  /// @throws loom::Error naming the index when it has no gradient or was already handed over
  ///         in this step.
  void Ready(int index);
  /// Hands over every gradient not yet handed over in this step (launching the rest).
  void Flush();
  /// Blocks until this step's launched buckets are summed and unpacked; rethrows CommError.
  void Wait();

  /// Parameter indices per bucket, in launch order (none with one rank: nothing is reduced).
  std::vector<std::vector<int>> buckets() const;
  const Communicator& communicator() const { return *comm_; }

 private:
  struct Plan;
  void LaunchReady();

  std::shared_ptr<Communicator> comm_;
  std::vector<NDArray> grads_;
  std::unique_ptr<Plan> plan_;
};

}  // namespace loom::comm
