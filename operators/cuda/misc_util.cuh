// Device helpers shared by the layout, indexing, loss and normalisation kernels
// (operators/cuda/{layout,indexing,misc,loss,norm}.cu): index reads from any numeric dtype and
// block-wide sums and maxima.
//
//   const double v = ReadIndex(indices, i);           // as the CPU's ReadAsDouble
//   const double s = BlockSum(partial, shared);       // every thread of the block gets the sum
//
// C++17 device code; include only from .cu files.
#pragma once

#include "operators/cuda/launch.cuh"

namespace loom::gpu {

/// An index element as a double, as the CPU kernels read indices (half through float).
template <typename I>
__device__ __forceinline__ double ReadIndex(const I* p, int64_t i) {
  return static_cast<double>(ToAcc(p[i]));
}

/// The sum of v over the block's threads (blockDim.x a multiple of 32, at most 1024), returned
/// to every thread. `shared` holds at least 32 values; the block must call it uniformly.
template <typename A>
__device__ A BlockSum(A v, A* shared) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();  // `shared` may still be read from a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  A total = 0;
  for (int w = 0; w < warps; ++w) total += shared[w];
  return total;
}

/// The block's maximum of v (as BlockSum).
template <typename A>
__device__ A BlockMax(A v, A* shared) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const A o = __shfl_down_sync(0xffffffffu, v, offset);
    v = o > v ? o : v;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  A m = shared[0];
  for (int w = 1; w < warps; ++w) m = shared[w] > m ? shared[w] : m;
  return m;
}

/// Threads per block for reducing groups of n elements: 32, 128 or 256.
inline int ReduceThreads(int64_t n) { return n <= 64 ? 32 : (n <= 512 ? 128 : 256); }

}  // namespace loom::gpu
