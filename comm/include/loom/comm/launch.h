// Where this process sits in a job, read from the variables launchers set (conventions.md C4):
// LOOM_RANK/LOOM_WORLD_SIZE, Open MPI's OMPI_COMM_WORLD_RANK/SIZE, MPICH/Hydra's PMI_RANK/SIZE,
// Slurm's SLURM_PROCID/SLURM_NTASKS, torchrun's RANK/WORLD_SIZE, tried in that order.
//
//   loom::comm::LaunchInfo job = loom::comm::DiscoverLaunch();
//   if (job.size > 1) { ... several processes: use a dist kvstore ... }
//   std::cout << job.ToString();   // "rank 1 of 4 (local 1 of 2) from OMPI_COMM_WORLD_*"
//
// A pair of which only one variable is set is an error naming both; no pair at all means rank 0
// of 1. The local rank (to pick a GPU) comes from OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID,
// SLURM_LOCALID or LOCAL_RANK, else it is the rank. Thread-safe (reads the environment).
#pragma once

#include <string>

namespace loom::comm {

struct LaunchInfo {
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  int local_size = 1;
  /// The pair that decided ("OMPI_COMM_WORLD_*"), or "" when no launcher variables are set.
  std::string source;
  std::string ToString() const;
};

/// @throws loom::Error naming both variables of a half-set pair, or a variable that is not a
///         number, or a rank outside [0, size).
LaunchInfo DiscoverLaunch();

}  // namespace loom::comm
