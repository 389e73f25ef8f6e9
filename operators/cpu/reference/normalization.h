// Naive float64 references for L2Normalization and InstanceNorm, by their definitions (the
// gradients are checked against finite differences, not against a reference).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/normalization.h"

namespace loom::cpu::reference {

/// y and the divisors norm (one per group: (N,), (N, 1, ...) or (N, C) by mode).
inline void L2Normalization(L2NormMode mode, double eps, const Shape& s,
                            const std::vector<double>& x, std::vector<double>* y,
                            std::vector<double>* norm) {
  const int64_t n = s[0];
  const int64_t c = s.ndim() > 1 ? s[1] : 1;
  const int64_t rest = s.ndim() > 2 ? s.Size(2, s.ndim()) : 1;
  // group(i): which divisor element i uses.
  auto group = [&](int64_t i) -> int64_t {
    const int64_t b = i / (c * rest), ch = (i / rest) % c, pos = i % rest;
    switch (mode) {
      case L2NormMode::kInstance:
        return b;
      case L2NormMode::kChannel:
        return b * rest + pos;
      default:
        return b * c + ch;
    }
  };
  const int64_t groups =
      mode == L2NormMode::kInstance ? n : (mode == L2NormMode::kChannel ? n * rest : n * c);
  norm->assign(groups, 0.0);
  for (int64_t i = 0; i < s.Size(); ++i) (*norm)[group(i)] += x[i] * x[i];
  for (double& v : *norm) v = std::sqrt(v + eps);
  y->resize(x.size());
  for (int64_t i = 0; i < s.Size(); ++i) (*y)[i] = x[i] / (*norm)[group(i)];
}

/// y, and the per-(n, c) mean and biased variance.
inline void InstanceNorm(double eps, const Shape& s, const std::vector<double>& x,
                         const std::vector<double>& gamma, const std::vector<double>& beta,
                         std::vector<double>* y, std::vector<double>* mean,
                         std::vector<double>* var) {
  const int64_t n = s[0], c = s[1], m = s.Size(2, s.ndim());
  mean->assign(n * c, 0.0);
  var->assign(n * c, 0.0);
  y->resize(x.size());
  for (int64_t g = 0; g < n * c; ++g) {
    for (int64_t i = 0; i < m; ++i) (*mean)[g] += x[g * m + i] / static_cast<double>(m);
    for (int64_t i = 0; i < m; ++i) {
      const double d = x[g * m + i] - (*mean)[g];
      (*var)[g] += d * d / static_cast<double>(m);
    }
    for (int64_t i = 0; i < m; ++i) {
      (*y)[g * m + i] =
          gamma[g % c] * (x[g * m + i] - (*mean)[g]) / std::sqrt((*var)[g] + eps) + beta[g % c];
    }
  }
}

}  // namespace loom::cpu::reference
