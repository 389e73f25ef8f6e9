// The GPU kernel libraries this build uses, for `loom --version`.
//
//   std::cout << loom::ops::CudnnVersion() << "\n";   // "9.13.0", or "" without CUDA
//
// Thread-safe; neither needs a GPU.
#pragma once

#include <string>

namespace loom::ops {

/// cuDNN's version as loaded at run time ("9.13.0"); "" in a build without CUDA.
std::string CudnnVersion();

/// cuBLAS's version as linked ("13.0.2"); "" in a build without CUDA.
std::string CublasVersion();

}  // namespace loom::ops
