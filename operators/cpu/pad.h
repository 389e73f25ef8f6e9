// Pad CPU kernel: pads every axis of an N-D array by (before, after) widths with a constant, the
// edge values or a reflection (NumPy's 'constant', 'edge' and 'reflect'), and its gradient.
//
//   PadParams p{.mode = PadMode::kReflect, .width = {0, 0, 0, 0, 1, 1, 2, 2}};
//   PadForward(p, x, y, OpReq::kWriteTo);      // x (N, C, H, W) -> y (N, C, H+2, W+4)
//   PadBackward(p, dy, dx, OpReq::kWriteTo);   // every output's gradient back to its source
//
// float16 (in float32), float32 and float64. Thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "loom/core/kernel.h"

namespace loom::cpu {

enum class PadMode : uint8_t { kConstant, kEdge, kReflect };

struct PadParams {
  PadMode mode = PadMode::kConstant;
  /// (before, after) per axis, 2 * ndim values.
  std::vector<int64_t> width;
  double constant_value = 0;
};

/// The source index along an axis of `len` elements for padded position `i` (in [-before,
/// len + after)), or -1 for a constant fill. Reflect needs before, after < len.
int64_t PadSource(PadMode mode, int64_t i, int64_t len);

void PadForward(const PadParams& p, const TensorView& x, const TensorView& y, OpReq req);
/// dx[j] = the sum of dy over the outputs whose source is j.
void PadBackward(const PadParams& p, const TensorView& dy, const TensorView& dx, OpReq req);

}  // namespace loom::cpu
