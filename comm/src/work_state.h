// The shared state behind a Work handle: completed once by the backend, waited on by users.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>

#include "loom/comm/communicator.h"

namespace loom::comm::detail {

struct WorkState {
  uint64_t seq = 0;
  CollectiveOp op = CollectiveOp::kBarrier;

  /// Marks the collective done (error nullptr on success) and wakes the waiters.
  void Complete(std::exception_ptr e);

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;         // guarded by mu
  std::exception_ptr error;  // guarded by mu
};

}  // namespace loom::comm::detail
