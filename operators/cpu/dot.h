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

#include "loom/core/kernel.h"

namespace loom::cpu {

struct DotParams {
  bool transpose_a = false;
  bool transpose_b = false;
};

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
