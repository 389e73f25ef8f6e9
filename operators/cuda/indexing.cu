// Index-driven GPU kernels: Embedding (and its scatter-add gradient), one_hot, pick (and its
// gradient), batch_take. See indexing_kernels.h.
#include "operators/cuda/indexing_kernels.h"
#include "operators/cuda/misc_util.cuh"

namespace loom::gpu {
namespace {

__device__ __forceinline__ int64_t Clip(double v, int64_t n) {
  const auto i = static_cast<int64_t>(v);
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

__device__ __forceinline__ int64_t Resolve(double v, int64_t n, bool wrap) {
  if (!wrap) return Clip(v, n);
  const int64_t r = static_cast<int64_t>(v) % n;
  return r < 0 ? r + n : r;
}

template <typename T, typename I>
__global__ void EmbeddingForwardKernel(const I* idx, const T* w, T* y, int64_t total,
                                       int64_t input_dim, int64_t dim, int req) {
  LOOM_CUDA_KERNEL_LOOP(e, total) {
    const int64_t i = e / dim, j = e % dim;
    Store(req, y + e, ToAcc(w[Clip(ReadIndex(idx, i), input_dim) * dim + j]));
  }
}

template <typename T>
__device__ __forceinline__ void AtomicAdd(T* dst, T v) {
  atomicAdd(dst, v);
}

template <typename T, typename A, typename I>
__global__ void EmbeddingScatterKernel(const T* g, const I* idx, A* dw, int64_t total,
                                       int64_t input_dim, int64_t dim) {
  LOOM_CUDA_KERNEL_LOOP(e, total) {
    const int64_t i = e / dim, j = e % dim;
    AtomicAdd(dw + Clip(ReadIndex(idx, i), input_dim) * dim + j, static_cast<A>(ToAcc(g[e])));
  }
}

__global__ void HalfToFloatKernel(const __half* src, float* dst, int64_t n) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { dst[i] = __half2float(src[i]); }
}

__global__ void FloatToHalfKernel(const float* src, __half* dst, int64_t n) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { dst[i] = __float2half(src[i]); }
}

template <typename T, typename I>
__global__ void OneHotKernel(const I* idx, T* y, int64_t total, int64_t depth, Acc<T> on,
                             Acc<T> off, int req) {
  LOOM_CUDA_KERNEL_LOOP(e, total) {
    const int64_t i = e / depth, j = e % depth;
    const double v = ReadIndex(idx, i);
    const bool hot = v >= 0 && v < static_cast<double>(depth) && static_cast<int64_t>(v) == j;
    Store(req, y + e, hot ? on : off);
  }
}

template <typename T, typename I>
__global__ void PickForwardKernel(const T* x, const I* idx, T* y, int64_t total, int64_t n,
                                  int64_t inner, bool wrap, int req) {
  LOOM_CUDA_KERNEL_LOOP(p, total) {
    const int64_t o = p / inner, i = p % inner;
    const int64_t j = Resolve(ReadIndex(idx, p), n, wrap);
    Store(req, y + p, ToAcc(x[(o * n + j) * inner + i]));
  }
}

// Each picked element receives exactly one position's gradient: no atomics.
template <typename T, typename I>
__global__ void PickBackwardKernel(const T* g, const I* idx, T* dx, int64_t total, int64_t n,
                                   int64_t inner, bool wrap) {
  LOOM_CUDA_KERNEL_LOOP(p, total) {
    const int64_t o = p / inner, i = p % inner;
    const int64_t j = Resolve(ReadIndex(idx, p), n, wrap);
    T* d = dx + (o * n + j) * inner + i;
    *d = FromAcc<T>(ToAcc(*d) + ToAcc(g[p]));
  }
}

template <typename T, typename I>
__global__ void BatchTakeKernel(const T* a, const I* idx, T* y, int64_t n, int64_t k, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { Store(req, y + i, ToAcc(a[i * k + Clip(ReadIndex(idx, i), k)])); }
}

// The scatter for one weight dtype T and index dtype I (a template, so that `if constexpr`
// instantiates only the path T takes).
template <typename T, typename I>
void EmbeddingScatter(const void* out_grad, const void* indices, void* weight_grad, float* scratch,
                      int64_t total, int64_t input_dim, int64_t dim, int req, cudaStream_t s) {
  const int64_t weights = input_dim * dim;
  if constexpr (std::is_same_v<T, __half>) {
    // Half sums in a float32 copy of the gradient, rounded to half once at the end.
    if (req == kReqAddTo) {
      HalfToFloatKernel<<<Blocks(weights), kThreads, 0, s>>>(
          static_cast<const __half*>(weight_grad), scratch, weights);
    } else if (cudaMemsetAsync(scratch, 0, weights * sizeof(float), s) != cudaSuccess) {
      throw Error("_backward_Embedding: cudaMemsetAsync of the float32 scratch failed");
    }
    if (total > 0) {
      EmbeddingScatterKernel<T, float, I><<<Blocks(total), kThreads, 0, s>>>(
          static_cast<const T*>(out_grad), static_cast<const I*>(indices), scratch, total,
          input_dim, dim);
    }
    FloatToHalfKernel<<<Blocks(weights), kThreads, 0, s>>>(
        scratch, static_cast<__half*>(weight_grad), weights);
  } else {
    if (req != kReqAddTo &&
        cudaMemsetAsync(weight_grad, 0, weights * sizeof(T), s) != cudaSuccess) {
      throw Error("_backward_Embedding: cudaMemsetAsync of weight_grad failed");
    }
    if (total > 0) {
      EmbeddingScatterKernel<T, T, I><<<Blocks(total), kThreads, 0, s>>>(
          static_cast<const T*>(out_grad), static_cast<const I*>(indices),
          static_cast<T*>(weight_grad), total, input_dim, dim);
    }
  }
}

}  // namespace

void EmbeddingForward(DType dtype, DType index_dtype, const void* indices, const void* weight,
                      void* out, int64_t n, int64_t input_dim, int64_t dim, int req, void* stream) {
  const int64_t total = n * dim;
  if (req == kReqNull || total == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "Embedding", {
    LOOM_GPU_ANY_SWITCH(index_dtype, I, "Embedding indices", {
      EmbeddingForwardKernel<T, I><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
          static_cast<const I*>(indices), static_cast<const T*>(weight), static_cast<T*>(out),
          total, input_dim, dim, req);
    });
  });
  CheckLaunch("Embedding");
}

void EmbeddingBackward(DType dtype, DType index_dtype, const void* out_grad, const void* indices,
                       void* weight_grad, float* scratch, int64_t n, int64_t input_dim, int64_t dim,
                       int req, void* stream) {
  if (req == kReqNull || input_dim * dim == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_Embedding", {
    LOOM_GPU_ANY_SWITCH(index_dtype, I, "_backward_Embedding indices", {
      EmbeddingScatter<T, I>(out_grad, indices, weight_grad, scratch, n * dim, input_dim, dim, req,
                             Stream(stream));
    });
  });
  CheckLaunch("_backward_Embedding");
}

void OneHot(DType dtype, DType index_dtype, const void* indices, void* out, int64_t n,
            int64_t depth, double on_value, double off_value, int req, void* stream) {
  const int64_t total = n * depth;
  if (req == kReqNull || total == 0) return;
  LOOM_GPU_ANY_SWITCH(dtype, T, "one_hot", {
    LOOM_GPU_ANY_SWITCH(index_dtype, I, "one_hot indices", {
      OneHotKernel<T, I><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
          static_cast<const I*>(indices), static_cast<T*>(out), total, depth,
          static_cast<Acc<T>>(on_value), static_cast<Acc<T>>(off_value), req);
    });
  });
  CheckLaunch("one_hot");
}

void PickForward(DType dtype, DType index_dtype, const void* data, const void* index, void* out,
                 int64_t outer, int64_t axis_len, int64_t inner, bool wrap, int req, void* stream) {
  const int64_t total = outer * inner;
  if (req == kReqNull || total == 0) return;
  LOOM_GPU_ANY_SWITCH(dtype, T, "pick", {
    LOOM_GPU_ANY_SWITCH(index_dtype, I, "pick index", {
      PickForwardKernel<T, I><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(data), static_cast<const I*>(index), static_cast<T*>(out), total,
          axis_len, inner, wrap, req);
    });
  });
  CheckLaunch("pick");
}

void PickBackward(DType dtype, DType index_dtype, const void* out_grad, const void* index,
                  void* data_grad, int64_t outer, int64_t axis_len, int64_t inner, bool wrap,
                  int req, void* stream) {
  if (req == kReqNull) return;
  const int64_t total = outer * inner;
  cudaStream_t s = Stream(stream);
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_pick", {
    if (req != kReqAddTo &&
        cudaMemsetAsync(data_grad, 0, outer * axis_len * inner * sizeof(T), s) != cudaSuccess) {
      throw Error("_backward_pick: cudaMemsetAsync of data_grad failed");
    }
    if (total > 0) {
      LOOM_GPU_ANY_SWITCH(index_dtype, I, "_backward_pick index", {
        PickBackwardKernel<T, I><<<Blocks(total), kThreads, 0, s>>>(
            static_cast<const T*>(out_grad), static_cast<const I*>(index),
            static_cast<T*>(data_grad), total, axis_len, inner, wrap);
      });
    }
  });
  CheckLaunch("_backward_pick");
}

void BatchTake(DType dtype, DType index_dtype, const void* a, const void* indices, void* out,
               int64_t n, int64_t k, int req, void* stream) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_ANY_SWITCH(dtype, T, "batch_take", {
    LOOM_GPU_ANY_SWITCH(index_dtype, I, "batch_take indices", {
      BatchTakeKernel<T, I><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(a), static_cast<const I*>(indices), static_cast<T*>(out), n, k,
          req);
    });
  });
  CheckLaunch("batch_take");
}

}  // namespace loom::gpu
