// Naive float64 references for dot, the data-movement ops, Embedding and LRN: index arithmetic
// from coordinates, one element at a time.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/layout.h"
#include "operators/cpu/lrn.h"

namespace loom::cpu::reference {

/// C (m x n) = op(A) op(B), A given as (m x k) or, transposed, (k x m); B as (k x n) or (n x k).
inline std::vector<double> MatMul(const std::vector<double>& a, const std::vector<double>& b,
                                  int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  std::vector<double> c(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < k; ++l) {
        const double av = ta ? a[l * m + i] : a[i * k + l];
        const double bv = tb ? b[j * k + l] : b[l * n + j];
        c[i * n + j] += av * bv;
      }
  return c;
}

/// Coordinates of flat index i in shape s.
inline std::vector<int64_t> Coords(const Shape& s, int64_t i) {
  std::vector<int64_t> c(s.ndim());
  for (int d = s.ndim() - 1; d >= 0; --d) {
    c[d] = i % s[d];
    i /= s[d];
  }
  return c;
}

inline int64_t Flat(const Shape& s, const std::vector<int64_t>& c) {
  int64_t i = 0;
  for (int d = 0; d < s.ndim(); ++d) i = i * s[d] + c[d];
  return i;
}

/// y[c] = x[c permuted]: y coordinate i along axis d is x's coordinate along perm[d].
inline std::vector<double> Transpose(const std::vector<double>& x, const Shape& xs,
                                     const std::vector<int>& perm) {
  std::vector<int64_t> yd;
  for (int a : perm) yd.push_back(xs[a]);
  const Shape ys(yd);
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < ys.Size(); ++i) {
    const auto yc = Coords(ys, i);
    std::vector<int64_t> xc(xs.ndim());
    for (size_t d = 0; d < perm.size(); ++d) xc[perm[d]] = yc[d];
    y[i] = x[Flat(xs, xc)];
  }
  return y;
}

/// x sliced by s.
inline std::vector<double> Slice(const std::vector<double>& x, const Shape& xs,
                                 const SliceSpec& s) {
  const Shape ys = s.OutShape();
  std::vector<double> y(ys.Size());
  for (int64_t i = 0; i < ys.Size(); ++i) {
    auto c = Coords(ys, i);
    for (int d = 0; d < xs.ndim(); ++d) c[d] = s.begin[d] + c[d] * s.step[d];
    y[i] = x[Flat(xs, c)];
  }
  return y;
}

/// LRN forward (y) from MXNet's formula.
inline std::vector<double> Lrn(const LRNParams& p, const std::vector<double>& x, const Shape& s) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < s.Size(); ++i) {
    auto c = Coords(s, i);
    double sum = 0;
    const int64_t ch = c[1];
    for (int64_t k = ch - p.nsize / 2; k <= ch + p.nsize / 2; ++k) {
      if (k < 0 || k >= s[1]) continue;
      c[1] = k;
      sum += x[Flat(s, c)] * x[Flat(s, c)];
    }
    y[i] = x[i] * std::pow(p.knorm + p.alpha / p.nsize * sum, -p.beta);
  }
  return y;
}

}  // namespace loom::cpu::reference
