// The GPU side of storage and copies, behind one interface so that only gpu_memory.cc chooses
// between the CUDA implementation (core/src/cuda/) and the one of a CPU-only build.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "loom/core/storage.h"
#include "loom/scheduler/context.h"

namespace loom::detail {

class GpuMemoryApi {
 public:
  virtual ~GpuMemoryApi() = default;
  /// Usable GPUs; 0 without CUDA or when the runtime finds none.
  virtual int DeviceCount() = 0;
  /// The CUDA runtime's version ("12.4"); "" in a CPU-only build.
  virtual std::string RuntimeVersion() = 0;
  /// gpu(id)'s name and memory ("NVIDIA H100 80GB HBM3, 79.1 GiB"), id < DeviceCount().
  virtual std::string DeviceDescription(int id) = 0;
  /// gpu(id)'s pool. Throws NotSupportedError (no CUDA) or loom::Error (no such GPU).
  virtual std::unique_ptr<StoragePool> NewDevicePool(int id) = 0;
  /// A pool of page-locked host memory for cpu_pinned(id); only called when DeviceCount() > 0.
  virtual std::unique_ptr<StoragePool> NewPinnedPool(int id) = 0;
  /// Copies `bytes` between any two of host and device memory on `stream` (a cudaStream_t,
  /// nullptr for the default stream) and waits for it. Throws loom::Error naming the CUDA error.
  virtual void Copy(void* dst, const void* src, size_t bytes, void* stream) = 0;
};

/// The process-wide backend.
GpuMemoryApi& GpuMemory();

/// The CUDA backend; defined in core/src/cuda/cuda_memory.cc, which only CUDA builds compile.
std::unique_ptr<GpuMemoryApi> NewCudaMemoryApi();

}  // namespace loom::detail
