// softmax / log_softmax along one axis of (outer, n, inner), with temperature and (softmax) valid
// lengths: one block per row when the axis is the last one (inner == 1), one thread per
// (outer, inner) position otherwise (adjacent threads read adjacent elements).
#include <cmath>

#include "operators/cuda/launch.cuh"
#include "operators/cuda/nn_kernels.h"

namespace loom::gpu {
namespace {

constexpr int kRowThreads = 128;

// length[pos] clamped to [0, n], read in the length's own dtype.
__device__ __forceinline__ int64_t ValidLength(const void* length, int code, int64_t pos,
                                               int64_t n) {
  if (length == nullptr) return n;
  double v = 0;
  switch (static_cast<DType>(code)) {
    case DType::kFloat32:
      v = static_cast<const float*>(length)[pos];
      break;
    case DType::kFloat64:
      v = static_cast<const double*>(length)[pos];
      break;
    case DType::kFloat16:
      v = __half2float(static_cast<const __half*>(length)[pos]);
      break;
    case DType::kUInt8:
      v = static_cast<const uint8_t*>(length)[pos];
      break;
    case DType::kInt8:
      v = static_cast<const int8_t*>(length)[pos];
      break;
    case DType::kInt32:
      v = static_cast<const int32_t*>(length)[pos];
      break;
    case DType::kInt64:
      v = static_cast<double>(static_cast<const int64_t*>(length)[pos]);
      break;
    default:
      v = static_cast<const bool*>(length)[pos] ? 1 : 0;
  }
  const int64_t len = static_cast<int64_t>(v);
  return len < 0 ? 0 : (len > n ? n : len);
}

struct MaxOp {
  template <typename A>
  __device__ A operator()(A a, A b) const {
    return a > b ? a : b;
  }
};
struct SumOp {
  template <typename A>
  __device__ A operator()(A a, A b) const {
    return a + b;
  }
};

// The reduction of v over the block (every thread gets it). `scratch` holds 32 values.
template <typename A, typename Op>
__device__ A BlockReduce(A v, Op op, A* scratch) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int warps = blockDim.x / 32;
  __syncthreads();  // scratch may still be read from the previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < warps; ++w) v = op(v, scratch[w]);
  return v;
}

template <typename T>
__global__ void RowForward(const T* x, T* y, int64_t rows, int64_t n, Acc<T> inv_t, bool log,
                           const void* length, int length_code, int req) {
  using A = Acc<T>;
  __shared__ A scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * n;
    T* yr = y + row * n;
    const int64_t len = ValidLength(length, length_code, row, n);
    A m = -INFINITY;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) m = fmax(m, ToAcc(xr[j]) * inv_t);
    m = BlockReduce(m, MaxOp(), scratch);
    A sum = 0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) sum += exp(ToAcc(xr[j]) * inv_t - m);
    sum = BlockReduce(sum, SumOp(), scratch);
    const A log_sum = log ? A(::log(sum)) : A(0);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      A v = 0;
      if (j < len) {
        const A z = ToAcc(xr[j]) * inv_t - m;
        v = log ? z - log_sum : exp(z) / sum;
      }
      Store(req, yr + j, v);
    }
  }
}

template <typename T>
__global__ void RowBackward(const T* dy, const T* y, T* dx, int64_t rows, int64_t n, Acc<T> inv_t,
                            bool log, const void* length, int length_code, int req) {
  using A = Acc<T>;
  __shared__ A scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * n;
    const int64_t len = ValidLength(length, length_code, row, n);
    A dot = 0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
      dot += log ? ToAcc(dy[base + j]) : ToAcc(dy[base + j]) * ToAcc(y[base + j]);
    }
    dot = BlockReduce(dot, SumOp(), scratch);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      A v = 0;
      if (j < len) {
        const A g = ToAcc(dy[base + j]), out = ToAcc(y[base + j]);
        v = log ? (g - exp(out) * dot) * inv_t : out * (g - dot) * inv_t;
      }
      Store(req, dx + base + j, v);
    }
  }
}

template <typename T>
__global__ void StridedForward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                               Acc<T> inv_t, bool log, const void* length, int length_code,
                               int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(pos, outer * inner) {
    const int64_t o = pos / inner, i = pos % inner;
    const int64_t base = o * n * inner + i;
    const int64_t len = ValidLength(length, length_code, pos, n);
    A m = -INFINITY;
    for (int64_t j = 0; j < len; ++j) m = fmax(m, ToAcc(x[base + j * inner]) * inv_t);
    A sum = 0;
    for (int64_t j = 0; j < len; ++j) sum += exp(ToAcc(x[base + j * inner]) * inv_t - m);
    const A log_sum = log ? A(::log(sum)) : A(0);
    for (int64_t j = 0; j < n; ++j) {
      A v = 0;
      if (j < len) {
        const A z = ToAcc(x[base + j * inner]) * inv_t - m;
        v = log ? z - log_sum : exp(z) / sum;
      }
      Store(req, y + base + j * inner, v);
    }
  }
}

template <typename T>
__global__ void StridedBackward(const T* dy, const T* y, T* dx, int64_t outer, int64_t n,
                                int64_t inner, Acc<T> inv_t, bool log, const void* length,
                                int length_code, int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(pos, outer * inner) {
    const int64_t o = pos / inner, i = pos % inner;
    const int64_t base = o * n * inner + i;
    const int64_t len = ValidLength(length, length_code, pos, n);
    A dot = 0;
    for (int64_t j = 0; j < len; ++j) {
      const int64_t at = base + j * inner;
      dot += log ? ToAcc(dy[at]) : ToAcc(dy[at]) * ToAcc(y[at]);
    }
    for (int64_t j = 0; j < n; ++j) {
      const int64_t at = base + j * inner;
      A v = 0;
      if (j < len) {
        const A g = ToAcc(dy[at]), out = ToAcc(y[at]);
        v = log ? (g - exp(out) * dot) * inv_t : out * (g - dot) * inv_t;
      }
      Store(req, dx + at, v);
    }
  }
}

int RowBlocks(int64_t rows) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(rows, 65535)));
}

}  // namespace

void SoftmaxForwardGpu(DType t, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                       double inv_temperature, bool log, const void* length, DType length_type,
                       int req, void* stream) {
  if (outer * n * inner == 0 || req == kReqNull) return;
  const int code = static_cast<int>(length_type);
  LOOM_GPU_FLOAT_SWITCH(t, T, log ? "log_softmax" : "softmax", {
    using A = Acc<T>;
    const A inv_t = static_cast<A>(inv_temperature);
    if (inner == 1) {
      RowForward<T><<<RowBlocks(outer), kRowThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(x), static_cast<T*>(y), outer, n, inv_t, log, length, code, req);
    } else {
      StridedForward<T><<<Blocks(outer * inner), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(x), static_cast<T*>(y), outer, n, inner, inv_t, log, length, code,
          req);
    }
  });
  CheckLaunch(log ? "log_softmax" : "softmax");
}

void SoftmaxBackwardGpu(DType t, const void* dy, const void* y, void* dx, int64_t outer, int64_t n,
                        int64_t inner, double inv_temperature, bool log, const void* length,
                        DType length_type, int req, void* stream) {
  if (outer * n * inner == 0 || req == kReqNull) return;
  const int code = static_cast<int>(length_type);
  LOOM_GPU_FLOAT_SWITCH(t, T, log ? "_backward_log_softmax" : "_backward_softmax", {
    using A = Acc<T>;
    const A inv_t = static_cast<A>(inv_temperature);
    if (inner == 1) {
      RowBackward<T><<<RowBlocks(outer), kRowThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(dy), static_cast<const T*>(y), static_cast<T*>(dx), outer, n, inv_t,
          log, length, code, req);
    } else {
      StridedBackward<T><<<Blocks(outer * inner), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(dy), static_cast<const T*>(y), static_cast<T*>(dx), outer, n, inner,
          inv_t, log, length, code, req);
    }
  });
  CheckLaunch(log ? "_backward_log_softmax" : "_backward_softmax");
}

}  // namespace loom::gpu
