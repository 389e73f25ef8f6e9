#include "operators/cpu/normalization.h"

#include <cmath>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kL2 = "L2Normalization";
constexpr std::string_view kInstance = "InstanceNorm";

template <typename T>
void Store(OpReq req, T& dst, double v) {
  dst = static_cast<T>(req == OpReq::kAddTo ? static_cast<double>(dst) + v : v);
}

}  // namespace

AxisSplit L2NormGroups(L2NormMode mode, const Shape& s) {
  LOOM_CHECK_TYPED(ShapeError, s.ndim() >= (mode == L2NormMode::kInstance ? 1 : 3), kL2,
                   ": expected data of at least ", mode == L2NormMode::kInstance ? 1 : 3,
                   " dimensions but got ", s.ToString());
  AxisSplit g;
  switch (mode) {
    case L2NormMode::kInstance:
      g.outer = s[0];
      g.n = s.Size(1, s.ndim());
      break;
    case L2NormMode::kChannel:
      g = SplitAt(s, 1);
      break;
    case L2NormMode::kSpatial:
      g.outer = s[0] * s[1];
      g.n = s.Size(2, s.ndim());
      break;
  }
  return g;
}

InstanceNormLayout InstanceNormShapes(const TensorView& x, const TensorView& gamma,
                                      const TensorView& mean, const TensorView& var) {
  LOOM_CHECK_TYPED(ShapeError, x.shape.ndim() >= 2, kInstance,
                   ": expected data (batch, channel, ...) but got ", x.shape.ToString());
  const InstanceNormLayout l{x.shape[0], x.shape[1], x.shape.Size(2, x.shape.ndim())};
  CheckSize(gamma, l.c, kInstance, "gamma");
  CheckSize(mean, l.n * l.c, kInstance, "mean");
  CheckSize(var, l.n * l.c, kInstance, "var");
  CheckSameDType(x, gamma, kInstance, "data", "gamma");
  CheckSameDType(x, mean, kInstance, "data", "mean");
  CheckSameDType(x, var, kInstance, "data", "var");
  return l;
}

void L2NormalizationForward(L2NormMode mode, double eps, const TensorView& x, const TensorView& y,
                            OpReq req, const TensorView& norm) {
  CheckSameShape(x, y, kL2, "data", "out");
  CheckSameDType(x, y, kL2, "data", "out");
  CheckSameDType(x, norm, kL2, "data", "norm");
  const AxisSplit g = L2NormGroups(mode, x.shape);
  CheckSize(norm, g.outer * g.inner, kL2, "norm");
  DispatchFloat(x.dtype, kL2, [&]<typename T>(Tag<T>) {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* pn = norm.data<T>();
    ParallelFor(g.outer,
                std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(g.n * g.inner, 1)),
                [&](int64_t b, int64_t e) {
                  std::vector<double> sum(g.inner);
                  for (int64_t o = b; o < e; ++o) {
                    std::fill(sum.begin(), sum.end(), 0.0);
                    const T* xo = px + o * g.n * g.inner;
                    for (int64_t k = 0; k < g.n; ++k) {
                      for (int64_t i = 0; i < g.inner; ++i) {
                        const double v = xo[k * g.inner + i];
                        sum[i] += v * v;
                      }
                    }
                    for (int64_t i = 0; i < g.inner; ++i) {
                      sum[i] = std::sqrt(sum[i] + eps);
                      pn[o * g.inner + i] = static_cast<T>(sum[i]);
                    }
                    if (req == OpReq::kNull) continue;
                    T* yo = py + o * g.n * g.inner;
                    for (int64_t k = 0; k < g.n; ++k) {
                      for (int64_t i = 0; i < g.inner; ++i) {
                        Store(req, yo[k * g.inner + i], xo[k * g.inner + i] / sum[i]);
                      }
                    }
                  }
                });
  });
}

void L2NormalizationBackward(L2NormMode mode, const TensorView& dy, const TensorView& y,
                             const TensorView& norm, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(y, dy, kL2, "out", "out_grad");
  CheckSameShape(y, dx, kL2, "out", "data_grad");
  CheckSameDType(y, dy, kL2, "out", "out_grad");
  CheckSameDType(y, dx, kL2, "out", "data_grad");
  CheckSameDType(y, norm, kL2, "out", "norm");
  const AxisSplit g = L2NormGroups(mode, y.shape);
  CheckSize(norm, g.outer * g.inner, kL2, "norm");
  DispatchFloat(y.dtype, kL2, [&]<typename T>(Tag<T>) {
    const T* pg = dy.data<T>();
    const T* py = y.data<T>();
    const T* pn = norm.data<T>();
    T* pd = dx.data<T>();
    ParallelFor(g.outer,
                std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(g.n * g.inner, 1)),
                [&](int64_t b, int64_t e) {
                  std::vector<double> dot(g.inner);
                  for (int64_t o = b; o < e; ++o) {
                    std::fill(dot.begin(), dot.end(), 0.0);
                    const int64_t base = o * g.n * g.inner;
                    for (int64_t k = 0; k < g.n; ++k) {
                      for (int64_t i = 0; i < g.inner; ++i) {
                        const int64_t at = base + k * g.inner + i;
                        dot[i] += static_cast<double>(pg[at]) * py[at];
                      }
                    }
                    for (int64_t k = 0; k < g.n; ++k) {
                      for (int64_t i = 0; i < g.inner; ++i) {
                        const int64_t at = base + k * g.inner + i;
                        Store(req, pd[at], (pg[at] - py[at] * dot[i]) / pn[o * g.inner + i]);
                      }
                    }
                  }
                });
  });
}

void InstanceNormForward(double eps, const TensorView& x, const TensorView& gamma,
                         const TensorView& beta, const TensorView& y, OpReq req,
                         const TensorView& mean, const TensorView& var) {
  CheckSameShape(x, y, kInstance, "data", "out");
  CheckSameDType(x, y, kInstance, "data", "out");
  const InstanceNormLayout l = InstanceNormShapes(x, gamma, mean, var);
  CheckSize(beta, l.c, kInstance, "beta");
  CheckSameDType(x, beta, kInstance, "data", "beta");
  DispatchFloat(x.dtype, kInstance, [&]<typename T>(Tag<T>) {
    const T* px = x.data<T>();
    const T* pgamma = gamma.data<T>();
    const T* pbeta = beta.data<T>();
    T* py = y.data<T>();
    T* pm = mean.data<T>();
    T* pv = var.data<T>();
    ParallelFor(l.n * l.c, std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(l.m, 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t nc = b; nc < e; ++nc) {
                    const T* xs = px + nc * l.m;
                    double sum = 0, sq = 0;
                    for (int64_t i = 0; i < l.m; ++i) sum += xs[i];
                    const double mu = l.m > 0 ? sum / static_cast<double>(l.m) : 0;
                    for (int64_t i = 0; i < l.m; ++i) sq += (xs[i] - mu) * (xs[i] - mu);
                    const double v = l.m > 0 ? sq / static_cast<double>(l.m) : 0;
                    pm[nc] = static_cast<T>(mu);
                    pv[nc] = static_cast<T>(v);
                    if (req == OpReq::kNull) continue;
                    const int64_t c = nc % l.c;
                    const double scale = pgamma[c] / std::sqrt(v + eps);
                    T* ys = py + nc * l.m;
                    for (int64_t i = 0; i < l.m; ++i) {
                      Store(req, ys[i], (xs[i] - mu) * scale + pbeta[c]);
                    }
                  }
                });
  });
}

void InstanceNormBackward(double eps, const TensorView& dy, const TensorView& x,
                          const TensorView& gamma, const TensorView& mean, const TensorView& var,
                          const TensorView& dx, OpReq dx_req, const TensorView& dgamma,
                          OpReq gamma_req, const TensorView& dbeta, OpReq beta_req) {
  const InstanceNormLayout l = InstanceNormShapes(x, gamma, mean, var);
  CheckSameShape(x, dy, kInstance, "data", "out_grad");
  CheckSameDType(x, dy, kInstance, "data", "out_grad");
  if (dx_req != OpReq::kNull) CheckSameShape(x, dx, kInstance, "data", "data_grad");
  if (gamma_req != OpReq::kNull) CheckSize(dgamma, l.c, kInstance, "gamma_grad");
  if (beta_req != OpReq::kNull) CheckSize(dbeta, l.c, kInstance, "beta_grad");
  DispatchFloat(x.dtype, kInstance, [&]<typename T>(Tag<T>) {
    const T* pg = dy.data<T>();
    const T* px = x.data<T>();
    const T* pgamma = gamma.data<T>();
    const T* pm = mean.data<T>();
    const T* pv = var.data<T>();
    // Per (n, c): sum of dy and of dy * xhat; dgamma and dbeta sum them over n.
    std::vector<double> sum_g(l.n * l.c), sum_gx(l.n * l.c);
    ParallelFor(l.n * l.c, std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(l.m, 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t nc = b; nc < e; ++nc) {
                    const double mu = pm[nc],
                                 rstd = 1 / std::sqrt(static_cast<double>(pv[nc]) + eps);
                    const T* gs = pg + nc * l.m;
                    const T* xs = px + nc * l.m;
                    double sg = 0, sgx = 0;
                    for (int64_t i = 0; i < l.m; ++i) {
                      sg += gs[i];
                      sgx += gs[i] * (xs[i] - mu) * rstd;
                    }
                    sum_g[nc] = sg;
                    sum_gx[nc] = sgx;
                    if (dx_req == OpReq::kNull || l.m == 0) continue;
                    const int64_t c = nc % l.c;
                    const double k = pgamma[c] * rstd, inv_m = 1.0 / static_cast<double>(l.m);
                    T* ds = dx.data<T>() + nc * l.m;
                    for (int64_t i = 0; i < l.m; ++i) {
                      const double xhat = (xs[i] - mu) * rstd;
                      Store(dx_req, ds[i], k * (gs[i] - sg * inv_m - xhat * sgx * inv_m));
                    }
                  }
                });
    for (int64_t c = 0; c < l.c; ++c) {
      double g = 0, gx = 0;
      for (int64_t n = 0; n < l.n; ++n) {
        g += sum_g[n * l.c + c];
        gx += sum_gx[n * l.c + c];
      }
      if (gamma_req != OpReq::kNull) Store(gamma_req, dgamma.data<T>()[c], gx);
      if (beta_req != OpReq::kNull) Store(beta_req, dbeta.data<T>()[c], g);
    }
  });
}

}  // namespace loom::cpu
