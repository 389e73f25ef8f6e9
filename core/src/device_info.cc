#include "loom/core/device_info.h"

#include "gpu_memory.h"
#include "loom/build_config.h"
#include "loom/scheduler/context.h"

namespace loom {

std::string CudaRuntimeVersion() { return detail::GpuMemory().RuntimeVersion(); }

std::string NoGpuReason() {
#if LOOM_USE_CUDA
  return detail::GpuMemory().DeviceCount() > 0
             ? ""
             : "no GPU: the CUDA runtime found none on this machine";
#else
  return "no GPU: Loom was built without CUDA (LOOM_USE_CUDA=OFF or no nvcc)";
#endif
}

std::vector<std::string> GpuDescriptions() {
  std::vector<std::string> lines;
  detail::GpuMemoryApi& gpus = detail::GpuMemory();
  for (int i = 0; i < gpus.DeviceCount(); ++i) {
    lines.push_back(Context::GPU(i).ToString() + ": " + gpus.DeviceDescription(i));
  }
  return lines;
}

}  // namespace loom
