#include "operators/cpu/softmax.h"

#include <cmath>
#include <limits>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/math.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr int64_t kGrain = int64_t{1} << 13;  // elements per chunk (exp-bound work)

// Sum with four partial sums (shorter dependency chains than one running sum).
template <typename A>
A Sum(const A* v, int64_t n) {
  A s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s[0] += v[i];
    s[1] += v[i + 1];
    s[2] += v[i + 2];
    s[3] += v[i + 3];
  }
  for (; i < n; ++i) s[0] += v[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

template <typename T, typename A>
void Store(OpReq req, T* dst, int64_t i, A v) {
  dst[i] = static_cast<T>(req == OpReq::kAddTo ? A(dst[i]) + v : v);
}

// softmax (or log_softmax) of blocks [o0, o1) of x viewed as (outer, n, inner) along n.
template <typename T>
LOOM_SIMD_CLONES void SoftmaxBlocks(const T* x, T* y, const AxisSplit& s, AccT<T> inv_t, bool log,
                                    OpReq req, int64_t o0, int64_t o1) {
  using A = AccT<T>;
  const int64_t block = s.n * s.inner;
  std::vector<A> e(static_cast<size_t>(block)), m(s.inner), sum(s.inner);
  for (int64_t o = o0; o < o1; ++o) {
    const T* xb = x + o * block;
    T* yb = y + o * block;
    std::fill(m.begin(), m.end(), -std::numeric_limits<A>::infinity());
    std::fill(sum.begin(), sum.end(), A(0));
    for (int64_t k = 0; k < s.n; ++k) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const A v = A(xb[k * s.inner + i]);
        m[i] = v > m[i] ? v : m[i];
      }
    }
    for (int64_t k = 0; k < s.n; ++k) {
      A* ek = e.data() + k * s.inner;
      for (int64_t i = 0; i < s.inner; ++i) ek[i] = Exp((A(xb[k * s.inner + i]) - m[i]) * inv_t);
    }
    if (s.inner == 1) {
      sum[0] = Sum(e.data(), s.n);
    } else {
      for (int64_t k = 0; k < s.n; ++k) {
        for (int64_t i = 0; i < s.inner; ++i) sum[i] += e[k * s.inner + i];
      }
    }
    for (int64_t i = 0; i < s.inner; ++i) sum[i] = log ? std::log(sum[i]) : A(1) / sum[i];
    for (int64_t k = 0; k < s.n; ++k) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t at = k * s.inner + i;
        const A v = log ? (A(xb[at]) - m[i]) * inv_t - sum[i] : e[at] * sum[i];
        Store(req, yb, at, v);
      }
    }
  }
}

template <typename T>
void SoftmaxCore(const T* x, T* y, const AxisSplit& s, AccT<T> inv_t, bool log, OpReq req) {
  const int64_t block = s.n * s.inner;
  ParallelFor(s.outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(block, 1)),
              [&](int64_t o0, int64_t o1) { SoftmaxBlocks(x, y, s, inv_t, log, req, o0, o1); });
}

template <typename T>
LOOM_SIMD_CLONES void SoftmaxGradBlocks(const T* dy, const T* y, T* dx, const AxisSplit& s,
                                        AccT<T> inv_t, bool log, OpReq req, int64_t o0,
                                        int64_t o1) {
  using A = AccT<T>;
  const int64_t block = s.n * s.inner;
  std::vector<A> dot(s.inner);
  for (int64_t o = o0; o < o1; ++o) {
    const T* g = dy + o * block;
    const T* out = y + o * block;
    T* d = dx + o * block;
    std::fill(dot.begin(), dot.end(), A(0));
    for (int64_t k = 0; k < s.n; ++k) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t at = k * s.inner + i;
        dot[i] += log ? A(g[at]) : A(g[at]) * A(out[at]);
      }
    }
    for (int64_t k = 0; k < s.n; ++k) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t at = k * s.inner + i;
        const A v = log ? (A(g[at]) - Exp(A(out[at])) * dot[i]) * inv_t
                        : A(out[at]) * (A(g[at]) - dot[i]) * inv_t;
        Store(req, d, at, v);
      }
    }
  }
}

template <typename T>
void SoftmaxGradCore(const T* dy, const T* y, T* dx, const AxisSplit& s, AccT<T> inv_t, bool log,
                     OpReq req) {
  const int64_t block = s.n * s.inner;
  ParallelFor(
      s.outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(block, 1)),
      [&](int64_t o0, int64_t o1) { SoftmaxGradBlocks(dy, y, dx, s, inv_t, log, req, o0, o1); });
}

// SoftmaxOutput's softmax layout: (outer, K, inner).
AxisSplit OutputSplit(const SoftmaxOutputParams& p, const Shape& data) {
  LOOM_CHECK_TYPED(ShapeError, data.ndim() >= 1, "SoftmaxOutput: expected data with an axis");
  if (p.multi_output) {
    LOOM_CHECK_TYPED(ShapeError, data.ndim() >= 2, "SoftmaxOutput: multi_output expects data ",
                     "(N, C, ...) but got ", data.ToString());
    return SplitAt(data, 1);
  }
  if (p.preserve_shape) return SplitAt(data, data.ndim() - 1);
  AxisSplit s;
  s.outer = data[0];
  s.n = data[0] == 0 ? 0 : data.Size() / data[0];
  s.inner = 1;
  return s;
}

}  // namespace

void SoftmaxForward(const SoftmaxParams& p, bool log, const TensorView& x, const TensorView& y,
                    OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = log ? "log_softmax" : "softmax";
  CheckSameShape(x, y, name, "data", "out");
  CheckSameDType(x, y, name, "data", "out");
  const AxisSplit s = SplitAt(x.shape, NormalizeAxis(p.axis, x.shape.ndim(), name));
  const double t = p.temperature.value_or(1.0);
  LOOM_CHECK(t != 0, name, ": expected a non-zero temperature");
  DispatchFloatHalf(x.dtype, name, [&]<typename T>(Tag<T>) {
    SoftmaxCore(x.data<T>(), y.data<T>(), s, static_cast<AccT<T>>(1.0 / t), log, req);
  });
}

void SoftmaxBackward(const SoftmaxParams& p, bool log, const TensorView& dy, const TensorView& y,
                     const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = log ? "log_softmax" : "softmax";
  CheckSameShape(y, dy, name, "out", "out_grad");
  CheckSameShape(y, dx, name, "out", "data_grad");
  CheckSameDType(y, dy, name, "out", "out_grad");
  CheckSameDType(y, dx, name, "out", "data_grad");
  const AxisSplit s = SplitAt(y.shape, NormalizeAxis(p.axis, y.shape.ndim(), name));
  const double t = p.temperature.value_or(1.0);
  DispatchFloatHalf(y.dtype, name, [&]<typename T>(Tag<T>) {
    SoftmaxGradCore(dy.data<T>(), y.data<T>(), dx.data<T>(), s, static_cast<AccT<T>>(1.0 / t), log,
                    req);
  });
}

void SoftmaxOutputForward(const SoftmaxOutputParams& p, const TensorView& data,
                          const TensorView& out, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(data, out, "SoftmaxOutput", "data", "out");
  CheckSameDType(data, out, "SoftmaxOutput", "data", "out");
  const AxisSplit s = OutputSplit(p, data.shape);
  DispatchFloat(data.dtype, "SoftmaxOutput", [&]<typename T>(Tag<T>) {
    SoftmaxCore(data.data<T>(), out.data<T>(), s, T(1), false, req);
  });
}

void SoftmaxOutputBackward(const SoftmaxOutputParams& p, const TensorView& out,
                           const TensorView& label, const TensorView& out_grad,
                           const TensorView& data_grad, OpReq req) {
  if (req == OpReq::kNull) return;
  constexpr std::string_view kOp = "SoftmaxOutput";
  CheckSameShape(out, data_grad, kOp, "out", "data_grad");
  CheckSameDType(out, data_grad, kOp, "out", "data_grad");
  if (p.out_grad) {
    CheckSameShape(out, out_grad, kOp, "out", "out_grad");
    CheckSameDType(out, out_grad, kOp, "out", "out_grad");
  }
  const AxisSplit s = OutputSplit(p, out.shape);
  const int64_t positions = s.outer * s.inner;
  const bool soft = label.size() == out.size() && positions != out.size();
  LOOM_CHECK_TYPED(ShapeError, soft || label.size() == positions, kOp, ": expected ", positions,
                   " labels (or soft labels of data's shape ", out.shape.ToString(),
                   ") but got label ", label.shape.ToString());
  std::vector<double> labels(static_cast<size_t>(label.size()));
  for (int64_t i = 0; i < label.size(); ++i) labels[i] = ReadAsDouble(label, i);
  auto ignored = [&](double l) { return p.use_ignore && l == p.ignore_label; };
  double norm = 1;
  if (p.normalization == SoftmaxNormalization::kBatch) {
    norm = static_cast<double>(out.shape[0]);
  } else if (p.normalization == SoftmaxNormalization::kValid) {
    int64_t valid = positions;
    if (!soft && p.use_ignore) {
      valid = 0;
      for (double l : labels) valid += ignored(l) ? 0 : 1;
    }
    norm = static_cast<double>(std::max<int64_t>(valid, 1));
  }
  if (!soft) {
    for (int64_t i = 0; i < positions; ++i) {
      const double l = labels[i];
      LOOM_CHECK(ignored(l) || (l >= 0 && l < static_cast<double>(s.n)), kOp, ": label ", l,
                 " at position ", i, " is outside [0, ", s.n, ")",
                 p.use_ignore ? "" : " (set use_ignore=True to skip ignore_label)");
    }
  }
  DispatchFloat(out.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* prob = out.data<T>();
    const T* head = p.out_grad ? out_grad.data<T>() : nullptr;
    T* grad = data_grad.data<T>();
    const T scale = static_cast<T>(p.grad_scale / norm);
    const T on = static_cast<T>(1 - p.smooth_alpha);
    const T off = static_cast<T>(s.n > 1 ? p.smooth_alpha / static_cast<double>(s.n - 1) : 0.0);
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t position = o * s.inner + i;
        const bool skip = !soft && ignored(labels[position]);
        const int64_t target = soft || skip ? -1 : static_cast<int64_t>(labels[position]);
        for (int64_t k = 0; k < s.n; ++k) {
          const int64_t at = (o * s.n + k) * s.inner + i;
          T v = T(0);
          if (!skip) {
            const T t = soft ? static_cast<T>(labels[at]) : (k == target ? on : off);
            v = (prob[at] - t) * scale;
            if (head != nullptr) v *= head[at];
          }
          Store(req, grad, at, v);
        }
      }
    }
  });
}

void RegressionOutputForward(RegressionType type, const TensorView& data, const TensorView& out,
                             OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(data, out, "RegressionOutput", "data", "out");
  CheckSameDType(data, out, "RegressionOutput", "data", "out");
  DispatchFloat(data.dtype, "RegressionOutput", [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    T* y = out.data<T>();
    ParallelFor(data.size(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        Store(req, y, i, type == RegressionType::kLogistic ? Sigmoid(x[i]) : x[i]);
      }
    });
  });
}

void RegressionOutputBackward(RegressionType type, double grad_scale, const TensorView& out,
                              const TensorView& label, const TensorView& data_grad, OpReq req) {
  if (req == OpReq::kNull) return;
  constexpr std::string_view kOp = "RegressionOutput";
  CheckSameShape(out, data_grad, kOp, "out", "data_grad");
  CheckSameDType(out, data_grad, kOp, "out", "data_grad");
  LOOM_CHECK_TYPED(ShapeError, label.size() == out.size() && label.shape.ndim() >= 1, kOp,
                   ": expected label with the ", out.size(), " elements of data ",
                   out.shape.ToString(), " but got ", label.shape.ToString());
  const int64_t num_output = label.shape[0] == 0 ? 1 : label.size() / label.shape[0];
  DispatchFloat(out.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* y = out.data<T>();
    T* g = data_grad.data<T>();
    const T scale = static_cast<T>(grad_scale / static_cast<double>(num_output));
    for (int64_t i = 0; i < out.size(); ++i) {
      const T diff = y[i] - static_cast<T>(ReadAsDouble(label, i));
      const T v = type == RegressionType::kMAE ? T((diff > 0) - (diff < 0)) : diff;
      Store(req, g, i, v * scale);
    }
  });
}

}  // namespace loom::cpu
