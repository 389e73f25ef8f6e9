// LRN (local response normalisation across channels) CPU kernels, MXNet's formula:
//   norm[n, c, ...] = knorm + alpha / nsize * sum over c' in [c - nsize/2, c + nsize/2] of x[n, c',
//   ...]^2 out = x * norm^-beta
//
//   LRNParams p{.nsize = 5};
//   LRNForward(p, x, y, OpReq::kWriteTo, norm);       // norm: MXNet's hidden tmp_norm output
//   LRNBackward(p, dy, x, norm, dx, OpReq::kWriteTo);
//
// data (N, C, ...); float32 and float64. Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"

namespace loom::cpu {

struct LRNParams {
  double alpha = 1e-4;
  double beta = 0.75;
  double knorm = 2;
  int64_t nsize = 0;
};

void LRNForward(const LRNParams& p, const TensorView& x, const TensorView& y, OpReq req,
                const TensorView& norm);
void LRNBackward(const LRNParams& p, const TensorView& dy, const TensorView& x,
                 const TensorView& norm, const TensorView& dx, OpReq req);

}  // namespace loom::cpu
