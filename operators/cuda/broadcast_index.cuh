// Device-side index mapping of an IndexMap (broadcast_kernels.h): the offsets of the operands'
// elements that meet at a full-shape element. C++17, device code only (include from .cu files).
//
//   I off[2];
//   BroadcastOffsets<2>(m, i, off);   // a[off[0]] op b[off[1]] for out[i]
#pragma once

#include "operators/cuda/broadcast_kernels.h"
#include "operators/cuda/launch.cuh"

namespace loom::gpu {

/// off[o] = operand o's offset of full-shape element i (I: int32_t when every index fits).
template <int kOperands, typename I>
__device__ __forceinline__ void BroadcastOffsets(const IndexMap& m, I i, I* off) {
#pragma unroll
  for (int o = 0; o < kOperands; ++o) off[o] = 0;
  for (int d = m.ndim - 1; d >= 0; --d) {
    const I size = static_cast<I>(m.dims[d]);
    const I c = i % size;
    i /= size;
#pragma unroll
    for (int o = 0; o < kOperands; ++o) off[o] += c * static_cast<I>(m.strides[o][d]);
  }
}

}  // namespace loom::gpu
