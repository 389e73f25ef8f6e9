// What this process can compute on, for `loom --version` and start-up logs.
//
//   std::cout << "CUDA " << loom::CudaRuntimeVersion() << "\n";   // "" in a CPU-only build
//   for (const std::string& gpu : loom::GpuDescriptions()) std::cout << gpu << "\n";
//   // gpu(0): NVIDIA H100 80GB HBM3, 79.1 GiB, compute capability 9.0
//
// Thread-safe.
#pragma once

#include <string>
#include <vector>

namespace loom {

/// The CUDA runtime's version ("12.4"); "" when Loom was built without CUDA.
std::string CudaRuntimeVersion();

/// Why nothing can run on a GPU here ("no GPU: Loom was built without CUDA ..." or "no GPU: the
/// CUDA runtime found none ..."), or "" when gpu(0) is usable: what GPU tests skip with.
std::string NoGpuReason();

/// One line per usable GPU, "gpu(i): <name>, <memory>, compute capability <x.y>"; empty without
/// CUDA or GPUs.
std::vector<std::string> GpuDescriptions();

}  // namespace loom
