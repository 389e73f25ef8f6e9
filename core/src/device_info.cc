#include "loom/core/device_info.h"

#include "gpu_memory.h"
#include "loom/scheduler/context.h"

namespace loom {

std::string CudaRuntimeVersion() { return detail::GpuMemory().RuntimeVersion(); }

std::vector<std::string> GpuDescriptions() {
  std::vector<std::string> lines;
  detail::GpuMemoryApi& gpus = detail::GpuMemory();
  for (int i = 0; i < gpus.DeviceCount(); ++i) {
    lines.push_back(Context::GPU(i).ToString() + ": " + gpus.DeviceDescription(i));
  }
  return lines;
}

}  // namespace loom
