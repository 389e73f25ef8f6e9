// Dropout CPU kernels: keep each element with probability 1 - p and scale it by 1 / (1 - p)
// while training (or always, with mode='always'); identity otherwise.
//
//   DropoutParams p{.p = 0.5};
//   DropoutForward(p, ctx, x, y, OpReq::kWriteTo, mask);   // ctx.is_train, ctx.rng
//   DropoutBackward(p, ctx.is_train, dy, mask, dx, OpReq::kWriteTo);
//
// mask (data's shape and dtype) receives 0 or 1 / (1 - p) per element; with `axes` one draw is
// shared along those axes (MXNet's variational dropout). The draws come from ctx.rng. float16
// (float32 math), float32, float64. Thread-safe given distinct generators.
#pragma once

#include <vector>

#include "loom/core/kernel.h"

namespace loom::cpu {

struct DropoutParams {
  double p = 0.5;
  bool always = false;    ///< mode='always': drop at inference too
  std::vector<int> axes;  ///< axes sharing one draw
};

/// True when the forward drops (is_train or mode='always', and p > 0).
bool DropoutActive(const DropoutParams& p, bool is_train);

void DropoutForward(const DropoutParams& p, const OpContext& ctx, const TensorView& x,
                    const TensorView& y, OpReq req, const TensorView& mask);
/// dx = dy * mask when the forward dropped, dy otherwise.
void DropoutBackward(const DropoutParams& p, bool is_train, const TensorView& dy,
                     const TensorView& mask, const TensorView& dx, OpReq req);

}  // namespace loom::cpu
