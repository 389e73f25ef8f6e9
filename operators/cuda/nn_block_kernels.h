// Device helpers shared by the nn_*.cu kernels (CUDA only: include from .cu files): reductions
// over one thread block.
//
//   __shared__ double scratch[32];
//   const double total = loom::gpu::BlockSum(partial, scratch);   // every thread gets it
#pragma once

#include "operators/cuda/launch.cuh"

namespace loom::gpu {

/// The sum of v over the block, returned to every thread. blockDim.x is a multiple of 32 (at
/// most 1024); `scratch` holds 32 values and may be reused by the next call.
template <typename A>
__device__ A BlockSum(A v, A* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // the previous call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  A total = 0;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += scratch[w];
  return total;
}

}  // namespace loom::gpu
