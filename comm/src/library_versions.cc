#include "loom/comm/library_versions.h"

#if LOOM_COMM_HAS_MPI
#include <mpi.h>
#endif
#if LOOM_COMM_HAS_NCCL
#include <nccl.h>
#endif

namespace loom::comm {

std::string MpiLibraryVersion() {
#if LOOM_COMM_HAS_MPI
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "unknown";
  std::string version(text, static_cast<size_t>(length));
  // The first line names the library and its version; the rest is build detail.
  version = version.substr(0, version.find('\n'));
  while (!version.empty() && (version.back() == ' ' || version.back() == '\0')) version.pop_back();
  return version;
#else
  return "";
#endif
}

std::string NcclVersion() {
#if LOOM_COMM_HAS_NCCL
  int code = 0;
  if (ncclGetVersion(&code) != ncclSuccess) return "unknown";
  // NCCL_VERSION(X, Y, Z) = X * 10000 + Y * 100 + Z since 2.9.
  return std::to_string(code / 10000) + "." + std::to_string(code / 100 % 100) + "." +
         std::to_string(code % 100);
#else
  return "";
#endif
}

}  // namespace loom::comm
