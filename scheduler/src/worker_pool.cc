#include "worker_pool.h"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <memory>
#include <mutex>

#include "engine_impl.h"
#include "tsan_annotations.h"

namespace loom::detail {
namespace {
/// oneTBB's process-wide worker limit is the smallest of all live global_control objects, so all
/// engines share one, sized for the sum of their pools' threads (plus the calling thread).
class TbbThreadBudget {
 public:
  static TbbThreadBudget& Get() {
    static auto* budget = new TbbThreadBudget();
    return *budget;
  }
  void Add(int threads) {
    std::lock_guard<std::mutex> lock(mu_);
    total_ += threads;
    if (total_ + 1 > current_) {
      current_ = total_ + 1;
      auto next = std::make_unique<tbb::global_control>(
          tbb::global_control::max_allowed_parallelism, current_);
      control_ = std::move(next);
    }
  }
  void Remove(int threads) {
    std::lock_guard<std::mutex> lock(mu_);
    total_ -= threads;
  }

 private:
  std::mutex mu_;
  int total_ = 0;
  int current_ = 0;
  std::unique_ptr<tbb::global_control> control_;
};

// Iterations a drainer keeps polling an empty queue before it leaves the arena (~10 us).
constexpr int kDrainSpins = 4000;
}  // namespace

WorkerPool::WorkerPool(std::string name, int threads, RunFn run)
    : name_(std::move(name)),
      threads_(threads),
      run_(std::move(run)),
      arena_(threads, /*reserved_for_masters=*/0) {
  TbbThreadBudget::Get().Add(threads);
}

WorkerPool::~WorkerPool() {
  while (running_tasks_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  TbbThreadBudget::Get().Remove(threads_);
}

void WorkerPool::PushBack(Fifo& fifo, OprBlock* block) {
  block->next_ready = nullptr;
  if (fifo.tail) {
    fifo.tail->next_ready = block;
  } else {
    fifo.head = block;
  }
  fifo.tail = block;
}

OprBlock* WorkerPool::PopFront(Fifo& fifo) {
  OprBlock* block = fifo.head;
  fifo.head = block->next_ready;
  if (!fifo.head) fifo.tail = nullptr;
  return block;
}

void WorkerPool::Enqueue(OprBlock* block) {
  {
    std::lock_guard<SpinLock> guard(lock_);
    if (block->priority == 0) {
      PushBack(normal_, block);
    } else {
      PushBack(others_[block->priority], block);
    }
    size_.fetch_add(1);
  }
  int active = active_drainers_.load();
  while (active < threads_) {
    if (active_drainers_.compare_exchange_weak(active, active + 1)) {
      running_tasks_.fetch_add(1);
      LOOM_TSAN_RELEASE(this);
      arena_.enqueue(DrainTask{this});
      return;
    }
  }
}

OprBlock* WorkerPool::Pop() {
  if (size_.load(std::memory_order_relaxed) == 0) return nullptr;
  std::lock_guard<SpinLock> guard(lock_);
  if (!others_.empty()) {
    auto it = others_.begin();
    if (it->first > 0 || !normal_.head) {
      OprBlock* block = PopFront(it->second);
      if (!it->second.head) others_.erase(it);
      size_.fetch_sub(1);
      return block;
    }
  }
  if (!normal_.head) return nullptr;
  size_.fetch_sub(1);
  return PopFront(normal_);
}

void WorkerPool::DrainTask::operator()() const { pool->RunDrainer(); }

void WorkerPool::RunDrainer() {
  LOOM_TSAN_ACQUIRE(this);
  Drain();
  running_tasks_.fetch_sub(1, std::memory_order_release);  // last touch of the pool
}

void WorkerPool::Drain() {
  int slot = tbb::this_task_arena::current_thread_index();
  for (;;) {
    OprBlock* block = Pop();
    for (int spin = 0; !block && spin < kDrainSpins; ++spin) {
      LOOM_CPU_RELAX();
      block = Pop();
    }
    if (block) {
      run_(block, slot);
      continue;
    }
    // Leave, unless work arrived after an enqueuer saw this drainer as active.
    active_drainers_.fetch_sub(1);
    if (size_.load() == 0) return;
    int active = active_drainers_.load();
    bool rejoined = false;
    while (active < threads_ && !rejoined) {
      rejoined = active_drainers_.compare_exchange_weak(active, active + 1);
    }
    if (!rejoined) return;
  }
}

}  // namespace loom::detail
