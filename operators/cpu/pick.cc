#include "operators/cpu/pick.h"

#include <algorithm>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kPick = "pick";
constexpr int64_t kGrain = int64_t{1} << 15;

// The picked position along the axis for index value v.
int64_t Resolve(double v, int64_t n, PickMode mode) {
  const auto i = static_cast<int64_t>(v);
  if (mode == PickMode::kWrap) {
    const int64_t r = i % n;
    return r < 0 ? r + n : r;
  }
  return std::clamp<int64_t>(i, 0, n - 1);
}

AxisSplit CheckPick(const TensorView& data, const TensorView& index, int axis,
                    const TensorView& out) {
  const AxisSplit s = SplitAt(data.shape, NormalizeAxis(axis, data.shape.ndim(), kPick));
  LOOM_CHECK_TYPED(ShapeError, s.n > 0 || s.outer * s.inner == 0, kPick,
                   ": cannot pick along an empty axis of data ", data.shape.ToString());
  CheckSize(index, s.outer * s.inner, kPick, "index");
  CheckSize(out, s.outer * s.inner, kPick, "out");
  CheckSameDType(data, out, kPick, "data", "out");
  return s;
}

}  // namespace

void PickForward(const TensorView& data, const TensorView& index, int axis, PickMode mode,
                 const TensorView& out, OpReq req) {
  if (req == OpReq::kNull) return;
  const AxisSplit s = CheckPick(data, index, axis, out);
  DispatchAll(data.dtype, kPick, [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    T* y = out.data<T>();
    ParallelFor(s.outer * s.inner, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t o = p / s.inner, i = p % s.inner;
        const int64_t j = Resolve(ReadAsDouble(index, p), s.n, mode);
        const T v = x[(o * s.n + j) * s.inner + i];
        y[p] = req == OpReq::kAddTo ? static_cast<T>(AccT<T>(y[p]) + AccT<T>(v)) : v;
      }
    });
  });
}

void PickBackward(const TensorView& out_grad, const TensorView& index, int axis, PickMode mode,
                  const TensorView& data_grad, OpReq req) {
  if (req == OpReq::kNull) return;
  const AxisSplit s = CheckPick(data_grad, index, axis, out_grad);
  DispatchFloatHalf(data_grad.dtype, kPick, [&]<typename T>(Tag<T>) {
    const T* g = out_grad.data<T>();
    T* dx = data_grad.data<T>();
    ZeroIfWrite(req, dx, data_grad.size());
    // Each picked element receives exactly one position's gradient, so positions are disjoint
    // per outer row and rows can run in parallel.
    ParallelFor(s.outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(s.inner, 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t o = b; o < e; ++o) {
                    for (int64_t i = 0; i < s.inner; ++i) {
                      const int64_t p = o * s.inner + i;
                      const int64_t j = Resolve(ReadAsDouble(index, p), s.n, mode);
                      T& d = dx[(o * s.n + j) * s.inner + i];
                      d = static_cast<T>(AccT<T>(d) + AccT<T>(g[p]));
                    }
                  }
                });
  });
}

void BatchTake(const TensorView& a, const TensorView& indices, const TensorView& out, OpReq req) {
  if (req == OpReq::kNull) return;
  constexpr std::string_view kOp = "batch_take";
  const int64_t n = indices.size();
  CheckSize(out, n, kOp, "out");
  CheckSameDType(a, out, kOp, "a", "out");
  LOOM_CHECK_TYPED(ShapeError, n > 0 ? a.size() % n == 0 && a.size() >= n : a.size() == 0, kOp,
                   ": expected a of shape (", n, ", K) for ", n, " indices but got ",
                   a.shape.ToString());
  const int64_t k = n > 0 ? a.size() / n : 0;
  DispatchAll(a.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* x = a.data<T>();
    T* y = out.data<T>();
    ParallelFor(n, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t j = Resolve(ReadAsDouble(indices, i), k, PickMode::kClip);
        const T v = x[i * k + j];
        y[i] = req == OpReq::kAddTo ? static_cast<T>(AccT<T>(y[i]) + AccT<T>(v)) : v;
      }
    });
  });
}

}  // namespace loom::cpu
