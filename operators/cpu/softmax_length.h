// softmax with a valid length per position (MXNet's softmax(use_length=True)): along `axis`, only
// the first length[pos] elements take part; the others output 0 and get a zero gradient.
//
//   SoftmaxLengthForward({.axis = -1}, x, length, y, OpReq::kWriteTo);   // x (N, T), length (N,)
//   SoftmaxLengthBackward({.axis = -1}, dy, y, length, dx, OpReq::kWriteTo);
//
// length has the data's shape without `axis` (any numeric dtype); a length outside [0, n] is a
// loom::Error naming it. temperature divides the input. float16 (float32 math), float32,
// float64. Thread-safe.
#pragma once

#include "loom/core/kernel.h"
#include "operators/cpu/softmax.h"

namespace loom::cpu {

void SoftmaxLengthForward(const SoftmaxParams& p, const TensorView& x, const TensorView& length,
                          const TensorView& y, OpReq req);
/// dx from dy and the forward's output y: y (dy - sum(dy y)) / temperature within the length.
void SoftmaxLengthBackward(const SoftmaxParams& p, const TensorView& dy, const TensorView& y,
                           const TensorView& length, const TensorView& dx, OpReq req);

}  // namespace loom::cpu
