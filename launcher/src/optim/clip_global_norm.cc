// ClipGlobalNorm: MXNet's gluon.utils.clip_global_norm with a deterministic summation order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "loom/scheduler/error.h"
#include "loom/train/optimizer.h"
#include "operators/cpu/parallel.h"

namespace loom::train {
namespace {

// Elements per partial sum. Fixed (not derived from the thread count), so the summation order
// and therefore the result do not depend on how many threads run.
constexpr int64_t kSumChunk = 1 << 14;

template <typename T>
double SumSquares(const T* data, int64_t n) {
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  cpu::ParallelFor(chunks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t first = c * kSumChunk;
      const int64_t last = std::min(n, first + kSumChunk);
      double sum = 0;
      for (int64_t i = first; i < last; ++i) {
        const double v = static_cast<double>(data[i]);
        sum += v * v;
      }
      partial[static_cast<size_t>(c)] = sum;
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace

float ClipGlobalNorm(const std::vector<NDArray>& grads, float max_norm) {
  LOOM_CHECK(max_norm > 0 && std::isfinite(max_norm),
             "ClipGlobalNorm: expected a positive max_norm but got ", max_norm);
  double sum = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    const NDArray& g = grads[i];
    LOOM_CHECK(!g.is_none(), "ClipGlobalNorm: gradient ", i, " is a none array");
    LOOM_CHECK_TYPED(DTypeError, g.dtype() == DType::kFloat32 || g.dtype() == DType::kFloat64,
                     "ClipGlobalNorm: gradient ", i, ": expected float32 or float64 but got ",
                     ToString(g.dtype()));
    LOOM_CHECK_TYPED(NotSupportedError, g.ctx().is_host(), "ClipGlobalNorm: gradient ", i,
                     " is on ", g.ctx().ToString(), ", but only CPU arrays are supported");
    g.WaitToRead();
    sum += g.dtype() == DType::kFloat32 ? SumSquares(g.data<float>(), g.size())
                                        : SumSquares(g.data<double>(), g.size());
  }
  const double norm = std::sqrt(sum);
  if (!std::isfinite(norm)) return static_cast<float>(norm);
  const double scale = static_cast<double>(max_norm) / (norm + 1e-8);
  if (scale < 1) {
    for (const NDArray& g : grads) {
      NDArray handle = g;
      handle *= scale;
    }
  }
  return static_cast<float>(norm);
}

}  // namespace loom::train
