// MPI's process-wide state: initialised on the first MPI communicator (MPI_THREAD_MULTIPLE
// requested; at least MPI_THREAD_SERIALIZED required, with one lock around every MPI call then),
// finalised at exit when Loom initialised it and nothing was left in flight.
#pragma once

#include <mpi.h>

#include <atomic>
#include <mutex>
#include <string>

namespace loom::comm::detail {

class MpiRuntime {
 public:
  /// The runtime, initialising MPI on first use. @throws CommError when MPI cannot start or
  /// gives too low a thread level.
  static MpiRuntime& Get();

  /// Held around MPI calls: a real lock only when MPI lacks MPI_THREAD_MULTIPLE.
  std::unique_lock<std::mutex> Lock();

  /// Live communicators (MPI_Finalize waits until none is left).
  void AddCommunicator() { live_.fetch_add(1); }
  void RemoveCommunicator() { live_.fetch_sub(1); }
  /// A communicator was destroyed with transfers in flight (a dead peer): MPI_Finalize would
  /// hang, so the process exits without it.
  void MarkUnclean() { unclean_.store(true); }

 private:
  MpiRuntime();
  static void FinalizeAtExit();

  bool owner_ = false;  // Loom called MPI_Init_thread
  bool serialize_ = false;
  std::mutex mu_;
  std::atomic<int> live_{0};
  std::atomic<bool> unclean_{false};
};

/// MPI's text for an error code.
std::string MpiErrorString(int code);

}  // namespace loom::comm::detail
