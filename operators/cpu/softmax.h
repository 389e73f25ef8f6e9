// softmax / log_softmax, SoftmaxOutput and the regression output heads (Linear, Logistic, MAE):
// CPU kernels with gradients.
//
//   SoftmaxForward({.axis = -1}, /*log=*/false, x, y, OpReq::kWriteTo);
//   SoftmaxOutputParams p{.normalization = SoftmaxNormalization::kBatch};
//   SoftmaxOutputForward(p, data, out, OpReq::kWriteTo);
//   SoftmaxOutputBackward(p, out, label, out_grad, data_grad, OpReq::kWriteTo);
//
// SoftmaxOutput and the regression heads are loss layers: their backward ignores the head
// gradient (SoftmaxOutput's out_grad=True multiplies it in, as MXNet's). Labels are read from
// any numeric dtype. float32 and float64 (softmax also float16). Thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "loom/core/kernel.h"

namespace loom::cpu {

struct SoftmaxParams {
  int axis = -1;
  std::optional<double> temperature;  ///< softmax(x / temperature); none = 1
};

/// y = softmax(x) along p.axis, or log_softmax with `log`.
void SoftmaxForward(const SoftmaxParams& p, bool log, const TensorView& x, const TensorView& y,
                    OpReq req);
/// dx from dy and the forward's output y.
void SoftmaxBackward(const SoftmaxParams& p, bool log, const TensorView& dy, const TensorView& y,
                     const TensorView& dx, OpReq req);

enum class SoftmaxNormalization : uint8_t { kNull, kBatch, kValid };

struct SoftmaxOutputParams {
  double grad_scale = 1;
  double ignore_label = -1;
  bool multi_output = false;    ///< softmax over axis 1 of (N, C, ...), one label per position
  bool use_ignore = false;      ///< labels equal to ignore_label get zero gradient
  bool preserve_shape = false;  ///< softmax over the last axis, one label per leading position
  SoftmaxNormalization normalization = SoftmaxNormalization::kNull;
  bool out_grad = false;    ///< multiply by the head gradient
  double smooth_alpha = 0;  ///< label smoothing: target 1 - alpha, alpha / (K - 1) elsewhere
};

/// out = softmax of data: over axis 1 (multi_output), the last axis (preserve_shape), or over
/// everything but axis 0.
void SoftmaxOutputForward(const SoftmaxOutputParams& p, const TensorView& data,
                          const TensorView& out, OpReq req);
/// data_grad = (out - target) * grad_scale / norm, norm being 1, the batch size (N) or the
/// number of non-ignored labels (at least 1). target is one-hot of label (smoothed), or label
/// itself when it has data's size (soft labels). A label outside [0, K) is a loom::Error naming
/// it, unless it is the ignored label. out_grad is read only when p.out_grad.
void SoftmaxOutputBackward(const SoftmaxOutputParams& p, const TensorView& out,
                           const TensorView& label, const TensorView& out_grad,
                           const TensorView& data_grad, OpReq req);

enum class RegressionType : uint8_t { kLinear, kLogistic, kMAE };

/// out = data (linear, MAE) or sigmoid(data) (logistic).
void RegressionOutputForward(RegressionType type, const TensorView& data, const TensorView& out,
                             OpReq req);
/// data_grad = (out - label) (linear, logistic) or sign(out - label) (MAE), times
/// grad_scale / (label.size / N). label has data's size (e.g. (N,) for data (N, 1)).
void RegressionOutputBackward(RegressionType type, double grad_scale, const TensorView& out,
                              const TensorView& label, const TensorView& data_grad, OpReq req);

}  // namespace loom::cpu
