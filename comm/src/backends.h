// The communicator backends and what this build has. communicator.cc dispatches on them;
// backends.cc is the one place that knows which were compiled (LOOM_COMM_HAS_MPI/_NCCL) and
// defines the missing ones as NotSupportedError.
#pragma once

#include <chrono>
#include <memory>

#include "loom/comm/communicator.h"

namespace loom::comm::detail {

class ProgressChannel;

bool HasMpi();
bool HasNccl();
bool HasCuda();

/// One rank; collectives are identities (local_communicator.cc).
std::shared_ptr<Communicator> CreateLocalCommunicator(std::chrono::milliseconds timeout);
/// MPI_COMM_WORLD's ranks (mpi/mpi_communicator.cc; only in builds with MPI).
std::shared_ptr<Communicator> CreateMpiCommunicator(std::chrono::milliseconds timeout);
/// Progress queries over a new duplicate of MPI_COMM_WORLD (for backends other than mpi whose
/// ranks are MPI_COMM_WORLD's). Collective, like creating a communicator.
std::unique_ptr<ProgressChannel> CreateMpiProgressChannel(std::chrono::milliseconds timeout);
/// One GPU per rank (cuda/nccl_communicator.cc; only in builds with CUDA and NCCL).
std::shared_ptr<Communicator> CreateNcclCommunicator(std::chrono::milliseconds timeout, int device);

}  // namespace loom::comm::detail
