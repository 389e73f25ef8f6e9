// Naive float64 reference for pick: coordinates of every output position, the index resolved by
// mode, the element read from data.
#pragma once

#include <cstdint>
#include <vector>

#include "loom/core/shape.h"
#include "operators/cpu/pick.h"

namespace loom::cpu::reference {

/// out[c without axis] = data[c with axis = resolve(index[...])].
inline std::vector<double> Pick(const Shape& data_shape, const std::vector<double>& data,
                                const std::vector<double>& index, int axis, PickMode mode) {
  const int ndim = data_shape.ndim();
  if (axis < 0) axis += ndim;
  Shape out_shape;
  for (int d = 0; d < ndim; ++d) {
    if (d != axis) out_shape.push_back(data_shape[d]);
  }
  const int64_t n = data_shape[axis];
  std::vector<double> out(static_cast<size_t>(out_shape.Size()));
  for (int64_t p = 0; p < out_shape.Size(); ++p) {
    std::vector<int64_t> c(ndim);
    int64_t rest = p;
    for (int d = ndim - 1; d >= 0; --d) {
      if (d == axis) continue;
      c[d] = rest % data_shape[d];
      rest /= data_shape[d];
    }
    auto j = static_cast<int64_t>(index[p]);
    if (mode == PickMode::kWrap) {
      j = ((j % n) + n) % n;
    } else {
      j = j < 0 ? 0 : (j >= n ? n - 1 : j);
    }
    c[axis] = j;
    int64_t flat = 0;
    for (int d = 0; d < ndim; ++d) flat = flat * data_shape[d] + c[d];
    out[p] = data[flat];
  }
  return out;
}

}  // namespace loom::cpu::reference
