#include "engine_impl.h"

#include <algorithm>
#include <utility>

#include "gpu_backend.h"
#include "loom/scheduler/error.h"

namespace loom::detail {
namespace {

/// The calling thread's bulk segment being gathered (Engine::SetBulkSize).
struct BulkState {
  EngineImpl* owner = nullptr;
  int size = 0;
  Context ctx;
  std::vector<SyncFn> fns;
  std::vector<std::string> names;
  std::vector<VarHandle> reads;
  std::vector<VarHandle> writes;
};
thread_local BulkState bulk_state;

/// Sorts and removes duplicates from [first, last); returns the new end.
VarHandle* SortUnique(VarHandle* first, VarHandle* last) {
  std::sort(first, last);
  return std::unique(first, last);
}

constexpr size_t kBlockBatch = 256;

/// Batches of free blocks shared between threads.
struct SharedBlocks {
  SpinLock lock;
  std::vector<std::vector<OprBlock*>> batches;  // guarded by lock
};
SharedBlocks& Shared() {
  static auto* shared = new SharedBlocks();  // outlives every thread's cache
  return *shared;
}

struct LocalBlocks {
  std::vector<OprBlock*> free;
  ~LocalBlocks() {
    if (free.empty()) return;
    std::lock_guard<SpinLock> guard(Shared().lock);
    Shared().batches.push_back(std::move(free));
  }
};
thread_local LocalBlocks local_blocks;

}  // namespace

OprBlock* BlockPool::Get() {
  std::vector<OprBlock*>& free = local_blocks.free;
  if (free.empty()) {
    SharedBlocks& shared = Shared();
    {
      std::lock_guard<SpinLock> guard(shared.lock);
      if (!shared.batches.empty()) {
        free = std::move(shared.batches.back());
        shared.batches.pop_back();
      }
    }
    if (free.empty()) return new OprBlock();
  }
  OprBlock* block = free.back();
  free.pop_back();
  return block;
}

void BlockPool::Put(OprBlock* block) {
  block->own.fn = nullptr;
  block->own.sync_fn = nullptr;
  block->own.name.clear();
  block->own.always_run = false;
  block->own.prop = FnProperty::kNormal;
  block->error.reset();
  block->stream = nullptr;
  block->forced_error = nullptr;
  std::vector<OprBlock*>& free = local_blocks.free;
  free.push_back(block);
  if (free.size() >= 2 * kBlockBatch) {
    std::vector<OprBlock*> batch(free.end() - kBlockBatch, free.end());
    free.resize(free.size() - kBlockBatch);
    std::lock_guard<SpinLock> guard(Shared().lock);
    Shared().batches.push_back(std::move(batch));
  }
}

void NormaliseVars(std::span<const VarHandle> reads, std::span<const VarHandle> writes, Opr* opr) {
  SmallArray<VarHandle, 16> w(writes.size()), r(reads.size());
  std::copy(writes.begin(), writes.end(), w.begin());
  std::copy(reads.begin(), reads.end(), r.begin());
  VarHandle* w_end = SortUnique(w.begin(), w.end());
  VarHandle* r_end = SortUnique(r.begin(), r.end());
  r_end = std::remove_if(r.begin(), r_end, [&](VarHandle v) {
    return std::binary_search(w.begin(), w_end, v);
  });
  size_t num_reads = r_end - r.begin(), num_writes = w_end - w.begin();
  opr->vars.Resize(num_reads + num_writes);
  std::copy(r.begin(), r_end, opr->vars.begin());
  std::copy(w.begin(), w_end, opr->vars.begin() + num_reads);
  opr->num_reads = static_cast<uint32_t>(num_reads);
  for (VarHandle v : opr->vars) LOOM_CHECK(v != nullptr, "operation '", opr->name,
                                           "' was pushed with a null variable");
}

EngineImpl::EngineImpl(const EngineOptions& options) : profiler_(options.profile_path) {}

EngineImpl::~EngineImpl() {
  if (bulk_state.owner == this) bulk_state = BulkState();
}

int EngineImpl::num_gpus() const { return gpu_ ? gpu_->num_devices() : 0; }

void EngineImpl::SetGpuBackend(std::unique_ptr<GpuBackend> gpu) { gpu_ = std::move(gpu); }

VarHandle EngineImpl::NewVariable() { return new Var(); }

uint64_t EngineImpl::Version(VarHandle var) const {
  return var->version.load(std::memory_order_acquire);
}

OprBlock* EngineImpl::NewBlock(Opr* opr, Context ctx, int priority) {
  OprBlock* block = BlockPool::Get();
  block->opr = opr ? opr : &block->own;
  block->ctx = ctx;
  block->priority = priority;
  return block;
}

OprBlock* EngineImpl::NewPushBlock(Context ctx, std::span<const VarHandle> reads,
                                   std::span<const VarHandle> writes, FnProperty prop,
                                   int priority, std::string_view name) {
  OprBlock* block = NewBlock(nullptr, ctx, priority);
  Opr& opr = block->own;
  opr.prop = prop;
  opr.name = name;
  opr.always_run = prop == FnProperty::kNoSkip || prop == FnProperty::kDeleteVar;
  NormaliseVars(reads, writes, &opr);
  return block;
}

void EngineImpl::PushAsync(AsyncFn fn, Context ctx, std::span<const VarHandle> reads,
                           std::span<const VarHandle> writes, FnProperty prop, int priority,
                           std::string_view name) {
  FlushBulk();
  OprBlock* block = NewPushBlock(ctx, reads, writes, prop, priority, name);
  block->own.fn = std::move(fn);
  PushBlock(block, /*from_pusher=*/true);
}

void EngineImpl::PushSyncImpl(SyncFn fn, Context ctx, std::span<const VarHandle> reads,
                              std::span<const VarHandle> writes, int priority,
                              std::string_view name, FnProperty prop) {
  BulkState& bulk = bulk_state;
  if (bulk.owner == this && bulk.size > 1 && prop == FnProperty::kNormal && priority == 0 &&
      ctx.type == DeviceType::kCPU) {
    if (!bulk.fns.empty() && bulk.ctx != ctx) FlushBulk();
    bulk.ctx = ctx;
    bulk.fns.push_back(std::move(fn));
    bulk.names.emplace_back(name);
    bulk.reads.insert(bulk.reads.end(), reads.begin(), reads.end());
    bulk.writes.insert(bulk.writes.end(), writes.begin(), writes.end());
    if (static_cast<int>(bulk.fns.size()) >= bulk.size) FlushBulk();
    return;
  }
  FlushBulk();
  OprBlock* block = NewPushBlock(ctx, reads, writes, prop, priority, name);
  block->own.sync_fn = std::move(fn);
  PushBlock(block, /*from_pusher=*/true);
}

int EngineImpl::SetBulkSize(int size) {
  BulkState& bulk = bulk_state;
  if (bulk.owner && bulk.owner != this) bulk.owner->FlushBulk();
  FlushBulk();
  int previous = bulk.owner == this ? bulk.size : 0;
  bulk.owner = this;
  bulk.size = size;
  return previous;
}

void EngineImpl::FlushBulk() {
  BulkState& bulk = bulk_state;
  if (bulk.owner != this || bulk.fns.empty()) return;
  auto fns = std::move(bulk.fns);
  auto names = std::move(bulk.names);
  auto reads = std::move(bulk.reads);
  auto writes = std::move(bulk.writes);
  bulk.fns.clear();
  bulk.names.clear();
  bulk.reads.clear();
  bulk.writes.clear();
  std::string name = "bulk(" + std::to_string(fns.size()) + "): " + names.front();
  OprBlock* block = NewBlock(nullptr, bulk.ctx, 0);
  Opr& opr = block->own;
  opr.name = std::move(name);
  opr.fn = [fns = std::move(fns), names = std::move(names)](RunContext rctx,
                                                             CallbackOnComplete on_complete) {
    rctx.is_bulk = true;
    for (size_t i = 0; i < fns.size(); ++i) {
      try {
        fns[i](rctx);
      } catch (Error& e) {
        e.AddContext("in bulked operation '" + names[i] + "'");
        throw;
      } catch (std::exception& e) {
        Error wrapped(e.what());
        wrapped.AddContext("in bulked operation '" + names[i] + "'");
        throw wrapped;
      }
    }
    on_complete();
  };
  NormaliseVars(reads, writes, &opr);
  PushBlock(block, /*from_pusher=*/true);
}

OprHandle EngineImpl::NewOperator(AsyncFn fn, std::span<const VarHandle> reads,
                                  std::span<const VarHandle> writes, FnProperty prop,
                                  std::string_view name) {
  auto* opr = new Opr();
  opr->fn = std::move(fn);
  opr->prop = prop;
  opr->name = name;
  opr->always_run = prop == FnProperty::kNoSkip;
  NormaliseVars(reads, writes, opr);
  return opr;
}

void EngineImpl::Push(OprHandle op, Context ctx, int priority) {
  FlushBulk();
  PushBlock(NewBlock(op, ctx, priority), /*from_pusher=*/true);
}

void EngineImpl::DeleteOperator(OprHandle op) {
  // Runs after every earlier push of op, since it writes all of op's variables.
  std::vector<VarHandle> vars(op->vars.begin(), op->vars.end());
  PushAsync(
      [op](RunContext, CallbackOnComplete on_complete) {
        delete op;
        on_complete();
      },
      Context::CPU(), {}, vars, FnProperty::kDeleteVar, 0, "DeleteOperator");
}

void EngineImpl::DeleteVariable(SyncFn on_delete, Context ctx, VarHandle var) {
  VarHandle vars[1] = {var};
  PushAsync(
      [var, on_delete = std::move(on_delete)](RunContext rctx, CallbackOnComplete on_complete) {
        {
          std::lock_guard<SpinLock> guard(var->lock);
          var->to_delete = true;
        }
        on_delete(rctx);
        on_complete();
      },
      ctx, {}, vars, FnProperty::kDeleteVar, 0, "DeleteVariable");
}

void EngineImpl::PushBlock(OprBlock* block, bool from_pusher) {
  Opr* opr = block->opr;
  const uint32_t n = opr->num_vars();
  block->nodes.Resize(n);
  pending_.fetch_add(1, std::memory_order_relaxed);
  block->wait.store(static_cast<int>(n) + 1, std::memory_order_relaxed);
  int granted = 0;
  for (uint32_t i = 0; i < n; ++i) {
    Var* var = opr->vars[i];
    WaitNode* node = &block->nodes[i];
    const bool write = i >= opr->num_reads;
    std::lock_guard<SpinLock> guard(var->lock);
    if (write) ++var->pending_writes;
    const bool can_run = write ? (!var->write_running && var->running_reads == 0 && !var->head)
                               : (!var->write_running && !var->head);
    if (can_run) {
      if (write) {
        var->write_running = true;
      } else {
        ++var->running_reads;
      }
      ++granted;
    } else {
      node->block = block;
      node->write = write;
      node->next = nullptr;
      if (var->tail) {
        var->tail->next = node;
      } else {
        var->head = node;
      }
      var->tail = node;
    }
  }
  if (block->wait.fetch_sub(granted + 1, std::memory_order_acq_rel) == granted + 1) {
    Dispatch(block, from_pusher);
  }
  AfterPush();
}

ExceptionRef EngineImpl::InputError(const Opr& opr) {
  for (Var* var : opr.vars) {
    if (!var->has_error.load(std::memory_order_acquire)) continue;
    ExceptionRef ref;
    {
      std::lock_guard<SpinLock> guard(var->lock);
      ref = var->error;
    }
    if (!ref) continue;
    std::lock_guard<std::mutex> lock(errors_mu_);
    if (ref->error) return ref;
  }
  return nullptr;
}

void EngineImpl::Execute(OprBlock* block, RunContext run_ctx, int profile_row) {
  Opr* opr = block->opr;
  block->error = InputError(*opr);
  if (block->error && !opr->always_run) {
    OnComplete(block, nullptr);  // skipped: its writes inherit the input's error
    return;
  }
  if (block->forced_error) {
    OnComplete(block, std::exchange(block->forced_error, nullptr));
    return;
  }
  if (gpu_ && run_ctx.stream == nullptr) {
    for (uint32_t i = 0; i < opr->num_vars(); ++i) {
      Var* var = opr->vars[i];
      if (var->gpu_state.load(std::memory_order_acquire)) {
        gpu_->SyncHost(var, i >= opr->num_reads);
      }
    }
  }
  block->stream = run_ctx.stream;
  const bool profiling = profiler_.enabled() && profile_row >= 0;
  std::string name = profiling ? opr->name : std::string();
  const uint64_t start = profiling ? Profiler::Now() : 0;
  if (opr->sync_fn) {
    std::exception_ptr error;
    try {
      opr->sync_fn(run_ctx);
    } catch (...) {
      error = std::current_exception();
    }
    OnComplete(block, std::move(error));
  } else {
    try {
      opr->fn(run_ctx, CallbackOnComplete(&EngineImpl::OnCompleteThunk, this, block));
    } catch (...) {
      OnComplete(block, std::current_exception());
    }
  }
  if (profiling) profiler_.Record(profile_row, name, start, Profiler::Now());
}

void EngineImpl::OnCompleteThunk(void* engine, void* block, std::exception_ptr error) {
  static_cast<EngineImpl*>(engine)->OnComplete(static_cast<OprBlock*>(block), std::move(error));
}

std::exception_ptr EngineImpl::AddOperationContext(std::exception_ptr error, const Opr& opr,
                                                   Context ctx) {
  std::string where = "in operation '" + (opr.name.empty() ? std::string("(unnamed)") : opr.name) +
                      "' on " + ctx.ToString();
  try {
    std::rethrow_exception(error);
  } catch (Error& e) {
    e.AddContext(where);
    return std::current_exception();
  } catch (std::exception& e) {
    Error wrapped(e.what());
    wrapped.AddContext(where);
    return std::make_exception_ptr(wrapped);
  } catch (...) {
    Error wrapped("unknown exception");
    wrapped.AddContext(where);
    return std::make_exception_ptr(wrapped);
  }
}

void EngineImpl::OnComplete(OprBlock* block, std::exception_ptr error) {
  completions_in_flight_.fetch_add(1, std::memory_order_acquire);
  Opr* opr = block->opr;
  if (gpu_ && block->stream) gpu_->AfterRun(block);
  ExceptionRef ref = block->error;
  if (error) {
    ref = std::make_shared<ExceptionRecord>();
    ref->error = AddOperationContext(std::move(error), *opr, block->ctx);
    std::lock_guard<std::mutex> lock(errors_mu_);
    errors_.push_back(ref);
  }
  OprBlock* ready_inline[8];
  std::vector<OprBlock*> ready_more;
  int num_ready = 0;
  auto grant = [&](WaitNode* node) {
    OprBlock* b = node->block;
    if (b->wait.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      if (num_ready < 8) {
        ready_inline[num_ready++] = b;
      } else {
        ready_more.push_back(b);
      }
    }
  };
  auto pop = [](Var* var) {
    WaitNode* node = var->head;
    var->head = node->next;
    if (!var->head) var->tail = nullptr;
    return node;
  };
  const uint32_t n = opr->num_vars();
  for (uint32_t i = 0; i < opr->num_reads; ++i) {
    Var* var = opr->vars[i];
    std::lock_guard<SpinLock> guard(var->lock);
    if (--var->running_reads == 0 && var->head) {
      var->write_running = true;  // only a write can wait behind running reads
      grant(pop(var));
    }
  }
  for (uint32_t i = opr->num_reads; i < n; ++i) {
    Var* var = opr->vars[i];
    var->lock.lock();
    if (ref) {
      var->error = ref;
      var->has_error.store(true, std::memory_order_release);
    }
    var->version.fetch_add(1, std::memory_order_release);
    --var->pending_writes;
    var->write_running = false;
    if (var->to_delete) {
      var->lock.unlock();
      if (gpu_) gpu_->ReleaseVar(var);
      delete var;
      continue;
    }
    while (var->head && !var->head->write) {
      ++var->running_reads;
      grant(pop(var));
    }
    if (var->running_reads == 0 && var->head) {
      var->write_running = true;
      grant(pop(var));
    }
    var->lock.unlock();
  }
  FinishBlock(block);
  for (int i = 0; i < num_ready; ++i) Dispatch(ready_inline[i], false);
  for (OprBlock* b : ready_more) Dispatch(b, false);
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard<std::mutex> lock(pending_mu_);
    pending_cv_.notify_all();
  }
  completions_in_flight_.fetch_sub(1, std::memory_order_release);  // last touch of the engine
}

void EngineImpl::FinishBlock(OprBlock* block) { BlockPool::Put(block); }

void EngineImpl::ThrowIfError(Var* var) {
  if (!var->has_error.load(std::memory_order_acquire)) return;
  ExceptionRef ref;
  {
    std::lock_guard<SpinLock> guard(var->lock);
    ref = var->error;
    var->error = nullptr;
    var->has_error.store(false, std::memory_order_release);
  }
  if (!ref) return;
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(errors_mu_);
    std::swap(error, ref->error);
  }
  if (error) std::rethrow_exception(error);
}

void EngineImpl::WaitForVar(VarHandle var) {
  FlushBulk();
  bool has_pending_write;
  {
    std::lock_guard<SpinLock> guard(var->lock);
    has_pending_write = var->pending_writes > 0;
  }
  if (has_pending_write) {
    struct Waiter {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
    } waiter;
    OprBlock* block = NewBlock(nullptr, Context::CPU(), 0);
    Opr& opr = block->own;
    opr.name = "WaitForVar";
    opr.prop = FnProperty::kAsync;
    opr.always_run = true;
    opr.fn = [&waiter](RunContext, CallbackOnComplete on_complete) {
      {
        std::lock_guard<std::mutex> lock(waiter.mu);
        waiter.done = true;
        waiter.cv.notify_all();
      }
      on_complete();
    };
    VarHandle reads[1] = {var};
    NormaliseVars(reads, {}, &opr);
    PushBlock(block, /*from_pusher=*/true);
    std::unique_lock<std::mutex> lock(waiter.mu);
    waiter.cv.wait(lock, [&] { return waiter.done; });
  }
  if (gpu_ && var->gpu_state.load(std::memory_order_acquire)) gpu_->SyncHost(var, false);
  ThrowIfError(var);
}

void EngineImpl::DispatchGpu(OprBlock* block) {
  const int id = block->ctx.id;
  if (gpu_ && id >= 0 && id < gpu_->num_devices()) {
    gpu_->Dispatch(block);
    return;
  }
  std::string reason =
      !gpu_ ? std::string("Loom was built without CUDA")
            : gpu_->num_devices() == 0
                  ? std::string("no GPU is available (") + gpu_->unavailable_reason() + ")"
                  : "only " + std::to_string(gpu_->num_devices()) + " GPUs exist";
  block->forced_error = std::make_exception_ptr(
      NotSupportedError("cannot run on " + block->ctx.ToString() + ": " + reason));
  Execute(block, RunContext{block->ctx}, -1);
}

void EngineImpl::WaitForPendingZero() {
  std::unique_lock<std::mutex> lock(pending_mu_);
  pending_cv_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
}

void EngineImpl::WaitForAll() {
  FlushBulk();
  WaitForPendingZero();
  if (gpu_) gpu_->SynchronizeAll();
  std::exception_ptr first;
  {
    std::lock_guard<std::mutex> lock(errors_mu_);
    for (auto& ref : errors_) {
      if (!first && ref->error) first = ref->error;
      ref->error = nullptr;
    }
    errors_.clear();
  }
  if (first) std::rethrow_exception(first);
}

void EngineImpl::Quiesce() {
  while (completions_in_flight_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

void EngineImpl::DumpProfile(const std::string& path) {
  LOOM_CHECK(profiler_.enabled(), "tracing is off: set ", "LOOM_PROFILE",
             " (or EngineOptions::profile_path) to record a trace");
  profiler_.Dump(path);
}

}  // namespace loom::detail

namespace loom {
void CallbackOnComplete::operator()(std::exception_ptr error) const {
  fn_(engine_, block_, std::move(error));
}
}  // namespace loom
