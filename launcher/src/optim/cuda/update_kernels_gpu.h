// The optimizers' fused updates on a GPU: the element loops of update_kernels.h, one thread per
// element, enqueued on a stream. C++17-safe (included by the .cu file).
#pragma once

#include <cstdint>

#include "optim/update_kernels.h"

namespace loom::train::detail {

/// Updates n elements of one parameter (device pointers; s0/s1 the rule's state slots or
/// nullptr) with `rule` on `stream` (a cudaStream_t). @throws loom::Error naming the CUDA error.
template <typename T>
void GpuUpdate(UpdateRule rule, T* w, const T* g, T* s0, T* s1, int64_t n,
               const UpdateScalars<T>& s, void* stream);

}  // namespace loom::train::detail
