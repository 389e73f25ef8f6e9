// ReplicaReducer: sums small host buffers over the replicas of a data-parallel job, for
// operators whose training computation spans every replica's batch (cross-replica, or
// "synchronized", BatchNorm).
//
//   std::shared_ptr<loom::ReplicaReducer> reducer =
//       loom::comm::MakeReplicaReducer();        // over MPI (loom/comm/replica_reducer.h)
//   loom::ExecutorOptions options;
//   options.replica_reducer = reducer;           // BatchNorm: the global batch's statistics
//   loom::Executor exe = loom::Executor::SimpleBind(net, ctx, shapes, {}, "write", {}, options);
//
// Kernels that list ResourceKind::kReplicaReducer get it as OpContext::replica_reducer when the
// executor has one (nullptr otherwise: one replica, nothing to reduce).
//
// Ordering contract (as for any collective): every replica calls SumInPlace the same number of
// times, in the same order, with the same n. The executor guarantees it for its own nodes: every
// engine operation holding a node that uses the reducer writes one engine variable the executor
// owns, so those operations run in push order, which is the same on every replica binding the
// same graph, even where independent branches (two BatchNorms in parallel) could otherwise run
// in either order. One reducer therefore serves one executor at a time (one replica per reducer);
// two executors of one process sharing a reducer would interleave their calls.
//
// Thread safety: SumInPlace is called from engine worker threads, one call at a time per
// executor. It blocks that worker until every replica has contributed, so in-process replicas
// (tests) need at least as many engine CPU workers as replicas.
#pragma once

#include <cstddef>

namespace loom {

/// Sums small host buffers over the replicas of a data-parallel job (cross-replica BatchNorm).
class ReplicaReducer {
 public:
  virtual ~ReplicaReducer() = default;
  /// How many replicas contribute to each sum (1: SumInPlace leaves data as it is).
  virtual int num_replicas() const = 0;
  /// Blocking: data[0..n) becomes its sum over all replicas. Called from engine workers.
  /// @throws loom::Error (comm::CommError for a missing or dead replica) when the sum fails; the
  ///         calling operation then fails and the error surfaces at the next wait, naming it.
  virtual void SumInPlace(double* data, size_t n) = 0;
};

}  // namespace loom
