// Cross-replica sums for synchronized BatchNorm over the ranks of a job: a loom::ReplicaReducer
// (loom/core/replica_reducer.h) backed by a communicator of its own.
//
//   auto kv = loom::comm::KVStore::Create("dist_sync");          // gradients: its communicator
//   std::shared_ptr<loom::ReplicaReducer> reducer =
//       loom::comm::MakeReplicaReducer(loom::comm::CommOptions{});  // BatchNorm: another one
//   loom::ExecutorOptions options;
//   options.replica_reducer = reducer;
//
// The reducer never shares a communicator with gradient traffic: the KVStore issues its
// allreduces from the thread driving training while the reducer's sums come from engine
// workers, so on one communicator their sequence numbers would interleave differently on
// different ranks. Each SumInPlace is one allreduce (float64) handed straight to the
// communicator (Communicator::AllReduceUnscheduled, not through the engine, whose workers may
// all be busy, one of them being the caller) and waited for with the communicator's timeout: a
// dead or missing rank gives CommError naming the collective and the missing ranks, which fails
// the calling BatchNorm operation (the executor adds the node's name) and surfaces at the next
// wait. With one rank it returns at once.
//
// Thread safety: SumInPlace calls are serialised by a lock (the executor already orders them:
// replica_reducer.h's ordering contract). One reducer per executor (replica) per process.
#pragma once

#include <memory>

#include "loom/comm/communicator.h"
#include "loom/core/replica_reducer.h"

namespace loom::comm {

/// A reducer over a new communicator made with `options` (backend "nccl" gives an "mpi" one:
/// the sums are of host memory). Creating it is collective like Communicator::Create: every rank
/// must make it, in the same order relative to other communicators and kvstores.
/// @throws as Communicator::Create.
std::shared_ptr<ReplicaReducer> MakeReplicaReducer(const CommOptions& options = {});

/// A reducer over `comm`, which must carry no other collectives (a host-memory backend: local
/// or mpi). @throws loom::Error for a null communicator or one without host arrays (nccl).
std::shared_ptr<ReplicaReducer> MakeReplicaReducer(std::shared_ptr<Communicator> comm);

}  // namespace loom::comm
