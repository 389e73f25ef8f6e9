// Launchers of the loss-head GPU kernels (operators/cuda/loss.cu), for loss_gpu.cc:
// SoftmaxOutput and the regression outputs (Linear, Logistic, MAE), with their gradients.
//
//   SoftmaxOutputForward(DType::kFloat32, outer, k, inner, x, y, kReqWriteTo, stream);
//
// float32 and float64 as the CPU kernels, and float16 (float arithmetic), which the CPU lacks
// and the GPU consistency test compares with the CPU's float32; labels in any numeric dtype. The
// CPU rejects a hard label outside [0, K) that is not ignored with an error; on the GPU (which
// cannot raise one without synchronising) such a position gets no one-hot target (every class gets
// the smoothing value). Launches are enqueued on `stream` and return at once. C++17-safe.
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::gpu {

/// y = softmax of x viewed as (outer, k, inner), over k.
void SoftmaxOutputForward(DType dtype, int64_t outer, int64_t k, int64_t inner, const void* x,
                          void* y, int req, void* stream);

struct SoftmaxOutputGrad {
  double grad_scale = 1;
  double ignore_label = -1;
  bool use_ignore = false;
  double smooth_alpha = 0;
  bool soft = false;  ///< label holds probabilities of the data's shape
  /// The divisor of grad_scale when known on the host; count_valid: the number of labels not
  /// ignored (at least 1), counted on the device into `scratch` (one int64).
  double norm = 1;
  bool count_valid = false;
};

/// grad = (prob - target) * grad_scale / norm (times head when non-null).
void SoftmaxOutputBackward(DType dtype, DType label_dtype, const SoftmaxOutputGrad& p,
                           int64_t outer, int64_t k, int64_t inner, const void* prob,
                           const void* label, const void* head, void* grad, int64_t* scratch,
                           int req, void* stream);

/// kind: 0 linear, 1 logistic, 2 MAE. y = x, or sigmoid(x) for logistic.
void RegressionForward(DType dtype, int kind, const void* x, void* y, int64_t n, int req,
                       void* stream);
/// grad = (y - label) (linear, logistic) or sign(y - label) (MAE), times scale.
void RegressionBackward(DType dtype, DType label_dtype, int kind, double scale, const void* y,
                        const void* label, void* grad, int64_t n, int req, void* stream);

}  // namespace loom::gpu
