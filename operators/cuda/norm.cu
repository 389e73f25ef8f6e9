// Normalisation GPU kernels: L2Normalization and InstanceNorm with their gradients. See
// norm_kernels.h.
#include "operators/cuda/misc_util.cuh"
#include "operators/cuda/norm_kernels.h"

namespace loom::gpu {
namespace {

// As the CPU: the value in double, accumulated in double, rounded once.
template <typename T>
__device__ __forceinline__ double D(T v) {
  return static_cast<double>(ToAcc(v));
}

template <typename T>
__device__ __forceinline__ void StoreD(int req, T* dst, double v) {
  if (req == kReqAddTo) {
    *dst = FromAcc<T>(D(*dst) + v);
  } else if (req != kReqNull) {
    *dst = FromAcc<T>(v);
  }
}

// inner == 1: one block per group of n contiguous elements.
template <typename T>
__global__ void L2ForwardRowsKernel(const T* x, T* y, T* norm, int64_t groups, int64_t n,
                                    double eps, int req) {
  __shared__ double shared[32];
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {
    const T* xg = x + g * n;
    double sum = 0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const double v = D(xg[k]);
      sum += v * v;
    }
    const double nrm = sqrt(BlockSum(sum, shared) + eps);
    if (threadIdx.x == 0) norm[g] = FromAcc<T>(nrm);
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x)
      StoreD(req, y + g * n + k, D(xg[k]) / nrm);
  }
}

// inner > 1: one thread per group (o, i), n elements strided by inner.
template <typename T>
__global__ void L2ForwardColumnsKernel(const T* x, T* y, T* norm, int64_t outer, int64_t n,
                                       int64_t inner, double eps, int req) {
  LOOM_CUDA_KERNEL_LOOP(g, outer * inner) {
    const int64_t base = (g / inner) * n * inner + g % inner;
    double sum = 0;
    for (int64_t k = 0; k < n; ++k) {
      const double v = D(x[base + k * inner]);
      sum += v * v;
    }
    const double nrm = sqrt(sum + eps);
    norm[g] = FromAcc<T>(nrm);
    for (int64_t k = 0; k < n; ++k) {
      StoreD(req, y + base + k * inner, D(x[base + k * inner]) / nrm);
    }
  }
}

template <typename T>
__global__ void L2BackwardRowsKernel(const T* dy, const T* y, const T* norm, T* dx, int64_t groups,
                                     int64_t n, int req) {
  __shared__ double shared[32];
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {
    const int64_t base = g * n;
    double dot = 0;
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      dot += D(dy[base + k]) * D(y[base + k]);
    }
    dot = BlockSum(dot, shared);
    const double nrm = D(norm[g]);
    for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      StoreD(req, dx + base + k, (D(dy[base + k]) - D(y[base + k]) * dot) / nrm);
    }
  }
}

template <typename T>
__global__ void L2BackwardColumnsKernel(const T* dy, const T* y, const T* norm, T* dx,
                                        int64_t outer, int64_t n, int64_t inner, int req) {
  LOOM_CUDA_KERNEL_LOOP(g, outer * inner) {
    const int64_t base = (g / inner) * n * inner + g % inner;
    double dot = 0;
    for (int64_t k = 0; k < n; ++k) {
      dot += D(dy[base + k * inner]) * D(y[base + k * inner]);
    }
    const double nrm = D(norm[g]);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t at = base + k * inner;
      StoreD(req, dx + at, (D(dy[at]) - D(y[at]) * dot) / nrm);
    }
  }
}

// One block per (b, c) group of m contiguous elements.
template <typename T>
__global__ void InstanceForwardKernel(const T* x, const T* gamma, const T* beta, T* y, T* mean,
                                      T* var, int64_t groups, int64_t channels, int64_t m,
                                      double eps, int req) {
  __shared__ double shared[32];
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {
    const T* xs = x + g * m;
    double sum = 0;
    for (int64_t i = threadIdx.x; i < m; i += blockDim.x) sum += D(xs[i]);
    sum = BlockSum(sum, shared);
    const double mu = m > 0 ? sum / static_cast<double>(m) : 0;
    double sq = 0;
    for (int64_t i = threadIdx.x; i < m; i += blockDim.x) sq += (D(xs[i]) - mu) * (D(xs[i]) - mu);
    sq = BlockSum(sq, shared);
    const double v = m > 0 ? sq / static_cast<double>(m) : 0;
    if (threadIdx.x == 0) {
      mean[g] = FromAcc<T>(mu);
      var[g] = FromAcc<T>(v);
    }
    if (req == kReqNull) continue;
    const int64_t c = g % channels;
    const double scale = D(gamma[c]) / sqrt(v + eps);
    const double shift = D(beta[c]);
    for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
      StoreD(req, y + g * m + i, (D(xs[i]) - mu) * scale + shift);
    }
  }
}

// Per (b, c): sum of dy and of dy * xhat into scratch; dx as req says.
template <typename T>
__global__ void InstanceBackwardKernel(const T* dy, const T* x, const T* gamma, const T* mean,
                                       const T* var, T* dx, int64_t groups, int64_t channels,
                                       int64_t m, double eps, int dx_req, double* sum_g,
                                       double* sum_gx) {
  __shared__ double shared[32];
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {
    const double mu = D(mean[g]), rstd = 1 / sqrt(D(var[g]) + eps);
    const T* gs = dy + g * m;
    const T* xs = x + g * m;
    double sg = 0, sgx = 0;
    for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
      sg += D(gs[i]);
      sgx += D(gs[i]) * (D(xs[i]) - mu) * rstd;
    }
    sg = BlockSum(sg, shared);
    sgx = BlockSum(sgx, shared);
    if (threadIdx.x == 0) {
      sum_g[g] = sg;
      sum_gx[g] = sgx;
    }
    if (dx_req == kReqNull || m == 0) continue;
    const double k = D(gamma[g % channels]) * rstd, inv_m = 1.0 / static_cast<double>(m);
    for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
      const double xhat = (D(xs[i]) - mu) * rstd;
      StoreD(dx_req, dx + g * m + i, k * (D(gs[i]) - sg * inv_m - xhat * sgx * inv_m));
    }
  }
}

template <typename T>
__global__ void InstanceParamGradKernel(const double* sum_g, const double* sum_gx, T* dgamma,
                                        int gamma_req, T* dbeta, int beta_req, int64_t batch,
                                        int64_t channels) {
  LOOM_CUDA_KERNEL_LOOP(c, channels) {
    double g = 0, gx = 0;
    for (int64_t b = 0; b < batch; ++b) {
      g += sum_g[b * channels + c];
      gx += sum_gx[b * channels + c];
    }
    if (gamma_req != kReqNull) StoreD(gamma_req, dgamma + c, gx);
    if (beta_req != kReqNull) StoreD(beta_req, dbeta + c, g);
  }
}

int GroupBlocks(int64_t groups) { return static_cast<int>(std::min<int64_t>(groups, 65535)); }

}  // namespace

void L2NormForward(DType dtype, int64_t outer, int64_t n, int64_t inner, double eps, const void* x,
                   void* y, int req, void* norm, void* stream) {
  const int64_t groups = outer * inner;
  if (groups == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "L2Normalization", {
    if (inner == 1) {
      L2ForwardRowsKernel<T><<<GroupBlocks(groups), ReduceThreads(n), 0, Stream(stream)>>>(
          static_cast<const T*>(x), static_cast<T*>(y), static_cast<T*>(norm), groups, n, eps, req);
    } else {
      L2ForwardColumnsKernel<T><<<Blocks(groups), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(x), static_cast<T*>(y), static_cast<T*>(norm), outer, n, inner, eps,
          req);
    }
  });
  CheckLaunch("L2Normalization");
}

void L2NormBackward(DType dtype, int64_t outer, int64_t n, int64_t inner, const void* dy,
                    const void* y, const void* norm, void* dx, int req, void* stream) {
  const int64_t groups = outer * inner;
  if (req == kReqNull || groups == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_L2Normalization", {
    if (inner == 1) {
      L2BackwardRowsKernel<T><<<GroupBlocks(groups), ReduceThreads(n), 0, Stream(stream)>>>(
          static_cast<const T*>(dy), static_cast<const T*>(y), static_cast<const T*>(norm),
          static_cast<T*>(dx), groups, n, req);
    } else {
      L2BackwardColumnsKernel<T><<<Blocks(groups), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(dy), static_cast<const T*>(y), static_cast<const T*>(norm),
          static_cast<T*>(dx), outer, n, inner, req);
    }
  });
  CheckLaunch("_backward_L2Normalization");
}

void InstanceNormForward(DType dtype, int64_t batch, int64_t channels, int64_t m, double eps,
                         const void* x, const void* gamma, const void* beta, void* y, int req,
                         void* mean, void* var, void* stream) {
  const int64_t groups = batch * channels;
  if (groups == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "InstanceNorm", {
    InstanceForwardKernel<T><<<GroupBlocks(groups), ReduceThreads(m), 0, Stream(stream)>>>(
        static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
        static_cast<T*>(y), static_cast<T*>(mean), static_cast<T*>(var), groups, channels, m, eps,
        req);
  });
  CheckLaunch("InstanceNorm");
}

void InstanceNormBackward(DType dtype, int64_t batch, int64_t channels, int64_t m, double eps,
                          const void* dy, const void* x, const void* gamma, const void* mean,
                          const void* var, void* dx, int dx_req, void* dgamma, int gamma_req,
                          void* dbeta, int beta_req, double* scratch, void* stream) {
  const int64_t groups = batch * channels;
  double* sum_g = scratch;
  double* sum_gx = scratch + groups;
  cudaStream_t s = Stream(stream);
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_InstanceNorm", {
    if (groups > 0) {
      InstanceBackwardKernel<T><<<GroupBlocks(groups), ReduceThreads(m), 0, s>>>(
          static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(gamma),
          static_cast<const T*>(mean), static_cast<const T*>(var), static_cast<T*>(dx), groups,
          channels, m, eps, dx_req, sum_g, sum_gx);
    }
    if ((gamma_req != kReqNull || beta_req != kReqNull) && channels > 0) {
      InstanceParamGradKernel<T>
          <<<Blocks(channels), kThreads, 0, s>>>(sum_g, sum_gx, static_cast<T*>(dgamma), gamma_req,
                                                 static_cast<T*>(dbeta), beta_req, batch, channels);
    }
  });
  CheckLaunch("_backward_InstanceNorm");
}

}  // namespace loom::gpu
