// Broadcast GPU kernels: one thread per output element (grid-stride), each operand's offset from
// the element's coordinates along the merged axes; 32-bit index arithmetic when it fits.
#include "operators/cuda/broadcast_index.cuh"
#include "operators/cuda/broadcast_kernels.h"
#include "operators/cuda/elemwise_device.cuh"

namespace loom::gpu {
namespace {

template <typename I>
__device__ __forceinline__ I FirstIndex() {
  return static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x;
}
template <typename I>
__device__ __forceinline__ I GridStride() {
  return static_cast<I>(gridDim.x) * blockDim.x;
}

template <BinaryKind kOp, typename T, typename I>
__global__ void BroadcastForwardKernel(const T* a, const T* b, IndexMap m, T* out, I n, int req) {
  for (I i = FirstIndex<I>(); i < n; i += GridStride<I>()) {
    I off[2];
    BroadcastOffsets<2>(m, i, off);
    Store(req, out + i, BinaryValue<kOp>(ToAcc(a[off[0]]), ToAcc(b[off[1]])));
  }
}

template <BinaryKind kOp, typename T, typename I>
__global__ void BroadcastGradFullKernel(const T* dy, const T* a, const T* b, IndexMap m, T* ga,
                                        int ga_req, T* gb, int gb_req, I n) {
  using A = Acc<T>;
  for (I i = FirstIndex<I>(); i < n; i += GridStride<I>()) {
    I off[2];
    BroadcastOffsets<2>(m, i, off);
    const A g = ToAcc(dy[i]), av = ToAcc(a[off[0]]), bv = ToAcc(b[off[1]]);
    if (ga_req != kReqNull) Store(ga_req, ga + i, g * BinaryDerivativeA<kOp>(av, bv));
    if (gb_req != kReqNull) Store(gb_req, gb + i, g * BinaryDerivativeB<kOp>(av, bv));
  }
}

// 32-bit indices below this many elements (margin for the last grid-stride step).
constexpr int64_t kNarrowLimit = int64_t{1} << 30;

}  // namespace

void BroadcastForward(BinaryKind op, DType dtype, const void* a, const void* b, const IndexMap& m,
                      void* out, int64_t n, int req, void* stream, const char* what) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<BinaryKind, kNumBinaryKinds>(op, what, [&](auto k) {
      constexpr BinaryKind kOp = decltype(k)::value;
      const auto* pa = static_cast<const T*>(a);
      const auto* pb = static_cast<const T*>(b);
      auto* po = static_cast<T*>(out);
      if (n < kNarrowLimit) {
        BroadcastForwardKernel<kOp, T, int32_t><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
            pa, pb, m, po, static_cast<int32_t>(n), req);
      } else {
        BroadcastForwardKernel<kOp, T, int64_t>
            <<<Blocks(n), kThreads, 0, Stream(stream)>>>(pa, pb, m, po, n, req);
      }
    });
  });
  CheckLaunch(what);
}

void BroadcastGradFull(BinaryKind op, DType dtype, const void* dy, const void* a, const void* b,
                       const IndexMap& m, void* ga, int ga_req, void* gb, int gb_req, int64_t n,
                       void* stream, const char* what) {
  if ((ga_req == kReqNull && gb_req == kReqNull) || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<BinaryKind, kNumBinaryKinds>(op, what, [&](auto k) {
      constexpr BinaryKind kOp = decltype(k)::value;
      const auto* pdy = static_cast<const T*>(dy);
      const auto* pa = static_cast<const T*>(a);
      const auto* pb = static_cast<const T*>(b);
      auto* pga = static_cast<T*>(ga);
      auto* pgb = static_cast<T*>(gb);
      if (n < kNarrowLimit) {
        BroadcastGradFullKernel<kOp, T, int32_t><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
            pdy, pa, pb, m, pga, ga_req, pgb, gb_req, static_cast<int32_t>(n));
      } else {
        BroadcastGradFullKernel<kOp, T, int64_t><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
            pdy, pa, pb, m, pga, ga_req, pgb, gb_req, n);
      }
    });
  });
  CheckLaunch(what);
}

}  // namespace loom::gpu
