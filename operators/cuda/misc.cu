// LeakyReLU GPU kernels: leaky, prelu (with its gamma gradient), rrelu (counter-based random
// slopes), elu, selu and gelu. See misc_kernels.h.
#include "operators/cuda/misc_kernels.h"
#include "operators/cuda/misc_util.cuh"

namespace loom::gpu {
namespace {

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluLambda = 1.0507009873554804934193349852946;
constexpr double kSqrtHalf = 0.70710678118654752440084436210485;
constexpr double kGeluPdf = 0.39894228040143267793994605993438;  // 1 / sqrt(2 pi)

__device__ __forceinline__ float Exp(float v) { return expf(v); }
__device__ __forceinline__ double Exp(double v) { return exp(v); }
__device__ __forceinline__ float Erf(float v) { return erff(v); }
__device__ __forceinline__ double Erf(double v) { return erf(v); }

// A uniform double in [0, 1) from (seed, i): splitmix64 of the pair.
__device__ __forceinline__ double Uniform(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

__device__ __forceinline__ int64_t ChannelOf(const LeakyParams& p, int64_t i) {
  return p.channels == 1 ? 0 : (i / p.inner) % p.channels;
}

template <typename T>
__global__ void LeakyForwardKernel(LeakyParams p, const T* x, const T* gamma, T* y, T* mask,
                                   int64_t n, int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const A v = ToAcc(x[i]);
    A out;
    switch (p.type) {
      case LeakyKind::kPrelu:
        out = v > A(0) ? v : ToAcc(gamma[ChannelOf(p, i)]) * v;
        break;
      case LeakyKind::kRrelu:
        if (p.rrelu_train) {
          const T s = FromAcc<T>(
              static_cast<A>(p.lower_bound + (p.upper_bound - p.lower_bound) * Uniform(p.seed, i)));
          mask[i] = s;
          out = v > A(0) ? v : ToAcc(s) * v;
        } else {
          out = v > A(0) ? v : static_cast<A>(p.slope) * v;
        }
        break;
      case LeakyKind::kElu:
        out = v > A(0) ? v : static_cast<A>(p.slope) * (Exp(v) - A(1));
        break;
      case LeakyKind::kSelu:
        out = static_cast<A>(kSeluLambda) *
              (v > A(0) ? v : static_cast<A>(kSeluAlpha) * (Exp(v) - A(1)));
        break;
      case LeakyKind::kGelu:
        out = A(0.5) * v * (A(1) + Erf(v * static_cast<A>(kSqrtHalf)));
        break;
      default:
        out = v > A(0) ? v : static_cast<A>(p.slope) * v;
    }
    Store(req, y + i, out);
  }
}

template <typename T>
__global__ void FillKernel(T* dst, int64_t n, Acc<T> v) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { dst[i] = FromAcc<T>(v); }
}

template <typename T>
__global__ void LeakyBackwardKernel(LeakyParams p, const T* dy, const T* x, const T* gamma,
                                    const T* mask, T* dx, int64_t n, int req) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const A v = ToAcc(x[i]);
    A d;
    switch (p.type) {
      case LeakyKind::kPrelu:
        d = v > A(0) ? A(1) : ToAcc(gamma[ChannelOf(p, i)]);
        break;
      case LeakyKind::kRrelu:
        d = v > A(0) ? A(1) : (mask != nullptr ? ToAcc(mask[i]) : static_cast<A>(p.slope));
        break;
      case LeakyKind::kElu:
        d = v > A(0) ? A(1) : static_cast<A>(p.slope) * Exp(v);
        break;
      case LeakyKind::kSelu:
        d = static_cast<A>(kSeluLambda) * (v > A(0) ? A(1) : static_cast<A>(kSeluAlpha) * Exp(v));
        break;
      case LeakyKind::kGelu:
        d = A(0.5) * (A(1) + Erf(v * static_cast<A>(kSqrtHalf))) +
            v * Exp(A(-0.5) * v * v) * static_cast<A>(kGeluPdf);
        break;
      default:
        d = v > A(0) ? A(1) : static_cast<A>(p.slope);
    }
    Store(req, dx + i, ToAcc(dy[i]) * d);
  }
}

// Partial sums of dy * x (x <= 0) per gamma entry: blockIdx.y is the entry (channel), the
// x-blocks split its elements and add into scratch.
template <typename T>
__global__ void GammaGradKernel(LeakyParams p, const T* dy, const T* x, int64_t per_channel,
                                double* scratch) {
  using A = Acc<T>;
  __shared__ A shared[32];
  const int64_t c = blockIdx.y;
  A sum = 0;
  for (int64_t q = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; q < per_channel;
       q += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i =
        p.channels == 1 ? q : ((q / p.inner) * p.channels + c) * p.inner + q % p.inner;
    const A v = ToAcc(x[i]);
    if (!(v > A(0))) sum += ToAcc(dy[i]) * v;
  }
  sum = BlockSum(sum, shared);
  if (threadIdx.x == 0) atomicAdd(scratch + c, static_cast<double>(sum));
}

template <typename T>
__global__ void GammaStoreKernel(const double* scratch, T* gamma_grad, int64_t m, int req) {
  LOOM_CUDA_KERNEL_LOOP(c, m) { Store(req, gamma_grad + c, static_cast<Acc<T>>(scratch[c])); }
}

}  // namespace

void LeakyReLUForward(DType dtype, const LeakyParams& p, const void* x, const void* gamma, void* y,
                      void* mask, int64_t n, int req, void* stream) {
  if (req == kReqNull || n == 0) return;
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    LeakyForwardKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<T*>(y),
        static_cast<T*>(mask), n, req);
  };
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "LeakyReLU", { launch(T{}); });
  CheckLaunch("LeakyReLU");
}

void FillValue(DType dtype, void* dst, int64_t n, double value, void* stream) {
  if (n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "LeakyReLU mask", {
    FillKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(static_cast<T*>(dst), n,
                                                              static_cast<Acc<T>>(value));
  });
  CheckLaunch("LeakyReLU mask");
}

void LeakyReLUBackward(DType dtype, const LeakyParams& p, const void* dy, const void* x,
                       const void* gamma, const void* mask, void* dx, int req, void* gamma_grad,
                       int gamma_req, int64_t gamma_size, double* scratch, int64_t n,
                       void* stream) {
  cudaStream_t s = Stream(stream);
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    if (gamma_req != kReqNull && gamma_size > 0) {
      if (cudaMemsetAsync(scratch, 0, gamma_size * sizeof(double), s) != cudaSuccess) {
        throw Error("_backward_LeakyReLU: cudaMemsetAsync of the gamma scratch failed");
      }
      const int64_t per_channel = gamma_size == 1 ? n : n / gamma_size;
      if (per_channel > 0) {
        const dim3 grid(static_cast<unsigned>(std::min<int64_t>(Blocks(per_channel), 1024)),
                        static_cast<unsigned>(gamma_size));
        GammaGradKernel<T><<<grid, kThreads, 0, s>>>(
            p, static_cast<const T*>(dy), static_cast<const T*>(x), per_channel, scratch);
      }
      GammaStoreKernel<T><<<Blocks(gamma_size), kThreads, 0, s>>>(
          scratch, static_cast<T*>(gamma_grad), gamma_size, gamma_req);
    }
    if (req != kReqNull && n > 0) {
      LeakyBackwardKernel<T><<<Blocks(n), kThreads, 0, s>>>(
          p, static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(gamma),
          static_cast<const T*>(mask), static_cast<T*>(dx), n, req);
    }
  };
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_LeakyReLU", { launch(T{}); });
  CheckLaunch("_backward_LeakyReLU");
}

}  // namespace loom::gpu
