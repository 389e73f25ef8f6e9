// Naive FullyConnected in float64, the reference the tests hold the fast kernel to.
#pragma once

#include <cstdint>

#include "loom/core/shape.h"
#include "operators/cpu/fully_connected.h"

namespace loom::cpu::reference {

/// Rows and input features of FullyConnected's data (see FullyConnectedParams).
inline void FullyConnectedDims(const FullyConnectedParams& p, const Shape& data, int64_t* rows,
                               int64_t* k) {
  if (p.flatten) {
    *rows = data[0];
    *k = data.Size(1, data.ndim());
  } else {
    *k = data[data.ndim() - 1];
    *rows = data.Size() / *k;
  }
}

/// y[r][j] = sum_i x[r][i] * w[j][i] + b[j].
inline void FullyConnectedForward(const FullyConnectedParams& p, const Shape& data, const double* x,
                                  const double* w, const double* b, double* y) {
  int64_t rows, k;
  FullyConnectedDims(p, data, &rows, &k);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < p.num_hidden; ++j) {
      double s = p.no_bias ? 0.0 : b[j];
      for (int64_t i = 0; i < k; ++i) s += x[r * k + i] * w[j * k + i];
      y[r * p.num_hidden + j] = s;
    }
  }
}

/// Overwrites dx, dw and db (db ignored when no_bias).
inline void FullyConnectedBackward(const FullyConnectedParams& p, const Shape& data,
                                   const double* dy, const double* x, const double* w, double* dx,
                                   double* dw, double* db) {
  int64_t rows, k;
  FullyConnectedDims(p, data, &rows, &k);
  const int64_t h = p.num_hidden;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < k; ++i) {
      double s = 0;
      for (int64_t j = 0; j < h; ++j) s += dy[r * h + j] * w[j * k + i];
      dx[r * k + i] = s;
    }
  }
  for (int64_t j = 0; j < h; ++j) {
    for (int64_t i = 0; i < k; ++i) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r) s += dy[r * h + j] * x[r * k + i];
      dw[j * k + i] = s;
    }
    if (!p.no_bias) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r) s += dy[r * h + j];
      db[j] = s;
    }
  }
}

}  // namespace loom::cpu::reference
