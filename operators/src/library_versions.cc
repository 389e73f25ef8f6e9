#include "loom/operators/library_versions.h"

#if LOOM_USE_CUDA
#include <cublas_v2.h>
#include <cudnn.h>
#endif

namespace loom::ops {

#if LOOM_USE_CUDA

std::string CudnnVersion() {
  // cuDNN 9 encodes major * 10000 + minor * 100 + patch.
  const size_t v = cudnnGetVersion();
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

std::string CublasVersion() {
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

#else

std::string CudnnVersion() { return ""; }
std::string CublasVersion() { return ""; }

#endif

}  // namespace loom::ops
