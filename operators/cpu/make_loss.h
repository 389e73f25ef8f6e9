// MakeLoss / make_loss gradient CPU kernel: a loss head's gradient ignores the head gradient and
// is a constant, grad_scale divided by a normaliser.
//
//   MakeLossParams p{.grad_scale = 2, .normalization = MakeLossNormalization::kBatch};
//   MakeLossBackward(p, out, data_grad, OpReq::kWriteTo);   // every element 2 / out.shape[0]
//
// The forward pass is the identity (UnaryForward(UnaryOp::kCopy, ...)). float16 (float32 math),
// float32, float64. Thread-safe.
#pragma once

#include "loom/core/kernel.h"

namespace loom::cpu {

enum class MakeLossNormalization : uint8_t { kNull, kBatch, kValid };

struct MakeLossParams {
  double grad_scale = 1;
  double valid_thresh = 0;
  MakeLossNormalization normalization = MakeLossNormalization::kNull;
};

/// data_grad = grad_scale / norm everywhere: norm 1 (null), out.shape[0] (batch), or the number
/// of elements of out greater than valid_thresh, at least 1 (valid).
void MakeLossBackward(const MakeLossParams& p, const TensorView& out, const TensorView& data_grad,
                      OpReq req);

}  // namespace loom::cpu
