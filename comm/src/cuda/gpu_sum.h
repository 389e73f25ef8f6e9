// The GPU sum kernel's entry point, in a header .cu files can include: CUDA sources compile as
// C++17 (CMake 3.25 knows no C++20 flag for nvcc), so this stays clear of NDArray's C++20 headers.
#pragma once

#include <cstddef>

#include "loom/core/dtype.h"

namespace loom::comm::detail {

/// out[i] = sum over k < n of srcs[k][i] (float32 or float64) on a GPU stream (a cudaStream_t);
/// srcs and out are device pointers of one GPU. @throws loom::Error naming the CUDA error.
void GpuSum(DType dtype, const void* const* srcs, int n, void* out, size_t count, void* stream);

}  // namespace loom::comm::detail
