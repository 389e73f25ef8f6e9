// Loss-head GPU kernels: SoftmaxOutput's softmax and cross-entropy gradient, the regression
// outputs. See loss_kernels.h.
#include "operators/cuda/loss_kernels.h"
#include "operators/cuda/misc_util.cuh"

namespace loom::gpu {
namespace {

__device__ __forceinline__ float Exp(float v) { return expf(v); }
__device__ __forceinline__ double Exp(double v) { return exp(v); }

// One block per row of k contiguous elements (inner == 1).
template <typename T>
__global__ void SoftmaxRowsKernel(const T* x, T* y, int64_t rows, int64_t k, int req) {
  using A = Acc<T>;
  __shared__ A shared[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * k;
    T* yr = y + r * k;
    A m = -INFINITY;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) m = ToAcc(xr[j]) > m ? ToAcc(xr[j]) : m;
    m = BlockMax(m, shared);
    A sum = 0;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) sum += Exp(ToAcc(xr[j]) - m);
    const A inv = A(1) / BlockSum(sum, shared);
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
      Store(req, yr + j, Exp(ToAcc(xr[j]) - m) * inv);
    }
  }
}

// One thread per (outer, inner) column of k elements strided by inner.
template <typename T>
__global__ void SoftmaxColumnsKernel(const T* x, T* y, int64_t outer, int64_t k, int64_t inner,
                                     int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(c, outer * inner) {
    const int64_t o = c / inner, i = c % inner;
    const T* xc = x + o * k * inner + i;
    T* yc = y + o * k * inner + i;
    A m = -INFINITY;
    for (int64_t j = 0; j < k; ++j) m = ToAcc(xc[j * inner]) > m ? ToAcc(xc[j * inner]) : m;
    A sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += Exp(ToAcc(xc[j * inner]) - m);
    const A inv = A(1) / sum;
    for (int64_t j = 0; j < k; ++j) Store(req, yc + j * inner, Exp(ToAcc(xc[j * inner]) - m) * inv);
  }
}

template <typename L>
__global__ void CountValidKernel(const L* label, int64_t n, double ignore_label,
                                 unsigned long long* count) {
  __shared__ unsigned long long shared[32];
  unsigned long long c = 0;
  LOOM_CUDA_KERNEL_LOOP(i, n) { c += ReadIndex(label, i) == ignore_label ? 0 : 1; }
  c = BlockSum(c, shared);
  if (threadIdx.x == 0) atomicAdd(count, c);
}

template <typename T, typename L>
__global__ void SoftmaxOutputGradKernel(SoftmaxOutputGrad p, const T* prob, const L* label,
                                        const T* head, T* grad, int64_t total, int64_t k,
                                        int64_t inner, const int64_t* valid, int req) {
  using A = Acc<T>;
  const double norm = p.count_valid ? static_cast<double>(*valid > 0 ? *valid : 1) : p.norm;
  const A scale = static_cast<A>(p.grad_scale / norm);
  const A on = static_cast<A>(1 - p.smooth_alpha);
  const A off = static_cast<A>(k > 1 ? p.smooth_alpha / static_cast<double>(k - 1) : 0.0);
  LOOM_CUDA_KERNEL_LOOP(at, total) {
    const int64_t i = at % inner, c = (at / inner) % k, o = at / (inner * k);
    A v = 0;
    if (p.soft) {
      v = (ToAcc(prob[at]) - static_cast<A>(ReadIndex(label, at))) * scale;
      if (head != nullptr) v *= ToAcc(head[at]);
    } else {
      const double l = ReadIndex(label, o * inner + i);
      if (!(p.use_ignore && l == p.ignore_label)) {
        const int64_t target =
            l >= 0 && l < static_cast<double>(k) ? static_cast<int64_t>(l) : int64_t{-1};
        v = (ToAcc(prob[at]) - (c == target ? on : off)) * scale;
        if (head != nullptr) v *= ToAcc(head[at]);
      }
    }
    Store(req, grad + at, v);
  }
}

template <typename T>
__global__ void RegressionForwardKernel(const T* x, T* y, int64_t n, int kind, int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const A v = ToAcc(x[i]);
    Store(req, y + i, kind == 1 ? A(1) / (A(1) + Exp(-v)) : v);
  }
}

template <typename T, typename L>
__global__ void RegressionBackwardKernel(const T* y, const L* label, T* grad, int64_t n, int kind,
                                         Acc<T> scale, int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const A diff = ToAcc(y[i]) - static_cast<A>(ReadIndex(label, i));
    const A v = kind == 2 ? A((diff > A(0)) - (diff < A(0))) : diff;
    Store(req, grad + i, v * scale);
  }
}

}  // namespace

void SoftmaxOutputForward(DType dtype, int64_t outer, int64_t k, int64_t inner, const void* x,
                          void* y, int req, void* stream) {
  if (req == kReqNull || outer * k * inner == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "SoftmaxOutput", {
    if (inner == 1) {
      SoftmaxRowsKernel<T>
          <<<static_cast<int>(std::min<int64_t>(outer, 65535)), ReduceThreads(k), 0,
             Stream(stream)>>>(static_cast<const T*>(x), static_cast<T*>(y), outer, k, req);
    } else {
      SoftmaxColumnsKernel<T><<<Blocks(outer * inner), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(x), static_cast<T*>(y), outer, k, inner, req);
    }
  });
  CheckLaunch("SoftmaxOutput");
}

void SoftmaxOutputBackward(DType dtype, DType label_dtype, const SoftmaxOutputGrad& p,
                           int64_t outer, int64_t k, int64_t inner, const void* prob,
                           const void* label, const void* head, void* grad, int64_t* scratch,
                           int req, void* stream) {
  const int64_t total = outer * k * inner;
  if (req == kReqNull || total == 0) return;
  cudaStream_t s = Stream(stream);
  LOOM_GPU_ANY_SWITCH(label_dtype, L, "SoftmaxOutput label", {
    if (p.count_valid) {
      if (cudaMemsetAsync(scratch, 0, sizeof(int64_t), s) != cudaSuccess) {
        throw Error("_backward_SoftmaxOutput: cudaMemsetAsync of the valid count failed");
      }
      const int64_t positions = outer * inner;
      CountValidKernel<L><<<Blocks(positions), kThreads, 0, s>>>(
          static_cast<const L*>(label), positions, p.ignore_label,
          reinterpret_cast<unsigned long long*>(scratch));
    }
    LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_SoftmaxOutput", {
      SoftmaxOutputGradKernel<T, L><<<Blocks(total), kThreads, 0, s>>>(
          p, static_cast<const T*>(prob), static_cast<const L*>(label), static_cast<const T*>(head),
          static_cast<T*>(grad), total, k, inner, scratch, req);
    });
  });
  CheckLaunch("_backward_SoftmaxOutput");
}

void RegressionForward(DType dtype, int kind, const void* x, void* y, int64_t n, int req,
                       void* stream) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "RegressionOutput", {
    RegressionForwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(x), static_cast<T*>(y), n, kind, req);
  });
  CheckLaunch("RegressionOutput");
}

void RegressionBackward(DType dtype, DType label_dtype, int kind, double scale, const void* y,
                        const void* label, void* grad, int64_t n, int req, void* stream) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_RegressionOutput", {
    LOOM_GPU_ANY_SWITCH(label_dtype, L, "RegressionOutput label", {
      RegressionBackwardKernel<T, L><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(y), static_cast<const L*>(label), static_cast<T*>(grad), n, kind,
          static_cast<Acc<T>>(scale), req);
    });
  });
  CheckLaunch("_backward_RegressionOutput");
}

}  // namespace loom::gpu
