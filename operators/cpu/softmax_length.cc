#include "operators/cpu/softmax_length.h"

#include <cmath>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "softmax";

// (outer, n, inner) around the axis, with every position's length checked.
AxisSplit Positions(const SoftmaxParams& p, const TensorView& data, const TensorView& length,
                    std::vector<int64_t>* lengths) {
  const AxisSplit s = SplitAt(data.shape, NormalizeAxis(p.axis, data.shape.ndim(), kOp));
  CheckSize(length, s.outer * s.inner, kOp, "length");
  lengths->resize(static_cast<size_t>(s.outer * s.inner));
  for (int64_t i = 0; i < s.outer * s.inner; ++i) {
    const double v = ReadAsDouble(length, i);
    LOOM_CHECK(v >= 0 && v <= static_cast<double>(s.n), kOp, ": length ", v, " at position ", i,
               " is outside [0, ", s.n, "] (the size of axis ", p.axis, ")");
    (*lengths)[i] = static_cast<int64_t>(v);
  }
  return s;
}

template <typename T>
void Store(OpReq req, T& dst, AccT<T> v) {
  dst = static_cast<T>(req == OpReq::kAddTo ? AccT<T>(dst) + v : v);
}

}  // namespace

void SoftmaxLengthForward(const SoftmaxParams& p, const TensorView& x, const TensorView& length,
                          const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(x, y, kOp, "data", "out");
  CheckSameDType(x, y, kOp, "data", "out");
  std::vector<int64_t> lengths;
  const AxisSplit s = Positions(p, x, length, &lengths);
  const double t = p.temperature.value_or(1.0);
  LOOM_CHECK(t != 0, kOp, ": expected a non-zero temperature");
  DispatchFloatHalf(x.dtype, kOp, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const A inv_t = static_cast<A>(1.0 / t);
    ParallelFor(s.outer * s.inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(s.n, 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t pos = b; pos < e; ++pos) {
                    const int64_t o = pos / s.inner, i = pos % s.inner, len = lengths[pos];
                    const T* xs = px + o * s.n * s.inner + i;
                    T* ys = py + o * s.n * s.inner + i;
                    A m = -INFINITY;
                    for (int64_t j = 0; j < len; ++j) m = std::max(m, A(xs[j * s.inner]) * inv_t);
                    A sum = 0;
                    for (int64_t j = 0; j < len; ++j)
                      sum += std::exp(A(xs[j * s.inner]) * inv_t - m);
                    for (int64_t j = 0; j < s.n; ++j) {
                      const A v = j < len ? std::exp(A(xs[j * s.inner]) * inv_t - m) / sum : A(0);
                      Store(req, ys[j * s.inner], v);
                    }
                  }
                });
  });
}

void SoftmaxLengthBackward(const SoftmaxParams& p, const TensorView& dy, const TensorView& y,
                           const TensorView& length, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(y, dy, kOp, "out", "out_grad");
  CheckSameShape(y, dx, kOp, "out", "data_grad");
  CheckSameDType(y, dy, kOp, "out", "out_grad");
  CheckSameDType(y, dx, kOp, "out", "data_grad");
  std::vector<int64_t> lengths;
  const AxisSplit s = Positions(p, y, length, &lengths);
  const double t = p.temperature.value_or(1.0);
  DispatchFloatHalf(y.dtype, kOp, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* pg = dy.data<T>();
    const T* py = y.data<T>();
    T* pd = dx.data<T>();
    const A inv_t = static_cast<A>(1.0 / t);
    ParallelFor(s.outer * s.inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(s.n, 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t pos = b; pos < e; ++pos) {
                    const int64_t o = pos / s.inner, i = pos % s.inner, len = lengths[pos];
                    const int64_t base = o * s.n * s.inner + i;
                    A dot = 0;
                    for (int64_t j = 0; j < len; ++j) {
                      dot += A(pg[base + j * s.inner]) * A(py[base + j * s.inner]);
                    }
                    for (int64_t j = 0; j < s.n; ++j) {
                      const int64_t at = base + j * s.inner;
                      const A v = j < len ? A(py[at]) * (A(pg[at]) - dot) * inv_t : A(0);
                      Store(req, pd[at], v);
                    }
                  }
                });
  });
}

}  // namespace loom::cpu
