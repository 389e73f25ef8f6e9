// The CPU-only build's answers; CUDA builds define these in operators/cuda/library_versions_gpu.cc.
#include "loom/operators/library_versions.h"

#include "loom/build_config.h"

#if !LOOM_USE_CUDA

namespace loom::ops {

std::string CudnnVersion() { return ""; }
std::string CublasVersion() { return ""; }

}  // namespace loom::ops

#endif
