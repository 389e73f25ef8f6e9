#include "operators/cpu/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "BatchNorm";

struct Layout {
  AxisSplit s;  // (outer, C, inner)
  int64_t Count() const { return s.outer * s.inner; }
  int64_t Grain() const { return std::max<int64_t>(1, 32768 / std::max<int64_t>(Count(), 1)); }
};

Layout Check(const BatchNormParams& p, const TensorView& data,
             std::initializer_list<std::pair<const TensorView*, const char*>> per_channel) {
  const int axis = NormalizeAxis(p.axis, data.shape.ndim(), kOp);
  Layout l{SplitAt(data.shape, axis)};
  for (const auto& [t, name] : per_channel) {
    CheckSize(*t, l.s.n, kOp, name);
    CheckSameDType(data, *t, kOp, "data", name);
  }
  return l;
}

// Sums in double with kLanes independent partial sums, added in a fixed order: the adds pipeline
// and vectorise (one running sum is bound by the add latency: 4x slower), and the result does
// not depend on the thread count.
constexpr int kLanes = 8;

struct Partial {
  double lane[kLanes] = {};
  double Total() const {
    double t = 0;
    for (double v : lane) t += v;
    return t;
  }
};

// acc += x[i] over [0, n). (The partial sums live in locals: acc could alias x for doubles.)
template <typename T>
LOOM_SIMD_CLONES void AddRun(const T* x, int64_t n, Partial& acc) {
  double s[kLanes];
  std::copy_n(acc.lane, kLanes, s);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) s[j] += static_cast<double>(x[i + j]);
  }
  for (; i < n; ++i) s[i % kLanes] += static_cast<double>(x[i]);
  std::copy_n(s, kLanes, acc.lane);
}

// acc += (x[i] - m)^2 over [0, n).
template <typename T>
LOOM_SIMD_CLONES void AddSquaredDeviations(const T* x, int64_t n, double m, Partial& acc) {
  double s[kLanes];
  std::copy_n(acc.lane, kLanes, s);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const double d = static_cast<double>(x[i + j]) - m;
      s[j] += d * d;
    }
  }
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - m;
    s[i % kLanes] += d * d;
  }
  std::copy_n(s, kLanes, acc.lane);
}

// dy_acc += dy[i], dyx_acc += dy[i] * (x[i] - m) over [0, n).
template <typename T>
LOOM_SIMD_CLONES void AddGradientSums(const T* dy, const T* x, int64_t n, double m, Partial& dy_acc,
                                      Partial& dyx_acc) {
  double s[kLanes], sx[kLanes];
  std::copy_n(dy_acc.lane, kLanes, s);
  std::copy_n(dyx_acc.lane, kLanes, sx);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const double g = static_cast<double>(dy[i + j]);
      s[j] += g;
      sx[j] += g * (static_cast<double>(x[i + j]) - m);
    }
  }
  for (; i < n; ++i) {
    const double g = static_cast<double>(dy[i]);
    s[i % kLanes] += g;
    sx[i % kLanes] += g * (static_cast<double>(x[i]) - m);
  }
  std::copy_n(s, kLanes, dy_acc.lane);
  std::copy_n(sx, kLanes, dyx_acc.lane);
}

// Calls f(pointer to the channel's run, run length) for each of channel c's `outer` runs.
template <typename T, typename F>
void ForChannel(T* base, const Layout& l, int64_t c, F&& f) {
  for (int64_t o = 0; o < l.s.outer; ++o) f(base + (o * l.s.n + c) * l.s.inner, l.s.inner);
}

}  // namespace

void BatchNormForward(const BatchNormParams& p, bool is_train, const TensorView& data,
                      const TensorView& gamma, const TensorView& beta,
                      const TensorView& moving_mean, const TensorView& moving_var,
                      const TensorView& out, OpReq req, const TensorView& mean,
                      const TensorView& var, ReplicaReducer* reducer) {
  const Layout l = Check(p, data,
                         {{&gamma, "gamma"},
                          {&beta, "beta"},
                          {&moving_mean, "moving_mean"},
                          {&moving_var, "moving_var"},
                          {&mean, "mean"},
                          {&var, "var"}});
  CheckSameShape(data, out, kOp, "data", "out");
  CheckSameDType(data, out, kOp, "data", "out");
  const bool batch_stats = is_train && !p.use_global_stats;
  DispatchFloat(data.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    T* y = out.data<T>();
    const T* g = gamma.data<T>();
    const T* b = beta.data<T>();
    T* mm = moving_mean.data<T>();
    T* mv = moving_var.data<T>();
    T* mu = mean.data<T>();
    T* sigma2 = var.data<T>();
    // Channel c with statistics (m, v): moving averages (batch statistics only), mean/var
    // outputs, and the normalised output.
    auto apply = [&](int64_t c, double m, double v) {
      if (batch_stats) {
        mm[c] = static_cast<T>(mm[c] * p.momentum + m * (1 - p.momentum));
        mv[c] = static_cast<T>(mv[c] * p.momentum + v * (1 - p.momentum));
      }
      mu[c] = static_cast<T>(m);
      sigma2[c] = static_cast<T>(v);
      if (req == OpReq::kNull) return;
      const double scale = (p.fix_gamma ? 1.0 : static_cast<double>(g[c])) / std::sqrt(v + p.eps);
      const T a = static_cast<T>(scale), shift = static_cast<T>(b[c] - m * scale);
      for (int64_t o = 0; o < l.s.outer; ++o) {
        const int64_t base = (o * l.s.n + c) * l.s.inner;
        const T* xr = x + base;
        T* yr = y + base;
        if (req == OpReq::kAddTo) {
          for (int64_t i = 0; i < l.s.inner; ++i) yr[i] += xr[i] * a + shift;
        } else {
          for (int64_t i = 0; i < l.s.inner; ++i) yr[i] = xr[i] * a + shift;
        }
      }
    };
    if (batch_stats && reducer != nullptr) {
      // Cross-replica statistics: the same two passes, each per-channel sum (and the count)
      // summed over the replicas before it is used.
      const int64_t channels = l.s.n;
      std::vector<double> sums(channels + 1), sq(channels);
      ParallelFor(channels, l.Grain(), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          Partial sum;
          ForChannel(x, l, c, [&](const T* run, int64_t n) { AddRun(run, n, sum); });
          sums[c] = sum.Total();
        }
      });
      sums[channels] = static_cast<double>(l.Count());
      reducer->SumInPlace(sums.data(), sums.size());
      const double count = sums[channels];
      ParallelFor(channels, l.Grain(), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          const double m = count > 0 ? sums[c] / count : 0.0;
          Partial dev;
          ForChannel(x, l, c,
                     [&](const T* run, int64_t n) { AddSquaredDeviations(run, n, m, dev); });
          sq[c] = dev.Total();
        }
      });
      reducer->SumInPlace(sq.data(), sq.size());
      ParallelFor(channels, l.Grain(), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          apply(c, count > 0 ? sums[c] / count : 0.0, count > 0 ? sq[c] / count : 0.0);
        }
      });
      return;
    }
    const double count = static_cast<double>(l.Count());
    ParallelFor(l.s.n, l.Grain(), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        if (!batch_stats) {
          apply(c, mm[c], mv[c]);
          continue;
        }
        // Two passes (mean, then squared deviations) in double: stable for large means.
        Partial sum;
        ForChannel(x, l, c, [&](const T* run, int64_t n) { AddRun(run, n, sum); });
        const double m = count > 0 ? sum.Total() / count : 0.0;
        Partial sq;
        ForChannel(x, l, c, [&](const T* run, int64_t n) { AddSquaredDeviations(run, n, m, sq); });
        apply(c, m, count > 0 ? sq.Total() / count : 0.0);
      }
    });
  });
}

void BatchNormBackward(const BatchNormParams& p, bool is_train, const TensorView& out_grad,
                       const TensorView& data, const TensorView& gamma, const TensorView& mean,
                       const TensorView& var, const TensorView& data_grad, OpReq data_req,
                       const TensorView& gamma_grad, OpReq gamma_req, const TensorView& beta_grad,
                       OpReq beta_req, ReplicaReducer* reducer) {
  const Layout l = Check(p, data, {{&gamma, "gamma"}, {&mean, "mean"}, {&var, "var"}});
  CheckSameShape(data, out_grad, kOp, "data", "out_grad");
  CheckSameDType(data, out_grad, kOp, "data", "out_grad");
  if (data_req != OpReq::kNull) CheckSameShape(data, data_grad, kOp, "data", "data_grad");
  if (gamma_req != OpReq::kNull) CheckSize(gamma_grad, l.s.n, kOp, "gamma_grad");
  if (beta_req != OpReq::kNull) CheckSize(beta_grad, l.s.n, kOp, "beta_grad");
  const bool batch_stats = is_train && !p.use_global_stats;
  DispatchFloat(data.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    const T* dy = out_grad.data<T>();
    const T* g = gamma.data<T>();
    const T* mu = mean.data<T>();
    const T* sigma2 = var.data<T>();
    auto inv_std_of = [&](int64_t c) {
      return 1.0 / std::sqrt(static_cast<double>(sigma2[c]) + p.eps);
    };
    // Channel c's sum(dy) and sum(dy * (x - mean)) over this replica's batch; writes gamma's and
    // beta's gradients (local sums: summed over replicas by whoever sums the gradients).
    auto local_sums = [&](int64_t c, double* sum_dy, double* sum_dy_xmu) {
      Partial dy_acc, dyx_acc;
      ForChannel(x, l, c, [&](const T* run, int64_t n) {
        AddGradientSums(dy + (run - x), run, n, static_cast<double>(mu[c]), dy_acc, dyx_acc);
      });
      *sum_dy = dy_acc.Total();
      *sum_dy_xmu = dyx_acc.Total();
      if (gamma_req != OpReq::kNull) {
        Assign(gamma_req, gamma_grad.data<T>()[c],
               static_cast<T>(p.fix_gamma ? 0.0 : *sum_dy_xmu * inv_std_of(c)));
      }
      if (beta_req != OpReq::kNull)
        Assign(beta_req, beta_grad.data<T>()[c], static_cast<T>(*sum_dy));
    };
    // Batch statistics: dx = gamma inv_std (dy - mean(dy) - xhat mean(dy xhat)), the means over
    // `count` elements (every replica's); fixed statistics: dx = gamma inv_std dy.
    auto data_gradient = [&](int64_t c, double sum_dy, double sum_dy_xmu, double count) {
      const double m = mu[c];
      const double inv_std = inv_std_of(c);
      const double gc = p.fix_gamma ? 1.0 : static_cast<double>(g[c]);
      const double sum_dy_xhat = sum_dy_xmu * inv_std;
      const double k = gc * inv_std;
      const double mean_dy = batch_stats && count > 0 ? sum_dy / count : 0.0;
      const double mean_dy_xhat = batch_stats && count > 0 ? sum_dy_xhat / count : 0.0;
      const T a = static_cast<T>(k), b = static_cast<T>(-k * mean_dy);
      const T cx = static_cast<T>(-k * mean_dy_xhat * inv_std);
      const T mt = static_cast<T>(m);
      T* dx = data_grad.data<T>();
      for (int64_t o = 0; o < l.s.outer; ++o) {
        const int64_t base = (o * l.s.n + c) * l.s.inner;
        const T* xr = x + base;
        const T* gr = dy + base;
        T* dr = dx + base;
        if (data_req == OpReq::kAddTo) {
          for (int64_t i = 0; i < l.s.inner; ++i) dr[i] += a * gr[i] + b + cx * (xr[i] - mt);
        } else {
          for (int64_t i = 0; i < l.s.inner; ++i) dr[i] = a * gr[i] + b + cx * (xr[i] - mt);
        }
      }
    };
    if (batch_stats && reducer != nullptr) {
      // Cross-replica: the per-channel sums and the count summed over the replicas.
      const int64_t channels = l.s.n;
      std::vector<double> sums(2 * channels + 1);
      ParallelFor(channels, l.Grain(), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) local_sums(c, &sums[c], &sums[channels + c]);
      });
      sums[2 * channels] = static_cast<double>(l.Count());
      reducer->SumInPlace(sums.data(), sums.size());
      if (data_req == OpReq::kNull) return;
      ParallelFor(channels, l.Grain(), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          data_gradient(c, sums[c], sums[channels + c], sums[2 * channels]);
        }
      });
      return;
    }
    const double count = static_cast<double>(l.Count());
    ParallelFor(l.s.n, l.Grain(), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double sum_dy, sum_dy_xmu;
        local_sums(c, &sum_dy, &sum_dy_xmu);
        if (data_req != OpReq::kNull) data_gradient(c, sum_dy, sum_dy_xmu, count);
      }
    });
  });
}

}  // namespace loom::cpu
