#include "backends.h"

#include "array_ops.h"
#include "loom/build_config.h"
#include "loom/scheduler/error.h"
#include "threaded_communicator.h"

namespace loom::comm::detail {

bool HasMpi() { return LOOM_COMM_HAS_MPI != 0; }
bool HasNccl() { return LOOM_COMM_HAS_NCCL != 0; }
bool HasCuda() {
#if LOOM_USE_CUDA
  return true;
#else
  return false;
#endif
}

#if !LOOM_COMM_HAS_MPI
std::shared_ptr<Communicator> CreateMpiCommunicator(std::chrono::milliseconds) {
  throw NotSupportedError("Loom was built without MPI (LOOM_USE_MPI=OFF): no mpi communicator");
}
std::unique_ptr<ProgressChannel> CreateMpiProgressChannel(std::chrono::milliseconds) {
  throw NotSupportedError("Loom was built without MPI (LOOM_USE_MPI=OFF): no progress channel");
}
#endif

#if !LOOM_COMM_HAS_NCCL
std::shared_ptr<Communicator> CreateNcclCommunicator(std::chrono::milliseconds, int) {
  throw NotSupportedError(
      "Loom was built without NCCL (it needs a CUDA build with NCCL found): "
      "no nccl communicator");
}
#endif

#if !LOOM_USE_CUDA
void GpuSum(DType, const void* const*, int, void*, size_t, void*) {
  throw NotSupportedError("kvstore sums on a GPU need a CUDA build");
}
#endif

}  // namespace loom::comm::detail
