// dot and batch_dot CPU kernels on OpenBLAS, with gradients.
//
//   DotForward({.transpose_b = true}, a, b, out, OpReq::kWriteTo);   // a (M, K), b (N, K)
//   BatchDotForward({}, a, b, out, OpReq::kWriteTo);                  // (B, M, K) x (B, K, N)
//
// dot (MXNet's): a is (M, K) with M = prod(a.shape[:-1]) (transpose_a: a.shape[0] = K, the rest M),
// b is (K, N) with N = prod(b.shape[1:]) (transpose_b: b.shape[-1] = K, the rest N); out holds
// M * N elements. batch_dot: 3-D operands, transposes within each batch. float32 and float64.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "loom/core/kernel.h"

namespace loom::cpu {

struct DotParams {
  bool transpose_a = false;
  bool transpose_b = false;
};

/// One product C (m x n) = op(A) (m x k) * op(B) (k x n), A and B stored row-major as given;
/// lda/ldb are their row strides. Shared with the GPU kernels (operators/cuda/blas_gpu.cc).
struct DotProduct {
  int64_t m = 0, n = 0, k = 0;
  bool ta = false, tb = false;
  int64_t lda() const { return ta ? m : k; }
  int64_t ldb() const { return tb ? k : n; }
  int64_t ASize() const { return m * k; }
  int64_t BSize() const { return k * n; }
};

/// batch_dot's products: `batch` of them, each `d`.
struct BatchedProduct {
  int64_t batch = 1;
  DotProduct d;
};

/// dot's reading of lhs `a` and rhs `b` (see above); throws ShapeError naming `op` when the
/// reduced axes differ.
DotProduct DotDims(std::string_view op, const DotParams& p, const Shape& a, const Shape& b);

/// batch_dot's: 3-D operands with one batch size.
BatchedProduct BatchDotDims(const DotParams& p, const Shape& a, const Shape& b);

void DotForward(const DotParams& p, const TensorView& a, const TensorView& b, const TensorView& out,
                OpReq req);
void DotBackward(const DotParams& p, const TensorView& out_grad, const TensorView& a,
                 const TensorView& b, const TensorView& a_grad, OpReq a_req,
                 const TensorView& b_grad, OpReq b_req);

void BatchDotForward(const DotParams& p, const TensorView& a, const TensorView& b,
                     const TensorView& out, OpReq req);
void BatchDotBackward(const DotParams& p, const TensorView& out_grad, const TensorView& a,
                      const TensorView& b, const TensorView& a_grad, OpReq a_req,
                      const TensorView& b_grad, OpReq b_req);

}  // namespace loom::cpu
