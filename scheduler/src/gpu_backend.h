// The engine's GPU side: per-GPU compute-stream and copy-stream pools, and completion tracking
// with CUDA events. A GPU operation completes in the engine as soon as its work is enqueued; the
// variables it touched remember an event recorded after that work. A later operation on another
// stream waits on those events with cudaStreamWaitEvent, and host code synchronises on them only
// when it touches such a variable (no stream synchronize per operation).
//
// Implemented in cuda/gpu_backend.cc; CreateGpuBackend() returns nullptr in a CPU-only build.
#pragma once

#include <memory>

#include "loom/scheduler/context.h"

namespace loom::detail {

struct OprBlock;
struct Var;
class EngineImpl;

class GpuBackend {
 public:
  virtual ~GpuBackend() = default;
  /// Number of usable GPUs (0 when the CUDA runtime finds no device or no driver).
  virtual int num_devices() const = 0;
  /// Why there are no GPUs, when num_devices() == 0.
  virtual const char* unavailable_reason() const = 0;
  /// Runs a ready operation of a GPU context on its device's stream pools.
  virtual void Dispatch(OprBlock* block) = 0;
  /// Called when a GPU operation completes (its work is enqueued on block->stream): records an
  /// event there and attaches it to the operation's variables.
  virtual void AfterRun(OprBlock* block) = 0;
  /// Makes the calling host thread wait for GPU work on var: the last write, and for a host
  /// write also the reads since.
  virtual void SyncHost(Var* var, bool for_write) = 0;
  /// Frees var's GPU state (the variable is being deleted).
  virtual void ReleaseVar(Var* var) = 0;
  /// Waits for every stream to finish (engine shutdown).
  virtual void SynchronizeAll() = 0;
};

/// The CUDA backend, or nullptr when Loom is built without CUDA.
std::unique_ptr<GpuBackend> CreateGpuBackend(EngineImpl* engine, int compute_streams);

}  // namespace loom::detail
