// Launchers of the normalisation GPU kernels (operators/cuda/norm.cu), for norm_gpu.cc:
// L2Normalization and InstanceNorm with their gradients. float32 and float64 as the CPU kernels,
// and float16 (which the CPU lacks); sums in double as on the CPU.
//
//   L2NormForward(DType::kFloat32, outer, n, inner, 1e-10, x, y, kReqWriteTo, norm, stream);
//
// Launches are enqueued on `stream` and return at once. C++17-safe.
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::gpu {

/// Groups (outer, n, inner) reduced over n: norm[o * inner + i] = sqrt(sum x^2 + eps) (always
/// written), y = x / norm (as req says).
void L2NormForward(DType dtype, int64_t outer, int64_t n, int64_t inner, double eps, const void* x,
                   void* y, int req, void* norm, void* stream);
/// dx = (dy - y * sum(dy * y)) / norm per group.
void L2NormBackward(DType dtype, int64_t outer, int64_t n, int64_t inner, const void* dy,
                    const void* y, const void* norm, void* dx, int req, void* stream);

/// x (batch, channels, m): mean and biased var per (b, c) (always written), y = gamma[c] (x -
/// mean) / sqrt(var + eps) + beta[c] (as req says).
void InstanceNormForward(DType dtype, int64_t batch, int64_t channels, int64_t m, double eps,
                         const void* x, const void* gamma, const void* beta, void* y, int req,
                         void* mean, void* var, void* stream);
/// dx, dgamma, dbeta (each skipped when its req is null); `scratch` holds 2 * batch * channels
/// doubles.
void InstanceNormBackward(DType dtype, int64_t batch, int64_t channels, int64_t m, double eps,
                          const void* dy, const void* x, const void* gamma, const void* mean,
                          const void* var, void* dx, int dx_req, void* dgamma, int gamma_req,
                          void* dbeta, int beta_req, double* scratch, void* stream);

}  // namespace loom::gpu
