// The threaded engine: ready operations run on their device's worker pool (cpu(i) each its own
// oneTBB arena, one prioritised CPU pool) or GPU stream pools; asynchronous starters and deletes
// run in the thread that made them ready.
#include <array>
#include <mutex>

#include "engine_impl.h"
#include "gpu_backend.h"
#include "loom/scheduler/error.h"
#include "worker_pool.h"

namespace loom::detail {
namespace {

/// Runs operations inline in the calling thread without recursing: an operation made ready by
/// an inline one is queued and run after it returns.
struct InlineRunner {
  bool active = false;
  std::vector<OprBlock*> queue;
};
thread_local InlineRunner inline_runner;

constexpr int kMaxCpuDevices = 64;

class ThreadedEngine final : public EngineImpl {
 public:
  explicit ThreadedEngine(const EngineOptions& options) : EngineImpl(options) {
    cpu_worker_threads_ = options.cpu_worker_threads;
    priority_threads_ = options.cpu_priority_threads;
    SetGpuBackend(CreateGpuBackend(this, options.gpu_compute_streams));
  }

  ~ThreadedEngine() override {
    try {
      WaitForAll();
    } catch (...) {
      // Errors nobody waited for die with the engine; workers stay alive until here.
    }
    Quiesce();
    if (gpu()) gpu()->SynchronizeAll();
    for (auto& pool : cpu_pools_) delete pool.load();
    priority_pool_.reset();
  }

  std::string_view kind() const override { return "threaded"; }

 protected:
  void Dispatch(OprBlock* block, bool from_pusher) override {
    const FnProperty prop = block->opr->prop;
    if (prop == FnProperty::kAsync || prop == FnProperty::kDeleteVar) {
      RunInline(block);
      return;
    }
    if (block->ctx.type == DeviceType::kGPU) {
      DispatchGpu(block);
      return;
    }
    if (prop == FnProperty::kCPUPrioritized) {
      PriorityPool()->Enqueue(block);
    } else {
      CpuPool(block->ctx.id)->Enqueue(block);
    }
  }

 private:
  void RunInline(OprBlock* block) {
    InlineRunner& runner = inline_runner;
    if (runner.active) {
      runner.queue.push_back(block);
      return;
    }
    runner.active = true;
    Execute(block, RunContext{block->ctx}, -1);
    for (size_t i = 0; i < runner.queue.size(); ++i) {
      OprBlock* next = runner.queue[i];
      Execute(next, RunContext{next->ctx}, -1);
    }
    runner.queue.clear();
    runner.active = false;
  }

  WorkerPool* NewPool(const std::string& name, int threads) {
    std::vector<int> rows(threads, -1);
    if (profiler().enabled()) {
      for (int i = 0; i < threads; ++i) rows[i] = profiler().RowId(name + " worker " + std::to_string(i));
    }
    return new WorkerPool(name, threads, [this, rows](OprBlock* block, int slot) {
      int row = rows[static_cast<unsigned>(slot) % rows.size()];
      Execute(block, RunContext{block->ctx}, row);
    });
  }

  WorkerPool* CpuPool(int id) {
    LOOM_CHECK(id >= 0 && id < kMaxCpuDevices, "expected a cpu device id from 0 to ",
               kMaxCpuDevices - 1, " but got cpu(", id, ")");
    WorkerPool* pool = cpu_pools_[id].load(std::memory_order_acquire);
    if (pool) return pool;
    std::lock_guard<std::mutex> lock(pools_mu_);
    pool = cpu_pools_[id].load(std::memory_order_relaxed);
    if (!pool) {
      pool = NewPool("cpu(" + std::to_string(id) + ")", cpu_worker_threads_);
      cpu_pools_[id].store(pool, std::memory_order_release);
    }
    return pool;
  }

  WorkerPool* PriorityPool() {
    std::call_once(priority_once_, [&] {
      priority_pool_.reset(NewPool("cpu prioritised", priority_threads_));
    });
    return priority_pool_.get();
  }

  int priority_threads_;
  std::mutex pools_mu_;
  std::array<std::atomic<WorkerPool*>, kMaxCpuDevices> cpu_pools_{};
  std::once_flag priority_once_;
  std::unique_ptr<WorkerPool> priority_pool_;
};

}  // namespace

std::unique_ptr<Engine> CreateThreadedEngine(const EngineOptions& options) {
  return std::make_unique<ThreadedEngine>(options);
}

}  // namespace loom::detail
