#include "operators/cpu/blas.h"

#include <cblas.h>
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <type_traits>

#include "loom/scheduler/error.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

// Below this many multiply-adds a GEMM stays on one thread: splitting it would save less than
// waking a second thread costs on these machines (tens of microseconds).
constexpr int64_t kParallelMacs = int64_t{2} << 20;
// Column splits are multiples of this, so each part keeps full SIMD panels.
constexpr int64_t kColumnAlign = 32;

template <typename T>
void CallBlas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
              int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i) {
      T* row = c + i * ldc;
      for (int64_t j = 0; j < n; ++j) row[j] = beta == T(0) ? T(0) : row[j] * beta;
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    // oneDNN's sgemm: its JIT kernels use AVX-512 where the CPU has it, where Debian's OpenBLAS
    // 0.3.21 runs AVX2 kernels on AMD CPUs (1.5-6x slower on the shapes of docs/kernels.md).
    // It threads with OpenMP: one thread here, Loom splits the product itself.
    if (omp_get_max_threads() != 1) omp_set_num_threads(1);
    const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k,
                                            alpha, a, lda, b, ldb, beta, c, ldc);
    LOOM_CHECK(status == dnnl_success, "sgemm: oneDNN failed with status ",
               static_cast<int>(status), " for m=", m, " n=", n, " k=", k);
  } else {
    const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    cblas_dgemm(CblasRowMajor, ta, tb, static_cast<blasint>(m), static_cast<blasint>(n),
                static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
                static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
  }
}

}  // namespace

void KeepBlasSingleThreaded() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

template <typename T>
void GemmSerial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  KeepBlasSingleThreaded();
  CallBlas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  KeepBlasSingleThreaded();
  const int64_t macs = m * n * k;
  const int threads = macs >= kParallelMacs ? AvailableThreads() : 1;
  if (threads <= 1) {
    CallBlas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split the longer side of C into `threads` parts; each part is an independent GEMM.
  if (n >= m) {
    const int64_t blocks = (n + kColumnAlign - 1) / kColumnAlign;
    const int parts = static_cast<int>(std::min<int64_t>(threads, blocks));
    ParallelFor(parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const int64_t j0 = std::min(n, blocks * p / parts * kColumnAlign);
        const int64_t j1 = std::min(n, blocks * (p + 1) / parts * kColumnAlign);
        const T* bp = trans_b ? b + j0 * ldb : b + j0;
        CallBlas(trans_a, trans_b, m, j1 - j0, k, alpha, a, lda, bp, ldb, beta, c + j0, ldc);
      }
    });
  } else {
    const int parts = static_cast<int>(std::min<int64_t>(threads, m));
    ParallelFor(parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const int64_t i0 = m * p / parts;
        const int64_t i1 = m * (p + 1) / parts;
        const T* ap = trans_a ? a + i0 : a + i0 * lda;
        CallBlas(trans_a, trans_b, i1 - i0, n, k, alpha, ap, lda, b, ldb, beta, c + i0 * ldc, ldc);
      }
    });
  }
}

template void Gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void Gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);
template void GemmSerial<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                const float*, int64_t, float, float*, int64_t);
template void GemmSerial<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                 int64_t, const double*, int64_t, double, double*, int64_t);

}  // namespace loom::cpu
