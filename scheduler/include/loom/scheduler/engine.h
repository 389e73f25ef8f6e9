// The dependency engine: operations pushed with the variables they read and write run as soon as
// their dependencies allow, on per-device worker pools (oneTBB) and, with CUDA, on GPU streams.
//
//   loom::Engine& engine = loom::Engine::Get();           // chosen by LOOM_ENGINE at first use
//   loom::VarHandle a = engine.NewVariable(), b = engine.NewVariable();
//   float x = 0, y = 0;
//   engine.Push([&](loom::RunContext) { x = 1; }, loom::Context::CPU(), {}, {a}, 0, "init_a");
//   engine.Push([&](loom::RunContext) { y = x + 1; }, loom::Context::CPU(), {a}, {b}, 0, "b=a+1");
//   engine.WaitForVar(b);                                   // y == 2 now; rethrows b's error
//   engine.DeleteVariable([](loom::RunContext) {}, loom::Context::CPU(), a);
//   engine.DeleteVariable([](loom::RunContext) {}, loom::Context::CPU(), b);
//
// Semantics (MXNet's, which users and executors rely on):
// - Per variable, operations run in push order: consecutive reads may run together; a write waits
//   for every earlier read and write; a read waits for every earlier write.
// - A variable's version counts its completed writes.
// - An exception thrown by an operation marks the variables it writes; later operations touching
//   them are skipped (unless FnProperty::kNoSkip) and pass the mark on to what they write. The next
//   WaitForVar on a marked variable rethrows the error once, with the failed operation's name;
//   WaitForAll rethrows the first error and clears all of them. Workers never terminate the process.
// - Duplicate variables in one operation's lists are merged, and a variable both read and written
//   is treated as written.
//
// Thread safety: every member function of Engine is thread-safe. Variables are owned by the engine;
// the caller must not use a handle after DeleteVariable.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loom/scheduler/context.h"

namespace loom {

namespace detail {
struct Var;
struct Opr;
class EngineImpl;
}  // namespace detail

/// Opaque handle to an engine variable (a unit of dependency tracking, e.g. one array's memory).
using VarHandle = detail::Var*;
/// Opaque handle to a cached operation (NewOperator), pushed many times without re-allocation.
using OprHandle = detail::Opr*;

/// What an operation is, which decides where it runs. kCount keeps the name table in step.
enum class FnProperty : uint8_t {
  kNormal = 0,       ///< compute on its context's pool or compute stream
  kCopyFromGPU,      ///< a copy out of a GPU: runs on that GPU's copy stream
  kCopyToGPU,        ///< a copy into a GPU: runs on that GPU's copy stream
  kCPUPrioritized,   ///< CPU work that should overtake normal work (communication, updates)
  kAsync,            ///< starts asynchronous work and returns at once: runs in the dispatching thread
  kDeleteVar,        ///< deletes a variable (internal)
  kGPUPrioritized,   ///< GPU work that should overtake normal work
  kNoSkip,           ///< runs even when an input carries an error (cleanup)
  kCount
};
const char* ToString(FnProperty prop);

/// What a running operation gets: its device and, on a GPU, its stream.
struct RunContext {
  Context ctx;
  /// cudaStream_t of the stream the operation must enqueue its work on; nullptr on CPU.
  void* stream = nullptr;
  /// True when the operation runs as part of a bulk segment.
  bool is_bulk = false;
};

/// Completion callback of an asynchronous operation. Call it exactly once, from any thread, with
/// nullptr on success or the error. Copyable; the engine keeps the operation alive until called.
class CallbackOnComplete {
 public:
  void operator()(std::exception_ptr error = nullptr) const;

 private:
  friend class detail::EngineImpl;
  using CompleteFn = void (*)(void* engine, void* block, std::exception_ptr);
  CallbackOnComplete(CompleteFn fn, void* engine, void* block)
      : fn_(fn), engine_(engine), block_(block) {}
  CompleteFn fn_;
  void* engine_;
  void* block_;
};

using SyncFn = std::function<void(RunContext)>;
using AsyncFn = std::function<void(RunContext, CallbackOnComplete)>;

/// Engine construction settings. Fields left at 0 or empty are read from the environment
/// (LOOM_ENGINE, LOOM_CPU_WORKER_NTHREADS, ...) and then defaulted.
struct EngineOptions {
  /// "threaded" or "naive" (every operation runs synchronously in the caller).
  std::string kind;
  /// Threads of each cpu(i) pool; 0 = LOOM_CPU_WORKER_NTHREADS, else the machine's cores (<= 8).
  int cpu_worker_threads = 0;
  /// Threads of the prioritised CPU pool; 0 = LOOM_CPU_PRIORITY_NTHREADS, else 2.
  int cpu_priority_threads = 0;
  /// Compute streams per GPU; 0 = LOOM_GPU_WORKER_NSTREAMS, else 2.
  int gpu_compute_streams = 0;
  /// Chrome trace path written at shutdown; empty = LOOM_PROFILE, else no tracing.
  std::string profile_path;
};

/// The dependency engine. Create one with Create() (tests, benchmarks) or use the process-wide
/// instance from Get(). Destroying an engine waits for pending work, then stops its workers.
class Engine {
 public:
  virtual ~Engine() = default;

  /// The process-wide engine, created on first use from the environment.
  static Engine& Get();
  /// A new, independent engine.
  static std::unique_ptr<Engine> Create(const EngineOptions& options = {});

  /// "threaded" or "naive".
  virtual std::string_view kind() const = 0;
  /// Threads of each cpu(i) pool.
  virtual int cpu_worker_threads() const = 0;
  /// GPUs this engine can run on: 0 in a CPU-only build or when the CUDA runtime finds none.
  virtual int num_gpus() const = 0;

  /// A new variable, version 0, with nothing pending.
  virtual VarHandle NewVariable() = 0;
  /// Runs on_delete on ctx once every operation pushed so far on var is done, then frees var.
  virtual void DeleteVariable(SyncFn on_delete, Context ctx, VarHandle var) = 0;
  /// Completed writes to var so far.
  virtual uint64_t Version(VarHandle var) const = 0;

  /// Pushes an asynchronous operation. Returns at once; fn is called when reads and writes are
  /// available and must eventually call its CallbackOnComplete exactly once.
  virtual void PushAsync(AsyncFn fn, Context ctx, std::span<const VarHandle> reads,
                         std::span<const VarHandle> writes, FnProperty prop = FnProperty::kNormal,
                         int priority = 0, std::string_view name = {}) = 0;
  /// Pushes a synchronous operation (complete when fn returns). Higher priority runs earlier
  /// among operations that are ready at the same time on the same pool.
  void Push(SyncFn fn, Context ctx, std::span<const VarHandle> reads,
            std::span<const VarHandle> writes, int priority = 0, std::string_view name = {},
            FnProperty prop = FnProperty::kNormal) {
    PushSyncImpl(std::move(fn), ctx, reads, writes, priority, name, prop);
  }
  void Push(SyncFn fn, Context ctx, std::initializer_list<VarHandle> reads,
            std::initializer_list<VarHandle> writes, int priority = 0, std::string_view name = {},
            FnProperty prop = FnProperty::kNormal) {
    Push(std::move(fn), ctx, std::span<const VarHandle>(reads.begin(), reads.size()),
         std::span<const VarHandle>(writes.begin(), writes.size()), priority, name, prop);
  }

  /// A cached operation: its function and variables are stored once and pushed many times.
  virtual OprHandle NewOperator(AsyncFn fn, std::span<const VarHandle> reads,
                                std::span<const VarHandle> writes,
                                FnProperty prop = FnProperty::kNormal,
                                std::string_view name = {}) = 0;
  /// Pushes a cached operation once.
  virtual void Push(OprHandle op, Context ctx, int priority = 0) = 0;
  /// Frees a cached operation once its pushes are done.
  virtual void DeleteOperator(OprHandle op) = 0;

  /// Blocks until every write pushed so far to var is done, then rethrows var's error (once).
  virtual void WaitForVar(VarHandle var) = 0;
  /// Blocks until everything pushed so far is done, then rethrows the first error and clears all.
  virtual void WaitForAll() = 0;

  /// Bulk mode for the calling thread: while size > 1, consecutive synchronous normal-priority
  /// CPU pushes on one context are gathered and run as one task of up to size operations.
  /// Returns the previous size. Gathered work is flushed by any wait, another kind of push, or
  /// SetBulkSize.
  virtual int SetBulkSize(int size) = 0;

  /// Writes the Chrome trace gathered so far (when tracing is on) to path.
  virtual void DumpProfile(const std::string& path) = 0;

 protected:
  virtual void PushSyncImpl(SyncFn fn, Context ctx, std::span<const VarHandle> reads,
                            std::span<const VarHandle> writes, int priority,
                            std::string_view name, FnProperty prop) = 0;
};

/// Sets the calling thread's bulk size for a scope, and flushes and restores it on exit.
class BulkScope {
 public:
  BulkScope(Engine& engine, int size) : engine_(engine), previous_(engine.SetBulkSize(size)) {}
  ~BulkScope() { engine_.SetBulkSize(previous_); }
  BulkScope(const BulkScope&) = delete;
  BulkScope& operator=(const BulkScope&) = delete;

 private:
  Engine& engine_;
  int previous_;
};

}  // namespace loom
