#include "operators/cpu/dot.h"

#include "operators/cpu/blas.h"
#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

// C (req) = op(A) op(B).
template <typename T>
void Forward(const DotProduct& d, const T* a, const T* b, T* c, OpReq req, bool serial) {
  const T beta = req == OpReq::kAddTo ? T(1) : T(0);
  auto gemm = serial ? GemmSerial<T> : Gemm<T>;
  gemm(d.ta, d.tb, d.m, d.n, d.k, T(1), a, d.lda(), b, d.ldb(), beta, c, d.n);
}

// dA (stored like A) and dB (stored like B) from dC.
template <typename T>
void Backward(const DotProduct& d, const T* dc, const T* a, const T* b, T* da, OpReq a_req, T* db,
              OpReq b_req, bool serial) {
  auto gemm = serial ? GemmSerial<T> : Gemm<T>;
  if (a_req != OpReq::kNull) {
    const T beta = a_req == OpReq::kAddTo ? T(1) : T(0);
    if (!d.ta) {  // dA (m x k) = dC op(B)^T
      gemm(false, !d.tb, d.m, d.k, d.n, T(1), dc, d.n, b, d.ldb(), beta, da, d.k);
    } else {  // dA (k x m) = op(B) dC^T
      gemm(d.tb, true, d.k, d.m, d.n, T(1), b, d.ldb(), dc, d.n, beta, da, d.m);
    }
  }
  if (b_req != OpReq::kNull) {
    const T beta = b_req == OpReq::kAddTo ? T(1) : T(0);
    if (!d.tb) {  // dB (k x n) = op(A)^T dC
      gemm(!d.ta, false, d.k, d.n, d.m, T(1), a, d.lda(), dc, d.n, beta, db, d.n);
    } else {  // dB (n x k) = dC^T op(A)
      gemm(true, d.ta, d.n, d.k, d.m, T(1), dc, d.n, a, d.lda(), beta, db, d.k);
    }
  }
}

// Runs fn(i, serial) for each batch: batches in parallel when each product is small.
template <typename F>
void ForBatches(const BatchedProduct& bd, F&& fn) {
  const int64_t macs = bd.d.m * bd.d.n * bd.d.k;
  if (macs >= (int64_t{1} << 20)) {
    for (int64_t i = 0; i < bd.batch; ++i) fn(i, false);
    return;
  }
  ParallelFor(bd.batch, std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(macs, 1)),
              [&](int64_t b0, int64_t b1) {
                for (int64_t i = b0; i < b1; ++i) fn(i, true);
              });
}

}  // namespace

DotProduct DotDims(std::string_view op, const DotParams& p, const Shape& a, const Shape& b) {
  LOOM_CHECK_TYPED(ShapeError, a.ndim() >= 1 && b.ndim() >= 1, op,
                   ": expected operands with an axis");
  DotProduct d;
  d.ta = p.transpose_a;
  d.tb = p.transpose_b;
  int64_t ka, kb;
  if (p.transpose_a) {
    ka = a[0];
    d.m = a.Size(1, a.ndim());
  } else {
    ka = a[a.ndim() - 1];
    d.m = a.Size(0, a.ndim() - 1);
  }
  if (p.transpose_b) {
    kb = b[b.ndim() - 1];
    d.n = b.Size(0, b.ndim() - 1);
  } else {
    kb = b[0];
    d.n = b.Size(1, b.ndim());
  }
  LOOM_CHECK_TYPED(ShapeError, ka == kb, op, ": the reduced axes of lhs ", a.ToString(),
                   " and rhs ", b.ToString(), " differ (", ka, " vs ", kb,
                   ") with transpose_a=", p.transpose_a, ", transpose_b=", p.transpose_b);
  d.k = ka;
  return d;
}

BatchedProduct BatchDotDims(const DotParams& p, const Shape& a, const Shape& b) {
  LOOM_CHECK_TYPED(ShapeError, a.ndim() == 3 && b.ndim() == 3 && a[0] == b[0],
                   "batch_dot: expected 3-D operands with one batch size but got ", a.ToString(),
                   " and ", b.ToString());
  return {a[0], DotDims("batch_dot", p, Shape{a[1], a[2]}, Shape{b[1], b[2]})};
}

void DotForward(const DotParams& p, const TensorView& a, const TensorView& b, const TensorView& out,
                OpReq req) {
  if (req == OpReq::kNull) return;
  const DotProduct d = DotDims("dot", p, a.shape, b.shape);
  CheckSize(out, d.m * d.n, "dot", "out");
  CheckSameDType(a, b, "dot", "lhs", "rhs");
  CheckSameDType(a, out, "dot", "lhs", "out");
  DispatchFloat(a.dtype, "dot", [&]<typename T>(Tag<T>) {
    Forward(d, a.data<T>(), b.data<T>(), out.data<T>(), req, false);
  });
}

void DotBackward(const DotParams& p, const TensorView& out_grad, const TensorView& a,
                 const TensorView& b, const TensorView& a_grad, OpReq a_req,
                 const TensorView& b_grad, OpReq b_req) {
  const DotProduct d = DotDims("dot", p, a.shape, b.shape);
  CheckSize(out_grad, d.m * d.n, "dot", "out_grad");
  if (a_req != OpReq::kNull) CheckSameShape(a, a_grad, "dot", "lhs", "lhs_grad");
  if (b_req != OpReq::kNull) CheckSameShape(b, b_grad, "dot", "rhs", "rhs_grad");
  DispatchFloat(a.dtype, "dot", [&]<typename T>(Tag<T>) {
    Backward(d, out_grad.data<T>(), a.data<T>(), b.data<T>(),
             a_req == OpReq::kNull ? nullptr : a_grad.data<T>(), a_req,
             b_req == OpReq::kNull ? nullptr : b_grad.data<T>(), b_req, false);
  });
}

void BatchDotForward(const DotParams& p, const TensorView& a, const TensorView& b,
                     const TensorView& out, OpReq req) {
  if (req == OpReq::kNull) return;
  const BatchedProduct bd = BatchDotDims(p, a.shape, b.shape);
  CheckSize(out, bd.batch * bd.d.m * bd.d.n, "batch_dot", "out");
  CheckSameDType(a, b, "batch_dot", "lhs", "rhs");
  CheckSameDType(a, out, "batch_dot", "lhs", "out");
  DispatchFloat(a.dtype, "batch_dot", [&]<typename T>(Tag<T>) {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    ForBatches(bd, [&](int64_t i, bool serial) {
      Forward(bd.d, pa + i * bd.d.ASize(), pb + i * bd.d.BSize(), pc + i * bd.d.m * bd.d.n, req,
              serial);
    });
  });
}

void BatchDotBackward(const DotParams& p, const TensorView& out_grad, const TensorView& a,
                      const TensorView& b, const TensorView& a_grad, OpReq a_req,
                      const TensorView& b_grad, OpReq b_req) {
  const BatchedProduct bd = BatchDotDims(p, a.shape, b.shape);
  CheckSize(out_grad, bd.batch * bd.d.m * bd.d.n, "batch_dot", "out_grad");
  if (a_req != OpReq::kNull) CheckSameShape(a, a_grad, "batch_dot", "lhs", "lhs_grad");
  if (b_req != OpReq::kNull) CheckSameShape(b, b_grad, "batch_dot", "rhs", "rhs_grad");
  DispatchFloat(a.dtype, "batch_dot", [&]<typename T>(Tag<T>) {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* pc = out_grad.data<T>();
    T* da = a_req == OpReq::kNull ? nullptr : a_grad.data<T>();
    T* db = b_req == OpReq::kNull ? nullptr : b_grad.data<T>();
    ForBatches(bd, [&](int64_t i, bool serial) {
      Backward(bd.d, pc + i * bd.d.m * bd.d.n, pa + i * bd.d.ASize(), pb + i * bd.d.BSize(),
               da ? da + i * bd.d.ASize() : nullptr, a_req, db ? db + i * bd.d.BSize() : nullptr,
               b_req, serial);
    });
  });
}

}  // namespace loom::cpu
