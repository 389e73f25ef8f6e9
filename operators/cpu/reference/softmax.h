// Naive softmax / log_softmax and SoftmaxOutput's gradient in float64, from the definitions.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/softmax.h"

namespace loom::cpu::reference {

/// softmax (or log_softmax) of x / t along axis (already normalised to [0, ndim)).
inline void Softmax(const Shape& s, int axis, double t, bool log, const double* x, double* y) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (int d = axis + 1; d < s.ndim(); ++d) inner *= s[d];
  const int64_t n = s[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return (o * n + k) * inner + i; };
      double m = x[at(0)];
      for (int64_t k = 1; k < n; ++k) m = std::max(m, x[at(k)]);
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp((x[at(k)] - m) / t);
      for (int64_t k = 0; k < n; ++k) {
        const double z = (x[at(k)] - m) / t;
        y[at(k)] = log ? z - std::log(sum) : std::exp(z) / sum;
      }
    }
}

/// SoftmaxOutput's gradient for probabilities p laid out as (outer, K, inner) with one label per
/// (outer, inner) position (or soft labels of p's size), following the parameter docs.
inline std::vector<double> SoftmaxOutputGrad(const SoftmaxOutputParams& prm, int64_t outer,
                                             int64_t k, int64_t inner, int64_t batch,
                                             const std::vector<double>& p,
                                             const std::vector<double>& label,
                                             const std::vector<double>& head) {
  const bool soft = label.size() == p.size() && static_cast<int64_t>(p.size()) != outer * inner;
  std::vector<double> g(p.size(), 0.0);
  int64_t valid = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t pos = o * inner + i;
      if (!soft && prm.use_ignore && label[pos] == prm.ignore_label) continue;
      ++valid;
      for (int64_t c = 0; c < k; ++c) {
        const int64_t at = (o * k + c) * inner + i;
        double target;
        if (soft) {
          target = label[at];
        } else {
          target = c == static_cast<int64_t>(label[pos]) ? 1 - prm.smooth_alpha
                                                         : prm.smooth_alpha / (k - 1);
        }
        g[at] = p[at] - target;
        if (prm.out_grad) g[at] *= head[at];
      }
    }
  double norm = 1;
  if (prm.normalization == SoftmaxNormalization::kBatch) norm = static_cast<double>(batch);
  if (prm.normalization == SoftmaxNormalization::kValid) norm = std::max<double>(valid, 1);
  for (double& v : g) v *= prm.grad_scale / norm;
  return g;
}

}  // namespace loom::cpu::reference
