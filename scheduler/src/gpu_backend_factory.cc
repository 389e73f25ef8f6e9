// The one place that decides whether the engine has a GPU side (conventions rule 10).
#include "gpu_backend.h"

#include "loom/build_config.h"

namespace loom::detail {

#if LOOM_USE_CUDA
std::unique_ptr<GpuBackend> CreateCudaBackend(EngineImpl* engine, int compute_streams);
#endif

std::unique_ptr<GpuBackend> CreateGpuBackend(EngineImpl* engine, int compute_streams) {
#if LOOM_USE_CUDA
  return CreateCudaBackend(engine, compute_streams);
#else
  (void)engine;
  (void)compute_streams;
  return nullptr;
#endif
}

}  // namespace loom::detail
