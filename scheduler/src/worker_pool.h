// A device's worker pool: a oneTBB task_arena with a fixed number of slots and a priority-ordered
// ready queue. Enqueue() never blocks on work; up to `threads` drainer tasks run in the arena,
// each popping the highest-priority ready operation (FIFO within a priority) until the queue
// stays empty for a short spin, so bursts of small operations cost no thread wake-ups.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "spin_lock.h"

namespace loom::detail {

struct OprBlock;

class WorkerPool {
 public:
  /// run(block, slot) executes one ready operation; slot is the arena slot in [0, threads).
  using RunFn = std::function<void(OprBlock* block, int slot)>;

  WorkerPool(std::string name, int threads, RunFn run);
  /// Waits until no drainer is running. The owner must have drained all work first.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues a ready operation. Thread-safe.
  void Enqueue(OprBlock* block);
  const std::string& name() const { return name_; }
  int threads() const { return threads_; }

 private:
  struct Fifo {
    OprBlock* head = nullptr;
    OprBlock* tail = nullptr;
  };
  /// The arena task: only carries the pool (its memory belongs to oneTBB).
  struct DrainTask {
    WorkerPool* pool;
    void operator()() const;
  };
  [[gnu::noinline]] void RunDrainer();
  void Drain();
  OprBlock* Pop();
  static void PushBack(Fifo& fifo, OprBlock* block);
  static OprBlock* PopFront(Fifo& fifo);

  std::string name_;
  int threads_;
  RunFn run_;
  tbb::task_arena arena_;
  SpinLock lock_;
  Fifo normal_;                                       // priority 0; guarded by lock_
  std::map<int, Fifo, std::greater<int>> others_;    // other priorities; guarded by lock_
  std::atomic<int64_t> size_{0};
  std::atomic<int> active_drainers_{0};
  std::atomic<int> running_tasks_{0};  // arena tasks not yet finished, for the destructor
};

}  // namespace loom::detail
