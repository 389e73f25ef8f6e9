// The one place that chooses the GPU backend: CUDA when the build has it, otherwise a backend
// whose every GPU request fails with NotSupportedError.
#include "gpu_memory.h"

#include <string>

#include "loom/build_config.h"
#include "loom/scheduler/error.h"

namespace loom::detail {

#if LOOM_USE_CUDA

GpuMemoryApi& GpuMemory() {
  static GpuMemoryApi* const backend = NewCudaMemoryApi().release();
  return *backend;
}

#else

namespace {

class NoCudaMemoryApi final : public GpuMemoryApi {
 public:
  int DeviceCount() override { return 0; }
  std::string RuntimeVersion() override { return ""; }
  std::string DeviceDescription(int id) override {
    throw NotSupportedError("cannot describe " + Context::GPU(id).ToString() +
                            ": Loom was built without CUDA");
  }
  std::unique_ptr<StoragePool> NewDevicePool(int id) override {
    throw NotSupportedError("cannot use " + Context::GPU(id).ToString() +
                            ": Loom was built without CUDA (configure with -DLOOM_USE_CUDA=ON)");
  }
  std::unique_ptr<StoragePool> NewPinnedPool(int id) override {
    throw NotSupportedError("cannot allocate page-locked memory for " +
                            Context::CPUPinned(id).ToString() + ": Loom was built without CUDA");
  }
  void Copy(void*, const void*, size_t, void*) override {
    throw NotSupportedError("cannot copy to or from a GPU: Loom was built without CUDA");
  }
};

}  // namespace

GpuMemoryApi& GpuMemory() {
  static NoCudaMemoryApi backend;
  return backend;
}

#endif

}  // namespace loom::detail
