// The CUDA implementation of the GPU backend: cudaMalloc-backed pools for gpu(i), page-locked
// pools for cpu_pinned(i) (StoragePool adds the size buckets, caching and the reserve of
// LOOM_GPU_MEM_POOL*), and copies: peer-to-peer between GPUs where the hardware allows, staged
// through page-locked host memory where not.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <utility>

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
  explicit CudaDevicePool(int id) : StoragePool(Context::GPU(id), PoolPolicy::FromEnvironment()) {}

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
  std::optional<size_t> DeviceTotalBytes() const override {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaSetDevice(ctx().id) != cudaSuccess ||
        cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
      return std::nullopt;
    }
    return total_bytes;
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
    if (bytes == 0) return;
    auto s = static_cast<cudaStream_t>(stream);
    const int src_gpu = DeviceOf(src), dst_gpu = DeviceOf(dst);
    cudaError_t status = cudaSuccess;
    if (src_gpu >= 0 && dst_gpu >= 0 && src_gpu != dst_gpu && !PeerAccess(dst_gpu, src_gpu)) {
      status = StagedCopy(dst, src, src_gpu, bytes, s);
    } else {
      status = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s);
      if (status == cudaSuccess) status = cudaStreamSynchronize(s);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw Error(StrCat("copy of ", bytes, " bytes from ", Where(src_gpu), " to ",
                         Where(dst_gpu), " failed: ", cudaGetErrorString(status)));
    }
  }

 private:
  // The GPU holding ptr, or -1 for host memory.
  static int DeviceOf(const void* ptr) {
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
      cudaGetLastError();
      return -1;
    }
    return attr.type == cudaMemoryTypeDevice ? attr.device : -1;
  }
  static std::string Where(int gpu) {
    return gpu < 0 ? std::string("host memory") : Context::GPU(gpu).ToString();
  }

  // Whether `to` can read and write `from`'s memory directly; enables it the first time.
  bool PeerAccess(int to, int from) {
    std::lock_guard lock(peer_mu_);
    auto key = std::make_pair(to, from);
    auto it = peer_.find(key);
    if (it != peer_.end()) return it->second;
    int can = 0;
    bool enabled = false;
    if (cudaDeviceCanAccessPeer(&can, to, from) == cudaSuccess && can) {
      int previous = 0;
      cudaGetDevice(&previous);
      cudaSetDevice(to);
      const cudaError_t status = cudaDeviceEnablePeerAccess(from, 0);
      enabled = status == cudaSuccess || status == cudaErrorPeerAccessAlreadyEnabled;
      cudaGetLastError();
      cudaSetDevice(previous);
    }
    cudaGetLastError();
    peer_.emplace(key, enabled);
    return enabled;
  }

  // GPU to GPU without peer access: through page-locked host memory, in pieces of at most
  // kStageBytes, each piece down to the host and up to the destination on the same stream.
  cudaError_t StagedCopy(void* dst, const void* src, int src_gpu, size_t bytes, cudaStream_t s) {
    constexpr size_t kStageBytes = size_t{64} << 20;
    Storage stage = Storage::Alloc(Context::CPUPinned(src_gpu), std::min(bytes, kStageBytes));
    for (size_t done = 0; done < bytes; done += kStageBytes) {
      const size_t n = std::min(kStageBytes, bytes - done);
      cudaError_t status = cudaMemcpyAsync(stage.data(), static_cast<const char*>(src) + done, n,
                                           cudaMemcpyDeviceToHost, s);
      if (status == cudaSuccess) {
        status = cudaMemcpyAsync(static_cast<char*>(dst) + done, stage.data(), n,
                                 cudaMemcpyHostToDevice, s);
      }
      if (status == cudaSuccess) status = cudaStreamSynchronize(s);
      if (status != cudaSuccess) return status;
    }
    return cudaSuccess;
  }

  std::mutex peer_mu_;
  std::map<std::pair<int, int>, bool> peer_;  // guarded by peer_mu_
  int count_ = 0;
  cudaError_t count_status_ = cudaSuccess;
};

}  // namespace

std::unique_ptr<GpuMemoryApi> NewCudaMemoryApi() { return std::make_unique<CudaMemoryApi>(); }

}  // namespace loom::detail
