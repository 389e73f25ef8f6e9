// Naive BatchNorm in float64: statistics by definition, and the textbook gradient (through the
// variance and the mean) for batch statistics.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/batch_norm.h"

namespace loom::cpu::reference {

struct BatchNormLayout {
  int64_t outer = 1, c = 1, inner = 1;
  BatchNormLayout(const Shape& s, int axis) {
    if (axis < 0) axis += s.ndim();
    for (int d = 0; d < axis; ++d) outer *= s[d];
    c = s[axis];
    for (int d = axis + 1; d < s.ndim(); ++d) inner *= s[d];
  }
  int64_t At(int64_t o, int64_t ch, int64_t i) const { return (o * c + ch) * inner + i; }
  int64_t Count() const { return outer * inner; }
};

/// Forward: y, the statistics used (mean, var) and the updated moving statistics.
inline void BatchNormForward(const BatchNormParams& p, bool is_train, const Shape& s,
                             const double* x, const double* gamma, const double* beta,
                             double* moving_mean, double* moving_var, double* y, double* mean,
                             double* var) {
  const BatchNormLayout l(s, p.axis);
  for (int64_t c = 0; c < l.c; ++c) {
    double m = moving_mean[c], v = moving_var[c];
    if (is_train && !p.use_global_stats) {
      m = 0;
      for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) m += x[l.At(o, c, i)];
      m /= static_cast<double>(l.Count());
      v = 0;
      for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) v += std::pow(x[l.At(o, c, i)] - m, 2);
      v /= static_cast<double>(l.Count());
      moving_mean[c] = p.momentum * moving_mean[c] + (1 - p.momentum) * m;
      moving_var[c] = p.momentum * moving_var[c] + (1 - p.momentum) * v;
    }
    mean[c] = m;
    var[c] = v;
    const double g = p.fix_gamma ? 1.0 : gamma[c];
    for (int64_t o = 0; o < l.outer; ++o)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t at = l.At(o, c, i);
        y[at] = g * (x[at] - m) / std::sqrt(v + p.eps) + beta[c];
      }
  }
}

/// Backward, overwriting dx, dgamma, dbeta.
inline void BatchNormBackward(const BatchNormParams& p, bool is_train, const Shape& s,
                              const double* dy, const double* x, const double* gamma,
                              const double* mean, const double* var, double* dx, double* dgamma,
                              double* dbeta) {
  const BatchNormLayout l(s, p.axis);
  const double n = static_cast<double>(l.Count());
  for (int64_t c = 0; c < l.c; ++c) {
    const double g = p.fix_gamma ? 1.0 : gamma[c];
    const double istd = 1 / std::sqrt(var[c] + p.eps);
    double dvar = 0, dmean = 0, sum_dy = 0, sum_dy_xhat = 0, sum_centered = 0;
    for (int64_t o = 0; o < l.outer; ++o)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t at = l.At(o, c, i);
        const double dxhat = dy[at] * g;
        dvar += dxhat * (x[at] - mean[c]) * -0.5 * std::pow(var[c] + p.eps, -1.5);
        dmean += -dxhat * istd;
        sum_centered += x[at] - mean[c];
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * (x[at] - mean[c]) * istd;
      }
    dmean += dvar * -2 * sum_centered / n;
    const bool batch = is_train && !p.use_global_stats;
    for (int64_t o = 0; o < l.outer; ++o)
      for (int64_t i = 0; i < l.inner; ++i) {
        const int64_t at = l.At(o, c, i);
        dx[at] = dy[at] * g * istd;
        if (batch) dx[at] += dvar * 2 * (x[at] - mean[c]) / n + dmean / n;
      }
    dgamma[c] = p.fix_gamma ? 0.0 : sum_dy_xhat;
    dbeta[c] = sum_dy;
  }
}

}  // namespace loom::cpu::reference
