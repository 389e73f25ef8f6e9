// cuDNN's and cuBLAS's versions in a CUDA build (operators/src/library_versions.cc has the
// CPU-only build's).
#include <cublas_v2.h>
#include <cudnn.h>

#include "loom/operators/library_versions.h"

namespace loom::ops {

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

}  // namespace loom::ops
