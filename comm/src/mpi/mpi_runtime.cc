#include "mpi_runtime.h"

#include <cstdlib>

#include "loom/comm/communicator.h"
#include "loom/scheduler/error.h"

namespace loom::comm::detail {

std::string MpiErrorString(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
    return "MPI error code " + std::to_string(code);
  }
  return std::string(text, static_cast<size_t>(length));
}

MpiRuntime& MpiRuntime::Get() {
  // Never destroyed: communicators may outlive static destruction order; MPI_Finalize runs from
  // an atexit handler instead.
  static MpiRuntime* runtime = new MpiRuntime();
  return *runtime;
}

MpiRuntime::MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  LOOM_CHECK_TYPED(CommError, !finalized,
                   "cannot create an MPI communicator: MPI was already finalized in this process");
  int initialized = 0;
  MPI_Initialized(&initialized);
  int provided = MPI_THREAD_SINGLE;
  if (!initialized) {
    PrepareMpiEnvironment();
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
    LOOM_CHECK_TYPED(CommError, rc == MPI_SUCCESS, "MPI_Init_thread failed: ", MpiErrorString(rc));
    owner_ = true;
    std::atexit(&MpiRuntime::FinalizeAtExit);
  } else {
    MPI_Query_thread(&provided);
  }
  LOOM_CHECK_TYPED(CommError, provided >= MPI_THREAD_SERIALIZED, "MPI provides thread level ",
                   provided,
                   " but Loom needs at least "
                   "MPI_THREAD_SERIALIZED (its communication threads call MPI); initialise MPI "
                   "with MPI_Init_thread(MPI_THREAD_MULTIPLE) or let Loom initialise it");
  serialize_ = provided < MPI_THREAD_MULTIPLE;
}

std::unique_lock<std::mutex> MpiRuntime::Lock() {
  return serialize_ ? std::unique_lock<std::mutex>(mu_) : std::unique_lock<std::mutex>();
}

void MpiRuntime::FinalizeAtExit() {
  MpiRuntime& rt = Get();
  if (!rt.owner_ || rt.live_.load() != 0 || rt.unclean_.load()) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace loom::comm::detail
