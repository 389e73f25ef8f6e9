// The engine's dependency-tracking core, shared by the threaded and the naive engine.
//
// Every variable keeps a FIFO of waiting requests. A request is granted when the variable allows
// it (a read: no write running or waiting ahead; a write: nothing running or waiting ahead). Every
// pushed operation counts its ungranted requests plus a guard; when the count reaches zero the
// operation is ready and Dispatch() decides where it runs. Completing an operation releases its
// variables, which grants waiting requests and may make further operations ready.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loom/scheduler/engine.h"
#include "profiler.h"
#include "small_array.h"
#include "spin_lock.h"

namespace loom::detail {

struct OprBlock;
class GpuBackend;

/// An error shared by every variable it reached; cleared (error = nullptr) once rethrown.
struct ExceptionRecord {
  std::exception_ptr error;  // guarded by EngineImpl::errors_mu_
};
using ExceptionRef = std::shared_ptr<ExceptionRecord>;

/// One waiting request in a variable's queue; lives inside its OprBlock.
struct WaitNode {
  OprBlock* block = nullptr;
  WaitNode* next = nullptr;
  bool write = false;
};

struct Var {
  SpinLock lock;
  int running_reads = 0;       // granted reads not yet complete; guarded by lock
  bool write_running = false;  // a granted write is not yet complete; guarded by lock
  int pending_writes = 0;      // writes waiting or running; guarded by lock
  WaitNode* head = nullptr;    // oldest waiting request; guarded by lock
  WaitNode* tail = nullptr;    // guarded by lock
  bool to_delete = false;      // set by the deleting operation; guarded by lock
  std::atomic<uint64_t> version{0};
  std::atomic<bool> has_error{false};
  ExceptionRef error;          // guarded by lock
  /// GPU completion state (events of the last write and of reads since), owned by GpuBackend.
  std::atomic<void*> gpu_state{nullptr};
};

/// An operation: its function, variables (reads first, then writes) and properties.
struct Opr {
  AsyncFn fn;       // an asynchronous function, or
  SyncFn sync_fn;   // a synchronous one (complete when it returns)
  SmallArray<Var*, 6> vars;
  uint32_t num_reads = 0;
  FnProperty prop = FnProperty::kNormal;
  bool always_run = false;  // runs even when an input carries an error (kNoSkip, deletes, waits)
  std::string name;

  uint32_t num_vars() const { return static_cast<uint32_t>(vars.size()); }
  uint32_t num_writes() const { return num_vars() - num_reads; }
};

/// One push of an operation: what it waits for, where it runs, and its queue nodes.
struct OprBlock {
  Opr own;               // the operation itself when temporary
  Opr* opr = nullptr;    // &own, or a cached operation
  Context ctx;
  int priority = 0;
  std::atomic<int> wait{0};
  OprBlock* next_ready = nullptr;  // intrusive link in a pool's ready queue
  SmallArray<WaitNode, 6> nodes;
  ExceptionRef error;              // set when an input carries an error
  void* stream = nullptr;          // the GPU stream it ran on; nullptr on the host
  std::exception_ptr forced_error; // fails the push without running it (e.g. no such GPU)
};

/// Recycles OprBlocks through thread-local caches that exchange batches with a shared list, so
/// blocks allocated by a pushing thread and released by workers cost no malloc per operation.
class BlockPool {
 public:
  static OprBlock* Get();
  /// Clears the block's function, name and error and keeps it for reuse.
  static void Put(OprBlock* block);
};

/// The shared algorithm; subclasses decide where ready operations run (Dispatch).
class EngineImpl : public Engine {
 public:
  explicit EngineImpl(const EngineOptions& options);
  ~EngineImpl() override;

  VarHandle NewVariable() override;
  void DeleteVariable(SyncFn on_delete, Context ctx, VarHandle var) override;
  uint64_t Version(VarHandle var) const override;
  void PushAsync(AsyncFn fn, Context ctx, std::span<const VarHandle> reads,
                 std::span<const VarHandle> writes, FnProperty prop, int priority,
                 std::string_view name) override;
  OprHandle NewOperator(AsyncFn fn, std::span<const VarHandle> reads,
                        std::span<const VarHandle> writes, FnProperty prop,
                        std::string_view name) override;
  void Push(OprHandle op, Context ctx, int priority) override;
  using Engine::Push;
  void DeleteOperator(OprHandle op) override;
  void WaitForVar(VarHandle var) override;
  void WaitForAll() override;
  int SetBulkSize(int size) override;
  void DumpProfile(const std::string& path) override;
  int cpu_worker_threads() const override { return cpu_worker_threads_; }
  int num_gpus() const override;

  /// Runs a ready block on the calling thread with the given run context, then completes it
  /// (synchronous functions) or leaves completion to its callback.
  /// profile_row: the trace row of the calling worker, or -1.
  void Execute(OprBlock* block, RunContext run_ctx, int profile_row);
  /// Called by CallbackOnComplete.
  static void OnCompleteThunk(void* engine, void* block, std::exception_ptr error);

  Profiler& profiler() { return profiler_; }

 protected:
  void PushSyncImpl(SyncFn fn, Context ctx, std::span<const VarHandle> reads,
                    std::span<const VarHandle> writes, int priority, std::string_view name,
                    FnProperty prop) override;
  /// Sends a ready block to where it runs. from_pusher: called inside the push itself.
  virtual void Dispatch(OprBlock* block, bool from_pusher) = 0;
  /// Runs a GPU operation on its device's streams, or fails it with a clear error when that GPU
  /// does not exist or Loom was built without CUDA.
  void DispatchGpu(OprBlock* block);
  /// Hook for the naive engine: called at the end of every push.
  virtual void AfterPush() {}
  /// Waits until no operation is pending, without rethrowing errors.
  void WaitForPendingZero();
  /// Stops accepting completions and waits for in-flight completion code to leave the engine.
  void Quiesce();

  GpuBackend* gpu() const { return gpu_.get(); }
  void SetGpuBackend(std::unique_ptr<GpuBackend> gpu);

  int cpu_worker_threads_ = 1;

 private:
  OprBlock* NewBlock(Opr* opr, Context ctx, int priority);
  /// A block for a one-off push: its own operation, with normalised variables and no function.
  OprBlock* NewPushBlock(Context ctx, std::span<const VarHandle> reads,
                         std::span<const VarHandle> writes, FnProperty prop, int priority,
                         std::string_view name);
  void PushBlock(OprBlock* block, bool from_pusher);
  void OnComplete(OprBlock* block, std::exception_ptr error);
  void FinishBlock(OprBlock* block);
  ExceptionRef InputError(const Opr& opr);
  std::exception_ptr AddOperationContext(std::exception_ptr error, const Opr& opr, Context ctx);
  void ThrowIfError(Var* var);
  void FlushBulk();

  std::atomic<int64_t> pending_{0};
  std::atomic<int> completions_in_flight_{0};
  std::mutex pending_mu_;
  std::condition_variable pending_cv_;

  std::mutex errors_mu_;
  std::vector<ExceptionRef> errors_;  // guarded by errors_mu_: every failure, in order

  Profiler profiler_;
  std::unique_ptr<GpuBackend> gpu_;
};

/// Splits reads/writes into a sorted, duplicate-free variable list (reads first); a variable in
/// both lists counts as written.
void NormaliseVars(std::span<const VarHandle> reads, std::span<const VarHandle> writes, Opr* opr);

}  // namespace loom::detail
