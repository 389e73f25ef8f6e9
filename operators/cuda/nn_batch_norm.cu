// BatchNorm over (outer, channels, inner) data: one block per channel computes the channel's
// statistics in double with two passes (mean, then squared deviations) as the CPU kernel does,
// updates the moving averages, and writes the channel's output (or gradients).
#include <cmath>

#include "operators/cuda/launch.cuh"
#include "operators/cuda/nn_block_kernels.h"
#include "operators/cuda/nn_kernels.h"

namespace loom::gpu {
namespace {

constexpr int kChannelThreads = 512;

// Calls f(offset) for this thread's share of channel c's outer * inner elements (element
// threadIdx.x, then every blockDim.x-th), stepping the (outer, inner) index pair without
// divisions in the loop.
template <typename F>
__device__ __forceinline__ void ForChannel(int64_t c, int64_t channels, int64_t outer,
                                           int64_t inner, F&& f) {
  if (outer * inner == 0) return;
  const int64_t step_o = blockDim.x / inner, step_i = blockDim.x % inner;
  const int64_t plane = channels * inner;
  int64_t o = threadIdx.x / inner, i = threadIdx.x % inner;
  while (o < outer) {
    f(o * plane + c * inner + i);
    o += step_o;
    i += step_i;
    if (i >= inner) {
      i -= inner;
      ++o;
    }
  }
}

template <typename T, typename P>
__global__ void ForwardKernel(const T* x, const P* gamma, const P* beta, P* moving_mean,
                              P* moving_var, T* y, P* mean, P* var, int64_t outer, int64_t channels,
                              int64_t inner, double eps, double momentum, bool fix_gamma,
                              bool batch_stats, const double* stats, int req) {
  __shared__ double scratch[32];
  const int64_t count = outer * inner;
  for (int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    double m, v;
    if (batch_stats && stats != nullptr) {
      m = stats[c];
      v = stats[channels + c];
    } else if (batch_stats) {
      double sum = 0;
      ForChannel(c, channels, outer, inner,
                 [&](int64_t at) { sum += static_cast<double>(ToAcc(x[at])); });
      sum = BlockSum(sum, scratch);
      m = count > 0 ? sum / static_cast<double>(count) : 0.0;
      double sq = 0;
      ForChannel(c, channels, outer, inner, [&](int64_t at) {
        const double d = static_cast<double>(ToAcc(x[at])) - m;
        sq += d * d;
      });
      sq = BlockSum(sq, scratch);
      v = count > 0 ? sq / static_cast<double>(count) : 0.0;
    } else {
      m = static_cast<double>(moving_mean[c]);
      v = static_cast<double>(moving_var[c]);
    }
    if (threadIdx.x == 0) {
      if (batch_stats) {
        moving_mean[c] = static_cast<P>(moving_mean[c] * momentum + m * (1 - momentum));
        moving_var[c] = static_cast<P>(moving_var[c] * momentum + v * (1 - momentum));
      }
      mean[c] = static_cast<P>(m);
      var[c] = static_cast<P>(v);
    }
    if (req == kReqNull) continue;
    using A = Acc<T>;
    const double scale = (fix_gamma ? 1.0 : static_cast<double>(gamma[c])) / sqrt(v + eps);
    const A a = static_cast<A>(scale);
    const A shift = static_cast<A>(static_cast<double>(beta[c]) - m * scale);
    ForChannel(c, channels, outer, inner,
               [&](int64_t at) { Store(req, y + at, ToAcc(x[at]) * a + shift); });
  }
}

template <typename T, typename P>
__global__ void BackwardKernel(const T* dy, const T* x, const P* gamma, const P* mean, const P* var,
                               T* dx, P* gamma_grad, P* beta_grad, int64_t outer, int64_t channels,
                               int64_t inner, double eps, bool fix_gamma, bool batch_stats,
                               int data_req, int gamma_req, int beta_req, const double* sums_in,
                               double* sums_out) {
  __shared__ double scratch[32];
  const double local_count = static_cast<double>(outer * inner);
  for (int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    const double m = static_cast<double>(mean[c]);
    const double inv_std = 1.0 / sqrt(static_cast<double>(var[c]) + eps);
    double sum_dy = 0, sum_dy_xmu = 0, count = local_count;
    if (sums_in != nullptr) {
      sum_dy = sums_in[c];
      sum_dy_xmu = sums_in[channels + c];
      count = sums_in[2 * channels];
    } else {
      ForChannel(c, channels, outer, inner, [&](int64_t at) {
        const double g = static_cast<double>(ToAcc(dy[at]));
        sum_dy += g;
        sum_dy_xmu += g * (static_cast<double>(ToAcc(x[at])) - m);
      });
      sum_dy = BlockSum(sum_dy, scratch);
      sum_dy_xmu = BlockSum(sum_dy_xmu, scratch);
    }
    if (threadIdx.x == 0) {
      if (sums_out != nullptr) {
        sums_out[c] = sum_dy;
        sums_out[channels + c] = sum_dy_xmu;
      }
      if (gamma_req != kReqNull) {
        Store(gamma_req, gamma_grad + c, static_cast<P>(fix_gamma ? 0.0 : sum_dy_xmu * inv_std));
      }
      if (beta_req != kReqNull) Store(beta_req, beta_grad + c, static_cast<P>(sum_dy));
    }
    if (data_req == kReqNull) continue;
    using A = Acc<T>;
    const double gc = fix_gamma ? 1.0 : static_cast<double>(gamma[c]);
    const double k = gc * inv_std;
    const double mean_dy = batch_stats && count > 0 ? sum_dy / count : 0.0;
    const double mean_dy_xhat = batch_stats && count > 0 ? sum_dy_xmu * inv_std / count : 0.0;
    const A a = static_cast<A>(k), b = static_cast<A>(-k * mean_dy);
    const A cx = static_cast<A>(-k * mean_dy_xhat * inv_std), mt = static_cast<A>(m);
    ForChannel(c, channels, outer, inner, [&](int64_t at) {
      Store(data_req, dx + at, a * ToAcc(dy[at]) + b + cx * (ToAcc(x[at]) - mt));
    });
  }
}

// out[c] = the sum of x over channel c, or (with sums: the channel sums, then the count) of
// (x - sums[c] / count)^2.
template <typename T>
__global__ void ChannelSumsKernel(const T* x, const double* sums, double* out, int64_t outer,
                                  int64_t channels, int64_t inner) {
  __shared__ double scratch[32];
  for (int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    const double total = sums == nullptr ? 0.0 : sums[channels];
    const double m = sums == nullptr || total <= 0 ? 0.0 : sums[c] / total;
    double acc = 0;
    ForChannel(c, channels, outer, inner, [&](int64_t at) {
      const double v = static_cast<double>(ToAcc(x[at]));
      acc += sums == nullptr ? v : (v - m) * (v - m);
    });
    acc = BlockSum(acc, scratch);
    if (threadIdx.x == 0) out[c] = acc;
  }
}

int ChannelBlocks(int64_t channels) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(channels, 65535)));
}

}  // namespace

// Per-channel values are float32 for float16 data (BatchNorm's type rule), else the data's type.
#define LOOM_BN_SWITCH(t, pt, what, ...)                                                 \
  LOOM_GPU_FLOAT_SWITCH(t, T, what, {                                                    \
    using P = std::conditional_t<std::is_same_v<T, __half>, float, T>;                   \
    if (pt != (std::is_same_v<P, float> ? DType::kFloat32 : DType::kFloat64)) {          \
      throw DTypeError(                                                                  \
          StrCat(what, ": expected per-channel values of dtype ",                        \
                 ToString(std::is_same_v<P, float> ? DType::kFloat32 : DType::kFloat64), \
                 " for data of dtype ", ToString(t), " but got ", ToString(pt)));        \
    }                                                                                    \
    __VA_ARGS__                                                                          \
  })

void BatchNormForwardGpu(DType t, DType pt, const void* x, const void* gamma, const void* beta,
                         void* moving_mean, void* moving_var, void* out, void* mean, void* var,
                         int64_t outer, int64_t channels, int64_t inner, double eps,
                         double momentum, bool fix_gamma, bool batch_stats, const double* stats,
                         int req, void* stream) {
  if (channels == 0) return;
  LOOM_BN_SWITCH(t, pt, "BatchNorm", {
    ForwardKernel<T, P><<<ChannelBlocks(channels), kChannelThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(x), static_cast<const P*>(gamma), static_cast<const P*>(beta),
        static_cast<P*>(moving_mean), static_cast<P*>(moving_var), static_cast<T*>(out),
        static_cast<P*>(mean), static_cast<P*>(var), outer, channels, inner, eps, momentum,
        fix_gamma, batch_stats, stats, req);
  });
  CheckLaunch("BatchNorm");
}

void BatchNormBackwardGpu(DType t, DType pt, const void* dy, const void* x, const void* gamma,
                          const void* mean, const void* var, void* dx, void* gamma_grad,
                          void* beta_grad, int64_t outer, int64_t channels, int64_t inner,
                          double eps, bool fix_gamma, bool batch_stats, int data_req, int gamma_req,
                          int beta_req, const double* sums_in, double* sums_out, void* stream) {
  if (channels == 0) return;
  LOOM_BN_SWITCH(t, pt, "_backward_BatchNorm", {
    BackwardKernel<T, P><<<ChannelBlocks(channels), kChannelThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const P*>(gamma),
        static_cast<const P*>(mean), static_cast<const P*>(var), static_cast<T*>(dx),
        static_cast<P*>(gamma_grad), static_cast<P*>(beta_grad), outer, channels, inner, eps,
        fix_gamma, batch_stats, data_req, gamma_req, beta_req, sums_in, sums_out);
  });
  CheckLaunch("_backward_BatchNorm");
}

void BatchNormChannelSumsGpu(DType t, const void* x, const double* sums, double* out, int64_t outer,
                             int64_t channels, int64_t inner, void* stream) {
  if (channels == 0) return;
  LOOM_GPU_FLOAT_SWITCH(t, T, "BatchNorm", {
    ChannelSumsKernel<T><<<ChannelBlocks(channels), kChannelThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(x), sums, out, outer, channels, inner);
  });
  CheckLaunch("BatchNorm channel sums");
}

}  // namespace loom::gpu
