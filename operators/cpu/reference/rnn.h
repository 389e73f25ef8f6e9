// Naive fused RNN forward in float64, written from the documented parameter layout and cell
// equations, one time step, sample and unit at a time (no GEMMs, no reserve buffer).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "operators/cpu/rnn.h"

namespace loom::cpu::reference {

/// y (T, N, D*H), hy and cy (L*D, N, H; cy only for LSTM) from x (T, N, I), the flat parameters,
/// hx and cx. No dropout.
inline void RnnForward(const RnnParams& p, int64_t T, int64_t N, int64_t I, const double* x,
                       const double* params, const double* hx, const double* cx, double* y,
                       double* hy, double* cy) {
  const int64_t H = p.state_size, L = p.num_layers, D = p.bidirectional ? 2 : 1;
  const int64_t G = RnnGates(p.mode);
  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  // Walk the layout: all weights (layer, direction: i2h then h2h), then all biases.
  std::vector<const double*> wi(L * D), wh(L * D), bi(L * D), bh(L * D);
  const double* at = params;
  for (int64_t l = 0; l < L; ++l)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t in = l == 0 ? I : D * H;
      wi[l * D + d] = at;
      at += G * H * in;
      wh[l * D + d] = at;
      at += G * H * H;
    }
  for (int64_t l = 0; l < L; ++l)
    for (int64_t d = 0; d < D; ++d) {
      bi[l * D + d] = at;
      at += G * H;
      bh[l * D + d] = at;
      at += G * H;
    }
  std::vector<double> input(x, x + T * N * I);
  int64_t in = I;
  for (int64_t l = 0; l < L; ++l) {
    std::vector<double> output(T * N * D * H);
    for (int64_t d = 0; d < D; ++d) {
      const int64_t k = l * D + d;
      std::vector<double> h(hx + k * N * H, hx + (k + 1) * N * H), c(N * H, 0.0);
      if (p.mode == RnnMode::kLstm) c.assign(cx + k * N * H, cx + (k + 1) * N * H);
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = d == 0 ? s : T - 1 - s;
        std::vector<double> h_new(N * H), c_new(N * H);
        for (int64_t n = 0; n < N; ++n) {
          // ai[gate*H + j] = W_i x + b_i, ah[gate*H + j] = W_h h + b_h
          std::vector<double> ai(G * H), ah(G * H);
          for (int64_t r = 0; r < G * H; ++r) {
            ai[r] = bi[k][r];
            for (int64_t q = 0; q < in; ++q)
              ai[r] += wi[k][r * in + q] * input[(t * N + n) * in + q];
            ah[r] = bh[k][r];
            for (int64_t q = 0; q < H; ++q) ah[r] += wh[k][r * H + q] * h[n * H + q];
          }
          for (int64_t j = 0; j < H; ++j) {
            double hv;
            if (p.mode == RnnMode::kLstm) {
              const double ig = sigmoid(ai[j] + ah[j]), fg = sigmoid(ai[H + j] + ah[H + j]);
              const double gg = std::tanh(ai[2 * H + j] + ah[2 * H + j]);
              const double og = sigmoid(ai[3 * H + j] + ah[3 * H + j]);
              c_new[n * H + j] = fg * c[n * H + j] + ig * gg;
              hv = og * std::tanh(c_new[n * H + j]);
            } else if (p.mode == RnnMode::kGru) {
              const double r = sigmoid(ai[j] + ah[j]), z = sigmoid(ai[H + j] + ah[H + j]);
              const double nv = std::tanh(ai[2 * H + j] + r * ah[2 * H + j]);
              hv = (1 - z) * nv + z * h[n * H + j];
            } else {
              const double a = ai[j] + ah[j];
              hv = p.mode == RnnMode::kRnnTanh ? std::tanh(a) : std::max(a, 0.0);
            }
            h_new[n * H + j] = hv;
            output[(t * N + n) * D * H + d * H + j] = hv;
          }
        }
        h = h_new;
        if (p.mode == RnnMode::kLstm) c = c_new;
      }
      std::copy(h.begin(), h.end(), hy + k * N * H);
      if (p.mode == RnnMode::kLstm) std::copy(c.begin(), c.end(), cy + k * N * H);
    }
    input = output;
    in = D * H;
  }
  std::copy(input.begin(), input.end(), y);
}

}  // namespace loom::cpu::reference
