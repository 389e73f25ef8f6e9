// L2Normalization and InstanceNorm CPU kernels, with gradients.
//
//   L2NormalizationForward(L2NormMode::kInstance, 1e-10, x, y, OpReq::kWriteTo, norm);
//   L2NormalizationBackward(L2NormMode::kInstance, dy, y, norm, dx, OpReq::kWriteTo);
//   InstanceNormForward(1e-3, x, gamma, beta, y, OpReq::kWriteTo, mean, var);
//   InstanceNormBackward(1e-3, dy, x, gamma, mean, var, dx, OpReq::kWriteTo,
//                        dgamma, OpReq::kWriteTo, dbeta, OpReq::kWriteTo);
//
// L2Normalization (MXNet's): y = x / sqrt(sum x^2 + eps) over each instance (all but axis 0),
// over the channels at each position (axis 1; channel), or over the positions of each channel
// (axes 2...; spatial). norm holds the divisors: (N,), data with axis 1 = 1, or (N, C). The
// gradient reads the output and norm: dx = (dy - y * sum(dy * y)) / norm per group.
// InstanceNorm: data (N, C, ...), per (n, c) mean and biased variance over the positions (the
// hidden mean and var outputs, (N, C)); y = gamma[c] (x - mean) / sqrt(var + eps) + beta[c].
// float32 and float64. Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"
#include "operators/cpu/common.h"

namespace loom::cpu {

enum class L2NormMode : uint8_t { kInstance, kChannel, kSpatial };

/// Geometry and checks shared with the GPU kernels (operators/cuda/norm_gpu.cc).
/// The groups L2Normalization reduces in data of shape s: (outer, n, inner), reducing over n; norm
/// index o * inner + i. Throws ShapeError when s has too few axes for the mode.
AxisSplit L2NormGroups(L2NormMode mode, const Shape& s);

/// InstanceNorm's data read as (n, c, m): batch, channels, positions per channel.
struct InstanceNormLayout {
  int64_t n, c, m;
};
/// Checks gamma (c), mean and var (n * c) against data x (sizes and dtypes), naming InstanceNorm.
InstanceNormLayout InstanceNormShapes(const TensorView& x, const TensorView& gamma,
                                      const TensorView& mean, const TensorView& var);

void L2NormalizationForward(L2NormMode mode, double eps, const TensorView& x, const TensorView& y,
                            OpReq req, const TensorView& norm);
void L2NormalizationBackward(L2NormMode mode, const TensorView& dy, const TensorView& y,
                             const TensorView& norm, const TensorView& dx, OpReq req);

void InstanceNormForward(double eps, const TensorView& x, const TensorView& gamma,
                         const TensorView& beta, const TensorView& y, OpReq req,
                         const TensorView& mean, const TensorView& var);
void InstanceNormBackward(double eps, const TensorView& dy, const TensorView& x,
                          const TensorView& gamma, const TensorView& mean, const TensorView& var,
                          const TensorView& dx, OpReq dx_req, const TensorView& dgamma,
                          OpReq gamma_req, const TensorView& dbeta, OpReq beta_req);

}  // namespace loom::cpu
