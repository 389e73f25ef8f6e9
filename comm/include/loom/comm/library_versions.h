// The communication libraries this build uses, for `loom --version`.
//
//   std::cout << loom::comm::MpiLibraryVersion() << "\n";   // "Open MPI v4.1.4, ..." or ""
//
// Thread-safe; neither needs MPI or NCCL to be initialised.
#pragma once

#include <string>

namespace loom::comm {

/// The MPI library's own version line (MPI_Get_library_version); "" without MPI.
std::string MpiLibraryVersion();

/// "2.19.3"; "" when the build has no NCCL communicator.
std::string NcclVersion();

}  // namespace loom::comm
