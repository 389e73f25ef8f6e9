// Naive Pooling in float64, straight from the definition: every output position visits its
// window in padded coordinates and skips the positions outside the input.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/pooling.h"

namespace loom::cpu::reference {

namespace detail {

// Calls f(out_flat, in_flats, divisor) for each output position of each plane, in_flats being
// the in-input positions of its window in row-major order.
template <typename F>
void ForEachWindow(const PoolingParams& p, const Shape& xs, const Shape& ys, F&& f) {
  const int nsp = xs.ndim() - 2;
  std::vector<int64_t> in(3, 1), out(3, 1), k(3, 1), s(3, 1), pad(3, 0);
  for (int i = 0; i < nsp; ++i) {
    const int a = 3 - nsp + i;
    in[a] = xs[2 + i];
    out[a] = ys[2 + i];
    k[a] = p.global_pool ? xs[2 + i] : p.kernel[i];
    s[a] = p.global_pool || p.stride.empty() ? 1 : p.stride[i];
    pad[a] = p.global_pool || p.pad.empty() ? 0 : p.pad[i];
  }
  const int64_t planes = xs[0] * xs[1], in_size = in[0] * in[1] * in[2],
                out_size = out[0] * out[1] * out[2];
  for (int64_t plane = 0; plane < planes; ++plane)
    for (int64_t o0 = 0; o0 < out[0]; ++o0)
      for (int64_t o1 = 0; o1 < out[1]; ++o1)
        for (int64_t o2 = 0; o2 < out[2]; ++o2) {
          std::vector<int64_t> taps;
          int64_t in_padded = 0;
          const int64_t o[3] = {o0, o1, o2};
          for (int64_t k0 = 0; k0 < k[0]; ++k0)
            for (int64_t k1 = 0; k1 < k[1]; ++k1)
              for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                const int64_t kk[3] = {k0, k1, k2};
                int64_t i[3];
                bool inside = true, inside_padded = true;
                for (int a = 0; a < 3; ++a) {
                  i[a] = o[a] * s[a] - pad[a] + kk[a];
                  inside = inside && i[a] >= 0 && i[a] < in[a];
                  inside_padded = inside_padded && i[a] < in[a] + pad[a];
                }
                if (inside_padded) ++in_padded;
                if (inside) taps.push_back(plane * in_size + (i[0] * in[1] + i[1]) * in[2] + i[2]);
              }
          const int64_t divisor =
              p.count_include_pad ? in_padded : static_cast<int64_t>(taps.size());
          f(plane * out_size + (o0 * out[1] + o1) * out[2] + o2, taps, divisor);
        }
}

}  // namespace detail

/// y overwritten.
inline void PoolingForward(const PoolingParams& p, const Shape& xs, const Shape& ys,
                           const double* x, double* y) {
  detail::ForEachWindow(p, xs, ys, [&](int64_t out, const std::vector<int64_t>& taps, int64_t div) {
    if (p.type == PoolType::kMax) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t t : taps) m = std::max(m, x[t]);
      y[out] = m;
    } else {
      double sum = 0;
      for (int64_t t : taps) sum += x[t];
      y[out] = p.type == PoolType::kAvg ? (div > 0 ? sum / static_cast<double>(div) : 0.0) : sum;
    }
  });
}

/// dx overwritten; max routes each output's gradient to the first maximum of its window.
inline void PoolingBackward(const PoolingParams& p, const Shape& xs, const Shape& ys,
                            const double* dy, const double* x, double* dx) {
  std::fill(dx, dx + xs.Size(), 0.0);
  detail::ForEachWindow(p, xs, ys, [&](int64_t out, const std::vector<int64_t>& taps, int64_t div) {
    if (p.type == PoolType::kMax) {
      int64_t best = -1;
      for (int64_t t : taps) {
        if (best < 0 || x[t] > x[best]) best = t;
      }
      if (best >= 0) dx[best] += dy[out];
    } else {
      const double g =
          p.type == PoolType::kAvg ? (div > 0 ? dy[out] / static_cast<double>(div) : 0.0) : dy[out];
      for (int64_t t : taps) dx[t] += g;
    }
  });
}

}  // namespace loom::cpu::reference
