// The CUDA implementation of the GPU backend: cudaMalloc-backed pools for gpu(i), page-locked
// pools for cpu_pinned(i), and stream copies. A full caching GPU allocator comes later.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>

#include "gpu_memory.h"
#include "loom/scheduler/error.h"

namespace loom::detail {

namespace {

void CheckCuda(cudaError_t status, const char* what, Context ctx) {
  if (status != cudaSuccess) {
    throw Error(StrCat(what, " failed on ", ctx.ToString(), ": ", cudaGetErrorString(status)));
  }
}

class CudaDevicePool final : public StoragePool {
 public:
  explicit CudaDevicePool(int id) : StoragePool(Context::GPU(id)) {}

 private:
  void* RawAlloc(size_t bytes) override {
    CheckCuda(cudaSetDevice(ctx().id), "cudaSetDevice", ctx());
    void* ptr = nullptr;
    if (cudaMalloc(&ptr, bytes) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky out-of-memory status
      return nullptr;
    }
    return ptr;
  }
  void RawFree(void* ptr) override {
    cudaSetDevice(ctx().id);
    cudaFree(ptr);
  }
  std::optional<size_t> DeviceFreeBytes() const override {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(ctx().id) != cudaSuccess ||
        cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
      return std::nullopt;
    }
    return free_bytes;
  }
};

class CudaPinnedPool final : public StoragePool {
 public:
  explicit CudaPinnedPool(int id) : StoragePool(Context::CPUPinned(id)) {}

 private:
  void* RawAlloc(size_t bytes) override {
    void* ptr = nullptr;
    if (cudaHostAlloc(&ptr, bytes, cudaHostAllocPortable) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return ptr;
  }
  void RawFree(void* ptr) override { cudaFreeHost(ptr); }
};

class CudaMemoryApi final : public GpuMemoryApi {
 public:
  CudaMemoryApi() {
    count_status_ = cudaGetDeviceCount(&count_);
    if (count_status_ != cudaSuccess) {
      count_ = 0;
      cudaGetLastError();
    }
  }

  int DeviceCount() override { return count_; }

  std::string RuntimeVersion() override {
    int version = 0;
    if (cudaRuntimeGetVersion(&version) != cudaSuccess) {
      cudaGetLastError();
      return "unknown";
    }
    return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
  }

  std::string DeviceDescription(int id) override {
    cudaDeviceProp prop{};
    const cudaError_t status = cudaGetDeviceProperties(&prop, id);
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw Error(StrCat("cannot describe ", Context::GPU(id).ToString(), ": ",
                         cudaGetErrorString(status)));
    }
    char memory[32];
    std::snprintf(memory, sizeof memory, "%.1f GiB",
                  static_cast<double>(prop.totalGlobalMem) / (1ull << 30));
    return StrCat(prop.name, ", ", memory, ", compute capability ", prop.major, ".", prop.minor);
  }

  std::unique_ptr<StoragePool> NewDevicePool(int id) override {
    if (count_status_ != cudaSuccess) {
      throw Error(StrCat("cannot use ", Context::GPU(id).ToString(),
                         ": no GPU available: ", cudaGetErrorString(count_status_)));
    }
    if (count_ == 0) {
      throw Error(StrCat("cannot use ", Context::GPU(id).ToString(),
                         ": no GPU available: the CUDA runtime found no device"));
    }
    if (id >= count_) {
      throw Error(StrCat("cannot use ", Context::GPU(id).ToString(), ": expected a GPU id below ",
                         count_, " but got ", id, " (", count_, " GPU(s) available)"));
    }
    return std::make_unique<CudaDevicePool>(id);
  }

  std::unique_ptr<StoragePool> NewPinnedPool(int id) override {
    return std::make_unique<CudaPinnedPool>(id);
  }

  void Copy(void* dst, const void* src, size_t bytes, void* stream) override {
    auto s = static_cast<cudaStream_t>(stream);
    cudaError_t status = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s);
    if (status == cudaSuccess) status = cudaStreamSynchronize(s);
    if (status != cudaSuccess) {
      throw Error(StrCat("copy of ", bytes, " bytes failed: ", cudaGetErrorString(status)));
    }
  }

 private:
  int count_ = 0;
  cudaError_t count_status_ = cudaSuccess;
};

}  // namespace

std::unique_ptr<GpuMemoryApi> NewCudaMemoryApi() { return std::make_unique<CudaMemoryApi>(); }

}  // namespace loom::detail
