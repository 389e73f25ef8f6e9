// CUDA side of the engine: per-GPU compute streams and a copy stream, each driven by a worker
// slot, and completion tracking with CUDA events (see gpu_backend.h).
#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../engine_impl.h"
#include "../gpu_backend.h"
#include "../worker_pool.h"
#include "loom/scheduler/error.h"

namespace loom::detail {
namespace {

std::string CudaErrorText(cudaError_t error) {
  return std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
}

void CudaCheck(cudaError_t error, const char* what, int device) {
  if (error != cudaSuccess) {
    throw Error(std::string(what) + " failed on gpu(" + std::to_string(device) +
                "): " + CudaErrorText(error));
  }
}

/// An event recorded on a stream; returned to its device's free list when the last variable
/// referring to it lets go.
struct Event {
  cudaEvent_t event = nullptr;
  cudaStream_t stream = nullptr;
  int device = 0;
};
using EventRef = std::shared_ptr<Event>;

/// What a variable's GPU users left behind: the event after the last GPU write, and events after
/// GPU reads since then (a later write must wait for them).
struct VarGpuState {
  std::mutex mu;
  EventRef write;               // guarded by mu
  std::vector<EventRef> reads;  // guarded by mu
};

class Device {
 public:
  Device(EngineImpl* engine, int id, int compute_streams) : engine_(engine), id_(id) {
    CudaCheck(cudaSetDevice(id), "cudaSetDevice", id);
    compute_.resize(compute_streams);
    for (auto& s : compute_) {
      CudaCheck(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate", id);
    }
    CudaCheck(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking), "cudaStreamCreate", id);
    const std::string name = "gpu(" + std::to_string(id) + ")";
    compute_pool_ = MakePool(name + " stream", compute_);
    copy_pool_ = MakePool(name + " copy", {copy_});
  }
  ~Device() {
    compute_pool_.reset();
    copy_pool_.reset();
    cudaSetDevice(id_);
    for (auto s : compute_) cudaStreamDestroy(s);
    cudaStreamDestroy(copy_);
    for (auto e : free_events_) cudaEventDestroy(e);
  }

  void Dispatch(OprBlock* block) {
    const FnProperty prop = block->opr->prop;
    if (prop == FnProperty::kCopyFromGPU || prop == FnProperty::kCopyToGPU) {
      copy_pool_->Enqueue(block);
    } else {
      compute_pool_->Enqueue(block);
    }
  }

  EventRef Record(cudaStream_t stream) {
    cudaEvent_t event = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_events_.empty()) {
        event = free_events_.back();
        free_events_.pop_back();
      }
    }
    if (!event) {
      CudaCheck(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate", id_);
    }
    CudaCheck(cudaEventRecord(event, stream), "cudaEventRecord", id_);
    return EventRef(new Event{event, stream, id_}, [this](Event* e) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        free_events_.push_back(e->event);
      }
      delete e;
    });
  }

  void Synchronize() {
    cudaSetDevice(id_);
    cudaDeviceSynchronize();
  }

 private:
  std::unique_ptr<WorkerPool> MakePool(const std::string& name, std::vector<cudaStream_t> streams) {
    std::vector<int> rows(streams.size(), -1);
    if (engine_->profiler().enabled()) {
      for (size_t i = 0; i < streams.size(); ++i) {
        rows[i] = engine_->profiler().RowId(name + " " + std::to_string(i));
      }
    }
    return std::make_unique<WorkerPool>(
        name, static_cast<int>(streams.size()), [this, streams, rows](OprBlock* block, int slot) {
          const size_t i = static_cast<unsigned>(slot) % streams.size();
          Run(block, streams[i], rows[i]);
        });
  }

  /// Makes stream wait for what the block's variables still have in flight on other streams.
  void WaitForInputs(OprBlock* block, cudaStream_t stream) {
    const Opr& opr = *block->opr;
    for (uint32_t i = 0; i < opr.num_vars(); ++i) {
      auto* state = static_cast<VarGpuState*>(opr.vars[i]->gpu_state.load());
      if (!state) continue;
      std::lock_guard<std::mutex> lock(state->mu);
      auto wait = [&](const EventRef& e) {
        if (e && e->stream != stream) {
          CudaCheck(cudaStreamWaitEvent(stream, e->event, 0), "cudaStreamWaitEvent", id_);
        }
      };
      wait(state->write);
      if (i >= opr.num_reads) {
        for (const auto& r : state->reads) wait(r);
      }
    }
  }

  void Run(OprBlock* block, cudaStream_t stream, int row) {
    try {
      CudaCheck(cudaSetDevice(id_), "cudaSetDevice", id_);
      WaitForInputs(block, stream);
    } catch (...) {
      block->forced_error = std::current_exception();
    }
    engine_->Execute(block, RunContext{block->ctx, stream}, row);
  }

  EngineImpl* engine_;
  int id_;
  std::vector<cudaStream_t> compute_;
  cudaStream_t copy_ = nullptr;
  std::mutex mu_;
  std::vector<cudaEvent_t> free_events_;  // guarded by mu_
  std::unique_ptr<WorkerPool> compute_pool_;
  std::unique_ptr<WorkerPool> copy_pool_;
};

class CudaBackend final : public GpuBackend {
 public:
  CudaBackend(EngineImpl* engine, int compute_streams)
      : engine_(engine), compute_streams_(compute_streams) {
    int count = 0;
    cudaError_t error = cudaGetDeviceCount(&count);
    if (error != cudaSuccess) {
      reason_ = CudaErrorText(error);
      cudaGetLastError();  // clear the sticky error
      count = 0;
    } else if (count == 0) {
      reason_ = "the CUDA runtime found no device";
    }
    devices_.resize(count);
  }
  ~CudaBackend() override { devices_.clear(); }

  int num_devices() const override { return static_cast<int>(devices_.size()); }
  const char* unavailable_reason() const override { return reason_.c_str(); }

  void Dispatch(OprBlock* block) override {
    try {
      device(block->ctx.id).Dispatch(block);
    } catch (...) {
      block->forced_error = std::current_exception();
      engine_->Execute(block, RunContext{block->ctx}, -1);
    }
  }

  void AfterRun(OprBlock* block) override {
    const Opr& opr = *block->opr;
    auto stream = static_cast<cudaStream_t>(block->stream);
    EventRef event;
    try {
      event = device(block->ctx.id).Record(stream);
    } catch (...) {
      // Without an event, fall back to waiting for the stream here.
      cudaStreamSynchronize(stream);
      return;
    }
    for (uint32_t i = 0; i < opr.num_vars(); ++i) {
      VarGpuState* state = StateOf(opr.vars[i]);
      std::lock_guard<std::mutex> lock(state->mu);
      if (i >= opr.num_reads) {
        state->write = event;
        state->reads.clear();
      } else {
        state->reads.push_back(event);
      }
    }
  }

  void SyncHost(Var* var, bool for_write) override {
    auto* state = static_cast<VarGpuState*>(var->gpu_state.load());
    if (!state) return;
    std::lock_guard<std::mutex> lock(state->mu);
    if (state->write) cudaEventSynchronize(state->write->event);
    if (for_write) {
      for (const auto& r : state->reads) cudaEventSynchronize(r->event);
      state->reads.clear();
    }
  }

  void ReleaseVar(Var* var) override {
    delete static_cast<VarGpuState*>(var->gpu_state.exchange(nullptr));
  }

  void SynchronizeAll() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& d : devices_) {
      if (d) d->Synchronize();
    }
  }

 private:
  Device& device(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& d = devices_.at(id);
    if (!d) d = std::make_unique<Device>(engine_, id, compute_streams_);
    return *d;
  }

  static VarGpuState* StateOf(Var* var) {
    void* state = var->gpu_state.load();
    if (state) return static_cast<VarGpuState*>(state);
    auto* fresh = new VarGpuState();
    if (var->gpu_state.compare_exchange_strong(state, fresh)) return fresh;
    delete fresh;
    return static_cast<VarGpuState*>(state);
  }

  EngineImpl* engine_;
  int compute_streams_;
  std::string reason_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Device>> devices_;  // guarded by mu_, created on first use
};

}  // namespace

std::unique_ptr<GpuBackend> CreateCudaBackend(EngineImpl* engine, int compute_streams) {
  return std::make_unique<CudaBackend>(engine, compute_streams);
}

}  // namespace loom::detail
