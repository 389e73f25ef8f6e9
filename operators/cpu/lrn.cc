#include "operators/cpu/lrn.h"

#include <cmath>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "LRN";

AxisSplit Check(const LRNParams& p, const TensorView& x,
                std::initializer_list<std::pair<const TensorView*, const char*>> same) {
  LOOM_CHECK(p.nsize >= 1, kOp, ": expected nsize >= 1 but got ", p.nsize);
  LOOM_CHECK_TYPED(ShapeError, x.shape.ndim() >= 2, kOp, ": expected data (N, C, ...) but got ",
                   x.shape.ToString());
  for (const auto& [t, name] : same) {
    CheckSameShape(x, *t, kOp, "data", name);
    CheckSameDType(x, *t, kOp, "data", name);
  }
  return SplitAt(x.shape, 1);
}

// Samples per chunk: a sample costs about C * inner * nsize multiply-adds.
int64_t Grain(const AxisSplit& s, const LRNParams& p) {
  return std::max<int64_t>(1, 65536 / std::max<int64_t>(s.n * s.inner * p.nsize, 1));
}

}  // namespace

void LRNForward(const LRNParams& p, const TensorView& x, const TensorView& y, OpReq req,
                const TensorView& norm) {
  const AxisSplit s = Check(p, x, {{&y, "out"}, {&norm, "tmp_norm"}});
  const int64_t half = p.nsize / 2;
  DispatchFloat(x.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* pn = norm.data<T>();
    const T salpha = static_cast<T>(p.alpha / static_cast<double>(p.nsize));
    ParallelFor(s.outer, Grain(s, p), [&](int64_t n0, int64_t n1) {
      std::vector<T> sq(static_cast<size_t>(s.inner));
      for (int64_t n = n0; n < n1; ++n) {
        const T* xb = px + n * s.n * s.inner;
        for (int64_t c = 0; c < s.n; ++c) {
          std::fill(sq.begin(), sq.end(), T(0));
          for (int64_t k = std::max<int64_t>(0, c - half); k <= std::min(s.n - 1, c + half); ++k) {
            const T* xr = xb + k * s.inner;
            for (int64_t i = 0; i < s.inner; ++i) sq[i] += xr[i] * xr[i];
          }
          const int64_t base = (n * s.n + c) * s.inner;
          for (int64_t i = 0; i < s.inner; ++i) {
            const T v = static_cast<T>(p.knorm) + salpha * sq[i];
            pn[base + i] = v;
            if (req == OpReq::kNull) continue;
            const T out = px[base + i] * static_cast<T>(std::pow(v, -p.beta));
            py[base + i] = req == OpReq::kAddTo ? py[base + i] + out : out;
          }
        }
      }
    });
  });
}

void LRNBackward(const LRNParams& p, const TensorView& dy, const TensorView& x,
                 const TensorView& norm, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  const AxisSplit s = Check(p, x, {{&dy, "out_grad"}, {&norm, "tmp_norm"}, {&dx, "data_grad"}});
  const int64_t half = p.nsize / 2;
  DispatchFloat(x.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* px = x.data<T>();
    const T* pg = dy.data<T>();
    const T* pn = norm.data<T>();
    T* pd = dx.data<T>();
    const T coeff = static_cast<T>(-2.0 * p.beta * p.alpha / static_cast<double>(p.nsize));
    ParallelFor(s.outer, Grain(s, p), [&](int64_t n0, int64_t n1) {
      // t[c] = dy * x * norm^(-beta - 1); dx = dy * norm^-beta + coeff * x * window sum of t.
      std::vector<T> t(static_cast<size_t>(s.n * s.inner)), acc(static_cast<size_t>(s.inner));
      for (int64_t n = n0; n < n1; ++n) {
        const int64_t block = n * s.n * s.inner;
        for (int64_t i = 0; i < s.n * s.inner; ++i) {
          const int64_t at = block + i;
          t[i] = pg[at] * px[at] * static_cast<T>(std::pow(pn[at], -p.beta - 1));
        }
        for (int64_t c = 0; c < s.n; ++c) {
          std::fill(acc.begin(), acc.end(), T(0));
          for (int64_t k = std::max<int64_t>(0, c - half); k <= std::min(s.n - 1, c + half); ++k) {
            for (int64_t i = 0; i < s.inner; ++i) acc[i] += t[k * s.inner + i];
          }
          for (int64_t i = 0; i < s.inner; ++i) {
            const int64_t at = block + c * s.inner + i;
            const T v =
                pg[at] * static_cast<T>(std::pow(pn[at], -p.beta)) + coeff * px[at] * acc[i];
            pd[at] = req == OpReq::kAddTo ? pd[at] + v : v;
          }
        }
      }
    });
  });
}

}  // namespace loom::cpu
