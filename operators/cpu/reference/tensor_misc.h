// Naive float64 references for Pad and the NaN-skipping reductions (tests only): one element at
// a time from coordinates, with the padding rules written out per mode.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/pad.h"
#include "operators/cpu/reduce.h"
#include "operators/cpu/reference/elementwise.h"
#include "operators/cpu/reference/misc.h"

namespace loom::cpu::reference {

/// Pad of x (shape xs) with (before, after) widths per axis.
inline std::vector<double> Pad(PadMode mode, const std::vector<int64_t>& width, double value,
                               const std::vector<double>& x, const Shape& xs) {
  std::vector<int64_t> yd;
  for (int d = 0; d < xs.ndim(); ++d) yd.push_back(xs[d] + width[2 * d] + width[2 * d + 1]);
  const Shape ys(yd);
  std::vector<double> y(static_cast<size_t>(ys.Size()));
  for (int64_t i = 0; i < ys.Size(); ++i) {
    std::vector<int64_t> c = Coords(ys, i);
    bool outside = false;
    for (int d = 0; d < xs.ndim(); ++d) {
      int64_t k = c[d] - width[2 * d];
      const int64_t n = xs[d];
      if (k < 0 || k >= n) {
        if (mode == PadMode::kConstant) {
          outside = true;
        } else if (mode == PadMode::kEdge) {
          k = k < 0 ? 0 : n - 1;
        } else {
          // Mirror around the first and last elements, which are not repeated.
          while (k < 0 || k >= n) k = k < 0 ? -k : 2 * (n - 1) - k;
        }
      }
      c[d] = k;
    }
    y[i] = outside ? value : x[Flat(xs, c)];
  }
  return y;
}

/// nansum / nanprod of x over the sorted `axes`, in keepdims order.
inline std::vector<double> NanReduce(bool prod, const Shape& xs, const std::vector<int>& axes,
                                     std::vector<double> x) {
  for (double& v : x) {
    if (std::isnan(v)) v = prod ? 1.0 : 0.0;
  }
  Shape kept = xs;
  for (int a : axes) kept[a] = 1;
  std::vector<double> y(static_cast<size_t>(kept.Size()));
  Reduce(prod ? ReduceOp::kProd : ReduceOp::kSum, xs, axes, x.data(), y.data());
  return y;
}

}  // namespace loom::cpu::reference
