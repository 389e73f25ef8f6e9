#include "operators/cpu/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"
#include "operators/cpu/walk.h"

namespace loom::cpu {
namespace {

constexpr int64_t kGrain = int64_t{1} << 15;

// x's shape with the reduced axes set to 1 (keepdims), the shape y is walked with.
Shape KeepDims(const Shape& x, std::span<const int> axes) {
  Shape kept = x;
  for (int a : axes) kept[a] = 1;
  return kept;
}

template <typename A>
A Identity(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMax:
      return -std::numeric_limits<A>::infinity();
    case ReduceOp::kMin:
      return std::numeric_limits<A>::infinity();
    case ReduceOp::kProd:
      return A(1);
    default:
      return A(0);
  }
}

template <typename A>
inline A Combine(ReduceOp op, A acc, A v) {
  switch (op) {
    case ReduceOp::kMax:
      return v > acc || std::isnan(v) ? v : acc;
    case ReduceOp::kMin:
      return v < acc || std::isnan(v) ? v : acc;
    case ReduceOp::kProd:
      return acc * v;
    default:
      return acc + v;
  }
}

// y (req) = op-reduction of x (shape full) onto y (shape kept: full with 1s, aligned right).
template <typename T>
void ReduceInto(ReduceOp op, const T* x, const Shape& full, T* y, const Shape& kept, int64_t ysize,
                OpReq req) {
  using A = AccT<T>;
  const Walk walk(full, {&kept}, ToString(op));
  std::vector<A> acc(static_cast<size_t>(ysize), Identity<A>(op));
  const int64_t len = walk.inner();
  const auto& strides = walk.strides(0);
  // Rows map to distinct outputs when only the innermost merged axis is reduced: split them.
  bool rows_independent = !strides.empty() && strides.back() == 0;
  for (size_t d = 0; rows_independent && d + 1 < strides.size(); ++d) {
    rows_independent = strides[d] != 0;
  }
  auto run = [&](int64_t r0, int64_t r1) {
    walk.ForRows(r0, r1, [&](int64_t xo, const int64_t* off, const int64_t* st) {
      const T* px = x + xo;
      A* pa = acc.data() + off[0];
      if (st[0] == 0) {
        A v = pa[0];
        if (op == ReduceOp::kSum || op == ReduceOp::kMean) {
          // Four partial sums: shorter dependency chains, and closer to pairwise accuracy.
          A s[4] = {0, 0, 0, 0};
          int64_t i = 0;
          for (; i + 4 <= len; i += 4) {
            s[0] += A(px[i]);
            s[1] += A(px[i + 1]);
            s[2] += A(px[i + 2]);
            s[3] += A(px[i + 3]);
          }
          for (; i < len; ++i) s[0] += A(px[i]);
          v += (s[0] + s[1]) + (s[2] + s[3]);
        } else {
          for (int64_t i = 0; i < len; ++i) v = Combine(op, v, A(px[i]));
        }
        pa[0] = v;
      } else {
        for (int64_t i = 0; i < len; ++i) pa[i] = Combine(op, pa[i], A(px[i]));
      }
    });
  };
  if (rows_independent) {
    ParallelFor(walk.rows(), std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1)), run);
  } else {
    run(0, walk.rows());
  }
  if (op == ReduceOp::kMean) {
    const A count = A(ysize == 0 ? 1 : full.Size() / std::max<int64_t>(ysize, 1));
    for (auto& v : acc) v /= count;
  }
  if (req == OpReq::kAddTo) {
    for (int64_t i = 0; i < ysize; ++i) y[i] = static_cast<T>(A(y[i]) + acc[i]);
  } else if (req != OpReq::kNull) {
    for (int64_t i = 0; i < ysize; ++i) y[i] = static_cast<T>(acc[i]);
  }
}

}  // namespace

const char* ToString(ReduceOp op) {
  static constexpr const char* kNames[] = {"sum", "mean", "max", "min", "prod"};
  static_assert(std::size(kNames) == static_cast<size_t>(ReduceOp::kCount));
  return static_cast<size_t>(op) < std::size(kNames) ? kNames[static_cast<size_t>(op)] : "?";
}

std::vector<int> ResolveReduceAxes(int ndim, std::span<const int> axis, bool exclude,
                                   std::string_view op) {
  std::vector<bool> listed(ndim, false);
  for (int a : axis) {
    const int n = NormalizeAxis(a, ndim, op);
    LOOM_CHECK(!listed[n], op, ": axis ", a, " is listed twice");
    listed[n] = true;
  }
  std::vector<int> axes;
  for (int d = 0; d < ndim; ++d) {
    const bool reduce = axis.empty() ? true : (listed[d] != exclude);
    if (reduce) axes.push_back(d);
  }
  return axes;
}

void ReduceForward(ReduceOp op, const TensorView& x, std::span<const int> axes, const TensorView& y,
                   OpReq req) {
  if (req == OpReq::kNull) return;
  const Shape kept = KeepDims(x.shape, axes);
  CheckSize(y, kept.Size(), ToString(op), "out");
  CheckSameDType(x, y, ToString(op), "data", "out");
  DispatchFloatHalf(x.dtype, ToString(op), [&]<typename T>(Tag<T>) {
    ReduceInto(op, x.data<T>(), x.shape, y.data<T>(), kept, kept.Size(), req);
  });
}

void ReduceBackward(ReduceOp op, const TensorView& dy, const TensorView& x, const TensorView& y,
                    std::span<const int> axes, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = ToString(op);
  const Shape kept = KeepDims(x.shape, axes);
  CheckSize(dy, kept.Size(), name, "out_grad");
  CheckSameShape(x, dx, name, "data", "data_grad");
  CheckSameDType(x, dy, name, "data", "out_grad");
  CheckSameDType(x, dx, name, "data", "data_grad");
  const bool reads_y = op == ReduceOp::kMax || op == ReduceOp::kMin || op == ReduceOp::kProd;
  if (reads_y) CheckSize(y, kept.Size(), name, "out");
  const Walk walk(x.shape, {&kept}, name);
  DispatchFloatHalf(x.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    const T* pdy = dy.data<T>();
    const T* py = reads_y ? y.data<T>() : nullptr;
    T* pdx = dx.data<T>();
    const A scale =
        op == ReduceOp::kMean
            ? A(1) / A(std::max<int64_t>(1, x.size() / std::max<int64_t>(1, kept.Size())))
            : A(1);
    const int64_t len = walk.inner();
    ParallelFor(walk.rows(), std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1)),
                [&](int64_t r0, int64_t r1) {
                  walk.ForRows(r0, r1, [&](int64_t xo, const int64_t* off, const int64_t* st) {
                    for (int64_t i = 0; i < len; ++i) {
                      const int64_t o = off[0] + i * st[0];
                      const A g = A(pdy[o]);
                      A v;
                      switch (op) {
                        case ReduceOp::kMax:
                        case ReduceOp::kMin:
                          v = A(px[xo + i]) == A(py[o]) ? g : A(0);
                          break;
                        case ReduceOp::kProd:
                          v = g * A(py[o]) / A(px[xo + i]);
                          break;
                        default:
                          v = g * scale;
                      }
                      pdx[xo + i] = static_cast<T>(req == OpReq::kAddTo ? A(pdx[xo + i]) + v : v);
                    }
                  });
                });
  });
}

void BroadcastTo(const TensorView& src, const TensorView& dst, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameDType(src, dst, "broadcast_to", "data", "out");
  const Walk walk(dst.shape, {&src.shape}, "broadcast_to");
  DispatchFloatHalf(src.dtype, "broadcast_to", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* ps = src.data<T>();
    T* pd = dst.data<T>();
    const int64_t len = walk.inner();
    ParallelFor(walk.rows(), std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1)),
                [&](int64_t r0, int64_t r1) {
                  walk.ForRows(r0, r1, [&](int64_t o, const int64_t* off, const int64_t* st) {
                    T* out = pd + o;
                    const T* in = ps + off[0];
                    if (req == OpReq::kAddTo) {
                      for (int64_t i = 0; i < len; ++i) {
                        out[i] = static_cast<T>(A(out[i]) + A(in[i * st[0]]));
                      }
                    } else {
                      for (int64_t i = 0; i < len; ++i) out[i] = in[i * st[0]];
                    }
                  });
                });
  });
}

void SumToShape(const TensorView& src, const TensorView& dst, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameDType(src, dst, "sum to shape", "data", "out");
  // dst's shape aligned on the right, as the keepdims shape of the reduction.
  Shape kept = src.shape;
  const int lead = src.shape.ndim() - dst.shape.ndim();
  LOOM_CHECK_TYPED(ShapeError, lead >= 0, "cannot sum shape ", src.shape.ToString(), " to ",
                   dst.shape.ToString());
  for (int d = 0; d < src.shape.ndim(); ++d) {
    const int64_t size = d < lead ? 1 : dst.shape[d - lead];
    LOOM_CHECK_TYPED(ShapeError, size == src.shape[d] || size == 1, "cannot sum shape ",
                     src.shape.ToString(), " to ", dst.shape.ToString());
    kept[d] = size;
  }
  DispatchFloatHalf(src.dtype, "sum to shape", [&]<typename T>(Tag<T>) {
    ReduceInto(ReduceOp::kSum, src.data<T>(), src.shape, dst.data<T>(), kept, dst.size(), req);
  });
}

void ArgReduce(bool is_max, const TensorView& x, std::optional<int> axis, const TensorView& out,
               OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = is_max ? "argmax" : "argmin";
  AxisSplit split{1, x.size(), 1};
  if (axis) split = SplitAt(x.shape, NormalizeAxis(*axis, x.shape.ndim(), name));
  CheckSize(out, split.outer * split.inner, name, "out");
  LOOM_CHECK(split.n > 0, name, ": cannot reduce an empty axis of ", x.shape.ToString());
  DispatchFloatHalf(x.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    DispatchAll(out.dtype, name, [&]<typename O>(Tag<O>) {
      O* po = out.data<O>();
      for (int64_t o = 0; o < split.outer; ++o) {
        for (int64_t i = 0; i < split.inner; ++i) {
          const T* base = px + o * split.n * split.inner + i;
          int64_t best = 0;
          A best_v = A(base[0]);
          for (int64_t k = 1; k < split.n; ++k) {
            const A v = A(base[k * split.inner]);
            if (is_max ? v > best_v : v < best_v) {
              best = k;
              best_v = v;
            }
          }
          const int64_t at = o * split.inner + i;
          const AccT<O> index = static_cast<AccT<O>>(best);
          po[at] = static_cast<O>(req == OpReq::kAddTo ? AccT<O>(po[at]) + index : index);
        }
      }
    });
  });
}

}  // namespace loom::cpu
