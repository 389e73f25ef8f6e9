// Naive Convolution and Deconvolution in float64 (channel-first layouts), the references the
// tests hold the fast kernels to. Written straight from the definitions, one output or one
// input element at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/convolution.h"

namespace loom::cpu::reference {

/// The spatial axes of a convolution from src to dst, padded to three (leading neutral axes).
struct ConvAxes {
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1},
          d[3] = {1, 1, 1}, p[3] = {0, 0, 0};
  ConvAxes(const ConvolutionParams& prm, const Shape& src, const Shape& dst) {
    const int nsp = static_cast<int>(prm.kernel.size());
    for (int i = 0; i < nsp; ++i) {
      const int a = 3 - nsp + i;
      in[a] = src[2 + i];
      out[a] = dst[2 + i];
      k[a] = prm.kernel[i];
      s[a] = prm.stride.empty() ? 1 : prm.stride[i];
      d[a] = prm.dilate.empty() ? 1 : prm.dilate[i];
      p[a] = prm.pad.empty() ? 0 : prm.pad[i];
    }
  }
  int64_t InSize() const { return in[0] * in[1] * in[2]; }
  int64_t OutSize() const { return out[0] * out[1] * out[2]; }
  int64_t KSize() const { return k[0] * k[1] * k[2]; }
  /// Calls f(in_index, out_index, kernel_index) for every (output position, kernel tap) whose
  /// input position lies inside the input (indices are flat over the three axes).
  template <typename F>
  void ForEachTap(F&& f) const {
    for (int64_t o0 = 0; o0 < out[0]; ++o0)
      for (int64_t o1 = 0; o1 < out[1]; ++o1)
        for (int64_t o2 = 0; o2 < out[2]; ++o2)
          for (int64_t k0 = 0; k0 < k[0]; ++k0)
            for (int64_t k1 = 0; k1 < k[1]; ++k1)
              for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                const int64_t i0 = o0 * s[0] - p[0] + k0 * d[0];
                const int64_t i1 = o1 * s[1] - p[1] + k1 * d[1];
                const int64_t i2 = o2 * s[2] - p[2] + k2 * d[2];
                if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) {
                  continue;
                }
                f((i0 * in[1] + i1) * in[2] + i2, (o0 * out[1] + o1) * out[2] + o2,
                  (k0 * k[1] + k1) * k[2] + k2);
              }
  }
};

/// Convolution: x (N, C, *in), w (O, C/G, *k), b (O) or null, y (N, O, *out) overwritten.
inline void ConvolutionForward(const ConvolutionParams& prm, const Shape& xs, const Shape& ys,
                               const double* x, const double* w, const double* b, double* y) {
  const ConvAxes a(prm, xs, ys);
  const int64_t n = xs[0], c = xs[1], o = ys[1], g = prm.num_group, cg = c / g, og = o / g;
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t oc = 0; oc < o; ++oc) {
      double* yp = y + (bi * o + oc) * a.OutSize();
      for (int64_t i = 0; i < a.OutSize(); ++i) yp[i] = b ? b[oc] : 0.0;
      const int64_t grp = oc / og;
      for (int64_t ci = 0; ci < cg; ++ci) {
        const double* xp = x + (bi * c + grp * cg + ci) * a.InSize();
        const double* wp = w + (oc * cg + ci) * a.KSize();
        a.ForEachTap([&](int64_t in, int64_t out, int64_t k) { yp[out] += xp[in] * wp[k]; });
      }
    }
}

/// Gradients of ConvolutionForward, overwritten (db ignored when null).
inline void ConvolutionBackward(const ConvolutionParams& prm, const Shape& xs, const Shape& ys,
                                const double* dy, const double* x, const double* w, double* dx,
                                double* dw, double* db) {
  const ConvAxes a(prm, xs, ys);
  const int64_t n = xs[0], c = xs[1], o = ys[1], g = prm.num_group, cg = c / g, og = o / g;
  std::fill(dx, dx + xs.Size(), 0.0);
  std::fill(dw, dw + o * cg * a.KSize(), 0.0);
  if (db) std::fill(db, db + o, 0.0);
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t oc = 0; oc < o; ++oc) {
      const double* dyp = dy + (bi * o + oc) * a.OutSize();
      if (db)
        for (int64_t i = 0; i < a.OutSize(); ++i) db[oc] += dyp[i];
      const int64_t grp = oc / og;
      for (int64_t ci = 0; ci < cg; ++ci) {
        const int64_t xoff = (bi * c + grp * cg + ci) * a.InSize();
        const int64_t woff = (oc * cg + ci) * a.KSize();
        a.ForEachTap([&](int64_t in, int64_t out, int64_t k) {
          dx[xoff + in] += dyp[out] * w[woff + k];
          dw[woff + k] += dyp[out] * x[xoff + in];
        });
      }
    }
}

/// Deconvolution: x (N, C, *in), w (C, O/G, *k), b (O) or null, y (N, O, *out) overwritten;
/// every x element spreads x * w over the output positions its taps reach.
inline void DeconvolutionForward(const ConvolutionParams& prm, const Shape& xs, const Shape& ys,
                                 const double* x, const double* w, const double* b, double* y) {
  const ConvAxes t(prm, ys, xs);  // the convolution from y to x
  const int64_t n = xs[0], c = xs[1], o = ys[1], g = prm.num_group, cg = c / g, og = o / g;
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t oc = 0; oc < o; ++oc) {
      double* yp = y + (bi * o + oc) * t.InSize();
      for (int64_t i = 0; i < t.InSize(); ++i) yp[i] = b ? b[oc] : 0.0;
    }
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t ci = 0; ci < c; ++ci) {
      const int64_t grp = ci / cg;
      const double* xp = x + (bi * c + ci) * t.OutSize();
      for (int64_t oo = 0; oo < og; ++oo) {
        double* yp = y + (bi * o + grp * og + oo) * t.InSize();
        const double* wp = w + (ci * og + oo) * t.KSize();
        t.ForEachTap([&](int64_t yi, int64_t xi, int64_t k) { yp[yi] += xp[xi] * wp[k]; });
      }
    }
}

/// Gradients of DeconvolutionForward, overwritten (db ignored when null).
inline void DeconvolutionBackward(const ConvolutionParams& prm, const Shape& xs, const Shape& ys,
                                  const double* dy, const double* x, const double* w, double* dx,
                                  double* dw, double* db) {
  const ConvAxes t(prm, ys, xs);
  const int64_t n = xs[0], c = xs[1], o = ys[1], g = prm.num_group, cg = c / g, og = o / g;
  std::fill(dx, dx + xs.Size(), 0.0);
  std::fill(dw, dw + c * og * t.KSize(), 0.0);
  if (db) {
    std::fill(db, db + o, 0.0);
    for (int64_t bi = 0; bi < n; ++bi)
      for (int64_t oc = 0; oc < o; ++oc)
        for (int64_t i = 0; i < t.InSize(); ++i) db[oc] += dy[(bi * o + oc) * t.InSize() + i];
  }
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t ci = 0; ci < c; ++ci) {
      const int64_t grp = ci / cg;
      const int64_t xoff = (bi * c + ci) * t.OutSize();
      for (int64_t oo = 0; oo < og; ++oo) {
        const double* dyp = dy + (bi * o + grp * og + oo) * t.InSize();
        const int64_t woff = (ci * og + oo) * t.KSize();
        t.ForEachTap([&](int64_t yi, int64_t xi, int64_t k) {
          dx[xoff + xi] += dyp[yi] * w[woff + k];
          dw[woff + k] += dyp[yi] * x[xoff + xi];
        });
      }
    }
}

}  // namespace loom::cpu::reference
