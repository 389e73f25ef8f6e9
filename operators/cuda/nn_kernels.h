// Launchers of the neural-network operators' CUDA kernels (nn_*.cu), called by the host side in
// operators/cuda/{blas,activation,softmax,pooling,batch_norm,lrn,dropout}_gpu.cc. C++17-safe:
// included by the .cu files and the C++20 host files alike.
//
//   loom::gpu::AddBiasRows(DType::kFloat32, bias, out, rows, hidden, stream);
//
// Every launcher takes raw device pointers, int64 sizes, the data's DType, an `int req`
// (loom::OpReq's value) and the operation's `void* stream`; it enqueues and returns without
// synchronising, and throws loom::Error naming the kernel when the launch fails. Float
// launchers take float16 (float arithmetic), float32 and float64. Stateless, thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::gpu {

// ---- FullyConnected helpers (nn_blas.cu) -----------------------------------------------------

/// out[r, j] = bias[j] for r < rows (the start of a GEMM with beta = 1).
void FillRowsWithBias(DType t, const void* bias, void* out, int64_t rows, int64_t hidden,
                      void* stream);
/// out[r, j] += bias[j].
void AddBiasRows(DType t, const void* bias, void* out, int64_t rows, int64_t hidden, void* stream);
/// out[i] = 1 for i < n.
void FillOnes(DType t, void* out, int64_t n, void* stream);

// ---- Activation (nn_activation.cu) -----------------------------------------------------------

/// act: 0 relu, 1 sigmoid, 2 tanh, 3 softrelu, 4 softsign (loom::cpu::ActType's order).
void ActivationForwardGpu(DType t, int act, const void* x, void* y, int64_t n, int req,
                          void* stream);
/// dx (req) = dy * act'(.), from y (relu, sigmoid, tanh, softrelu) or from x (softsign): `in`.
void ActivationBackwardGpu(DType t, int act, const void* dy, const void* in, void* dx, int64_t n,
                           int req, void* stream);

// ---- softmax (nn_softmax.cu) -----------------------------------------------------------------

/// Softmax (or log-softmax) of x viewed as (outer, n, inner) along n, times 1/temperature inside
/// the exponent. With `length` (of dtype length_type, outer * inner values), only the first
/// length[pos] elements of each softmax take part and the rest are 0 (softmax only).
void SoftmaxForwardGpu(DType t, const void* x, void* y, int64_t outer, int64_t n, int64_t inner,
                       double inv_temperature, bool log, const void* length, DType length_type,
                       int req, void* stream);
void SoftmaxBackwardGpu(DType t, const void* dy, const void* y, void* dx, int64_t outer, int64_t n,
                        int64_t inner, double inv_temperature, bool log, const void* length,
                        DType length_type, int req, void* stream);

// ---- Pooling (nn_pooling.cu) -----------------------------------------------------------------

/// One pooling geometry: planes = N * C, 3 spatial axes (unused leading ones have size 1).
struct PoolGeometryGpu {
  int64_t planes = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1},
          pad[3] = {0, 0, 0};
};
/// type: 0 max, 1 avg, 2 sum, 3 lp (p_value).
void PoolingForwardGpu(DType t, const PoolGeometryGpu& g, int type, bool count_include_pad,
                       int p_value, const void* x, void* y, int req, void* stream);
/// dx (req) from dy and x; each input element gathers from the windows holding it.
void PoolingBackwardGpu(DType t, const PoolGeometryGpu& g, int type, bool count_include_pad,
                        int p_value, const void* dy, const void* x, void* dx, int req,
                        void* stream);

// ---- BatchNorm (nn_batch_norm.cu) ------------------------------------------------------------

/// data (outer, channels, inner) of dtype t; per-channel values of dtype pt (float32 for
/// float16 data, t otherwise). Batch statistics (batch_stats: from `stats`, the device's
/// means then variances, when given; else computed in double) or the moving ones; writes mean,
/// var (always), the moving averages (batch statistics only) and out (req).
void BatchNormForwardGpu(DType t, DType pt, const void* x, const void* gamma, const void* beta,
                         void* moving_mean, void* moving_var, void* out, void* mean, void* var,
                         int64_t outer, int64_t channels, int64_t inner, double eps,
                         double momentum, bool fix_gamma, bool batch_stats, const double* stats,
                         int req, void* stream);
/// Gradients. With sums_in (device: sum(dy) per channel, sum(dy (x - mean)) per channel, then
/// the element count) the data gradient uses those sums instead of this batch's; sums_out
/// (device, 2 * channels) receives this batch's sums.
void BatchNormBackwardGpu(DType t, DType pt, const void* dy, const void* x, const void* gamma,
                          const void* mean, const void* var, void* dx, void* gamma_grad,
                          void* beta_grad, int64_t outer, int64_t channels, int64_t inner,
                          double eps, bool fix_gamma, bool batch_stats, int data_req, int gamma_req,
                          int beta_req, const double* sums_in, double* sums_out, void* stream);
/// out[c] (device doubles) = sum of x over channel c; with sums (device: channel sums, then the
/// count), the sum of (x - sums[c] / count)^2 instead.
void BatchNormChannelSumsGpu(DType t, const void* x, const double* sums, double* out, int64_t outer,
                             int64_t channels, int64_t inner, void* stream);

// ---- LRN (nn_lrn.cu) -------------------------------------------------------------------------

void LRNForwardGpu(DType t, const void* x, void* y, void* norm, int64_t outer, int64_t channels,
                   int64_t inner, double alpha, double beta, double knorm, int64_t nsize, int req,
                   void* stream);
void LRNBackwardGpu(DType t, const void* dy, const void* x, const void* norm, void* dx,
                    int64_t outer, int64_t channels, int64_t inner, double alpha, double beta,
                    int64_t nsize, int req, void* stream);

// ---- Dropout (nn_dropout.cu) -----------------------------------------------------------------

/// Up to 8 axes: the data's shape and, per axis, the stride of the draw index (0 along the axes
/// that share one draw).
struct DropoutGeometryGpu {
  int ndim = 0;
  int64_t shape[8] = {};
  int64_t draw_stride[8] = {};
};
/// mask[i] = keep_value when a 32-bit uniform draw for (seed, draw index of i) is >= threshold
/// (p * 2^32; 2^32 keeps nothing), 0 otherwise; y (req) = x * mask.
void DropoutForwardGpu(DType t, const DropoutGeometryGpu& g, const void* x, void* y, void* mask,
                       uint64_t seed, uint64_t threshold, double keep_value, int req, void* stream);
/// out (req) = a * b (b may be null: out = a).
void MultiplyGpu(DType t, const void* a, const void* b, void* out, int64_t n, int req,
                 void* stream);

}  // namespace loom::gpu
