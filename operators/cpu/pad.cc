#include "operators/cpu/pad.h"

#include <algorithm>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr int64_t kGrain = int64_t{1} << 14;

void CheckPad(const PadParams& p, const Shape& x, const Shape& y) {
  LOOM_CHECK(static_cast<int>(p.width.size()) == 2 * x.ndim(), "Pad: expected ", 2 * x.ndim(),
             " pad widths for data ", x.ToString(), " but got ", p.width.size());
  LOOM_CHECK_TYPED(ShapeError, y.ndim() == x.ndim(), "Pad: expected an output of ", x.ndim(),
                   " dimensions but got ", y.ToString());
  for (int d = 0; d < x.ndim(); ++d) {
    const int64_t before = p.width[2 * d], after = p.width[2 * d + 1];
    LOOM_CHECK_TYPED(ShapeError, y[d] == x[d] + before + after, "Pad: expected output shape ",
                     "with ", x[d] + before + after, " along axis ", d, " but got ", y.ToString());
    LOOM_CHECK(p.mode != PadMode::kReflect || (before < x[d] && after < x[d]),
               "Pad: mode 'reflect' needs widths smaller than the axis but got (", before, ", ",
               after, ") for axis ", d, " of ", x.ToString());
    LOOM_CHECK(p.mode == PadMode::kConstant || x[d] > 0, "Pad: cannot pad an empty axis");
  }
}

// Calls f(out_row, in_row or -1, source indices of the last axis) for each row of y: the rows
// enumerate every axis but the last; `cols[j]` is the source column of output column j (-1:
// constant).
template <typename F>
void ForRows(const PadParams& p, const Shape& x, const Shape& y, int64_t r0, int64_t r1,
             const std::vector<int64_t>& cols, F&& f) {
  const int n = x.ndim();
  std::vector<int64_t> coord(n > 0 ? n - 1 : 0);
  for (int64_t r = r0; r < r1; ++r) {
    int64_t rest = r;
    for (int d = n - 2; d >= 0; --d) {
      coord[d] = rest % y[d];
      rest /= y[d];
    }
    int64_t in_row = 0;
    for (int d = 0; d < n - 1; ++d) {
      const int64_t s = PadSource(p.mode, coord[d] - p.width[2 * d], x[d]);
      if (s < 0) {
        in_row = -1;
        break;
      }
      in_row = in_row * x[d] + s;
    }
    f(r, in_row, cols);
  }
}

std::vector<int64_t> ColumnSources(const PadParams& p, const Shape& x, const Shape& y) {
  const int n = x.ndim();
  std::vector<int64_t> cols(static_cast<size_t>(y[n - 1]));
  for (int64_t j = 0; j < y[n - 1]; ++j) {
    cols[j] = PadSource(p.mode, j - p.width[2 * (n - 1)], x[n - 1]);
  }
  return cols;
}

}  // namespace

int64_t PadSource(PadMode mode, int64_t i, int64_t len) {
  if (i >= 0 && i < len) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return std::clamp<int64_t>(i, 0, len - 1);
    case PadMode::kReflect:
      if (len == 1) return 0;
      return i < 0 ? -i : 2 * (len - 1) - i;
  }
  return -1;
}

void PadForward(const PadParams& p, const TensorView& x, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckPad(p, x.shape, y.shape);
  CheckSameDType(x, y, "Pad", "data", "out");
  if (y.size() == 0) return;
  const int n = x.shape.ndim();
  const int64_t row_len = y.shape[n - 1], in_len = x.shape[n - 1];
  const int64_t rows = y.size() / row_len;
  const std::vector<int64_t> cols = ColumnSources(p, x.shape, y.shape);
  DispatchFloatHalf(x.dtype, "Pad", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const A fill = static_cast<A>(p.constant_value);
    const bool add = req == OpReq::kAddTo;
    ParallelFor(rows, std::max<int64_t>(1, kGrain / row_len), [&](int64_t r0, int64_t r1) {
      ForRows(p, x.shape, y.shape, r0, r1, cols,
              [&](int64_t r, int64_t in_row, const std::vector<int64_t>& c) {
                T* out = py + r * row_len;
                const T* in = in_row < 0 ? nullptr : px + in_row * in_len;
                for (int64_t j = 0; j < row_len; ++j) {
                  const A v = (in == nullptr || c[j] < 0) ? fill : A(in[c[j]]);
                  out[j] = static_cast<T>(add ? A(out[j]) + v : v);
                }
              });
    });
  });
}

void PadBackward(const PadParams& p, const TensorView& dy, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckPad(p, dx.shape, dy.shape);
  CheckSameDType(dx, dy, "Pad", "data_grad", "out_grad");
  DispatchFloatHalf(dx.dtype, "Pad", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    T* pdx = dx.data<T>();
    ZeroIfWrite(req, pdx, dx.size());
    if (dy.size() == 0) return;
    const int n = dx.shape.ndim();
    const int64_t row_len = dy.shape[n - 1], in_len = dx.shape[n - 1];
    const int64_t rows = dy.size() / row_len;
    const std::vector<int64_t> cols = ColumnSources(p, dx.shape, dy.shape);
    const T* pdy = dy.data<T>();
    // Several output rows may scatter into one input row (edge, reflect): serial.
    ForRows(p, dx.shape, dy.shape, 0, rows, cols,
            [&](int64_t r, int64_t in_row, const std::vector<int64_t>& c) {
              if (in_row < 0) return;
              const T* g = pdy + r * row_len;
              T* out = pdx + in_row * in_len;
              for (int64_t j = 0; j < row_len; ++j) {
                if (c[j] >= 0) out[c[j]] = static_cast<T>(A(out[c[j]]) + A(g[j]));
              }
            });
  });
}

}  // namespace loom::cpu
