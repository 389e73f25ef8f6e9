// Row-major GEMM, partitioned over oneTBB threads by Loom: float32 on oneDNN's sgemm, float64 on
// OpenBLAS, each library kept single-threaded (see docs/kernels.md).
//
//   // C (m x n) = A (m x k) * B^T where B is stored (n x k)
//   loom::cpu::Gemm<float>(false, true, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
//
// Thread-safe: concurrent calls from several threads are fine.
#pragma once

#include <cstdint>

namespace loom::cpu {

/// C = alpha * op(A) * op(B) + beta * C, row-major. op(A) is m x k (A stored k x m when trans_a),
/// op(B) is k x n (B stored n x k when trans_b); lda/ldb/ldc are row strides in elements. With
/// beta == 0, C is not read (NaNs in it do not propagate). T is float or double.
template <typename T>
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

/// The same, never split over threads (for callers that parallelise themselves).
template <typename T>
void GemmSerial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

/// Makes OpenBLAS single-threaded if something else changed it (Loom partitions GEMMs itself).
void KeepBlasSingleThreaded();

}  // namespace loom::cpu
