// GPU kernels of FullyConnected, dot and batch_dot (and their gradients) on cuBLAS: row-major
// products as cuBLAS's column-major ones with the operands swapped, float32 and float16 computed
// in float32 (CUBLAS_COMPUTE_32F), float64 in float64; FullyConnected's bias added by a small
// kernel (nn_blas.cu) and its gradient a GEMM against a ones vector.
#include <cstdint>

#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cpu/dot.h"
#include "operators/cpu/fully_connected.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/dot_param.h"
#include "operators/src/fully_connected_param.h"

namespace loom::gpu {
namespace {

int Int32(int64_t v, const char* op) { return gpu::Int32(v, op, "cuBLAS"); }

// C (m x n, row stride ldc) = op(A) op(B) (+ C when accumulate), all row-major: op(A) is m x k
// (A stored k x m when ta), op(B) k x n (B stored n x k when tb). `batch` products at the given
// element strides.
struct Gemm {
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
};

void RunGemm(const OpContext& ctx, const char* op, DType t, const Gemm& g, const void* a,
             const void* b, void* c, bool accumulate) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  if (g.k == 0) {  // an empty sum: zeros (c is contiguous here: ldc == n)
    if (!accumulate) {
      LOOM_CUDA_CHECK(cudaMemsetAsync(c, 0, static_cast<size_t>(g.batch * g.m * g.n) * DTypeSize(t),
                                      Stream(ctx)));
    }
    return;
  }
  const cudaDataType_t type = CublasType(t, op);
  const bool dbl = t == DType::kFloat64;
  const cublasComputeType_t compute = dbl ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  const float alpha_f = 1, beta_f = accumulate ? 1 : 0;
  const double alpha_d = 1, beta_d = accumulate ? 1 : 0;
  const void* alpha = dbl ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta = dbl ? static_cast<const void*>(&beta_d) : &beta_f;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: B's and A's row-major
  // storage read column-major is their transpose, so each keeps its own transpose flag.
  const cublasOperation_t op_a = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = Int32(g.m, op), n = Int32(g.n, op), k = Int32(g.k, op);
  const int lda = Int32(g.lda, op), ldb = Int32(g.ldb, op), ldc = Int32(g.ldc, op);
  cublasHandle_t h = Cublas(ctx);
  if (g.batch == 1) {
    LOOM_CUBLAS_CHECK(cublasGemmEx(h, op_b, op_a, n, m, k, alpha, b, type, ldb, a, type, lda, beta,
                                   c, type, ldc, compute, CUBLAS_GEMM_DEFAULT));
  } else {
    LOOM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        h, op_b, op_a, n, m, k, alpha, b, type, ldb, g.stride_b, a, type, lda, g.stride_a, beta, c,
        type, ldc, g.stride_c, Int32(g.batch, op), compute, CUBLAS_GEMM_DEFAULT));
  }
}

bool Accumulates(OpReq req) { return req == OpReq::kAddTo; }

// ---- FullyConnected ---------------------------------------------------------------------------

constexpr const char* kFc = "FullyConnected";

// (data, weight[, bias]) -> out
void FullyConnectedGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                       Views out) {
  if (req[0] == OpReq::kNull) return;
  const auto& p = attrs.param<ops::FullyConnectedParam>();
  const cpu::FullyConnectedDims d =
      cpu::FullyConnectedShapes(p.kernel_params(), in[0], in[1], out[0]);
  const DType t = in[0].dtype;
  const Gemm g{
      .ta = false, .tb = true, .m = d.rows, .n = d.h, .k = d.k, .lda = d.k, .ldb = d.k, .ldc = d.h};
  const bool add = Accumulates(req[0]);
  if (p.no_bias) {
    RunGemm(ctx, kFc, t, g, in[0].ptr, in[1].ptr, out[0].ptr, add);
    return;
  }
  cpu::CheckSize(in[2], d.h, kFc, "bias");
  cpu::CheckSameDType(in[0], in[2], kFc, "data", "bias");
  if (!add) {
    // Start from the bias so that the GEMM's beta = 1 adds it without another pass.
    FillRowsWithBias(t, in[2].ptr, out[0].ptr, d.rows, d.h, ctx.run.stream);
    RunGemm(ctx, kFc, t, g, in[0].ptr, in[1].ptr, out[0].ptr, true);
  } else {
    RunGemm(ctx, kFc, t, g, in[0].ptr, in[1].ptr, out[0].ptr, true);
    AddBiasRows(t, in[2].ptr, out[0].ptr, d.rows, d.h, ctx.run.stream);
  }
}

// (out_grad, data, weight) -> (data_grad, weight_grad[, bias_grad])
void FullyConnectedBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                               Views out) {
  const auto& p = attrs.param<ops::FullyConnectedParam>();
  const cpu::FullyConnectedDims d =
      cpu::FullyConnectedShapes(p.kernel_params(), in[1], in[2], in[0]);
  const DType t = in[1].dtype;
  const void* dy = in[0].ptr;
  if (req[0] != OpReq::kNull) {  // data_grad (rows x k) = dy (rows x h) . weight (h x k)
    cpu::CheckSize(out[0], d.rows * d.k, kFc, "data_grad");
    cpu::CheckSameDType(in[1], out[0], kFc, "data", "data_grad");
    const Gemm g{.m = d.rows, .n = d.k, .k = d.h, .lda = d.h, .ldb = d.k, .ldc = d.k};
    RunGemm(ctx, kFc, t, g, dy, in[2].ptr, out[0].ptr, Accumulates(req[0]));
  }
  if (req[1] != OpReq::kNull) {  // weight_grad (h x k) = dy^T (h x rows) . data (rows x k)
    cpu::CheckSize(out[1], d.h * d.k, kFc, "weight_grad");
    cpu::CheckSameDType(in[1], out[1], kFc, "data", "weight_grad");
    const Gemm g{.ta = true, .m = d.h, .n = d.k, .k = d.rows, .lda = d.h, .ldb = d.k, .ldc = d.k};
    RunGemm(ctx, kFc, t, g, dy, in[1].ptr, out[1].ptr, Accumulates(req[1]));
  }
  if (!p.no_bias && req[2] != OpReq::kNull) {
    cpu::CheckSize(out[2], d.h, kFc, "bias_grad");
    cpu::CheckSameDType(in[1], out[2], kFc, "data", "bias_grad");
    // bias_grad (1 x h) = ones (1 x rows) . dy (rows x h)
    void* ones = Workspace(ctx, static_cast<size_t>(d.rows) * DTypeSize(t));
    FillOnes(t, ones, d.rows, ctx.run.stream);
    const Gemm g{.m = 1, .n = d.h, .k = d.rows, .lda = d.rows, .ldb = d.h, .ldc = d.h};
    RunGemm(ctx, kFc, t, g, ones, dy, out[2].ptr, Accumulates(req[2]));
  }
}

// ---- dot and batch_dot ------------------------------------------------------------------------

// The CPU kernel's reading of the operands' shapes (cpu/dot.h), with its checks.
template <bool kBatch>
cpu::BatchedProduct DimsOf(const ops::DotParam& p, const Shape& a, const Shape& b) {
  const cpu::DotParams cp = p.kernel_params();
  if constexpr (!kBatch) {
    return {1, cpu::DotDims("dot", cp, a, b)};
  } else {
    return cpu::BatchDotDims(cp, a, b);
  }
}

template <bool kBatch>
void DotGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const char* op = kBatch ? "batch_dot" : "dot";
  const cpu::BatchedProduct bd =
      DimsOf<kBatch>(attrs.param<ops::DotParam>(), in[0].shape, in[1].shape);
  const cpu::DotProduct& d = bd.d;
  cpu::CheckSize(out[0], bd.batch * d.m * d.n, op, "out");
  cpu::CheckSameDType(in[0], in[1], op, "lhs", "rhs");
  cpu::CheckSameDType(in[0], out[0], op, "lhs", "out");
  const Gemm g{.ta = d.ta,
               .tb = d.tb,
               .m = d.m,
               .n = d.n,
               .k = d.k,
               .lda = d.lda(),
               .ldb = d.ldb(),
               .ldc = d.n,
               .batch = bd.batch,
               .stride_a = d.m * d.k,
               .stride_b = d.k * d.n,
               .stride_c = d.m * d.n};
  RunGemm(ctx, op, in[0].dtype, g, in[0].ptr, in[1].ptr, out[0].ptr, Accumulates(req[0]));
}

// (out_grad, lhs, rhs) -> (lhs_grad, rhs_grad), each stored like its operand.
template <bool kBatch>
void DotBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const char* op = kBatch ? "batch_dot" : "dot";
  const cpu::BatchedProduct bd =
      DimsOf<kBatch>(attrs.param<ops::DotParam>(), in[1].shape, in[2].shape);
  const cpu::DotProduct& d = bd.d;
  cpu::CheckSize(in[0], bd.batch * d.m * d.n, op, "out_grad");
  const DType t = in[1].dtype;
  const int64_t sa = d.m * d.k, sb = d.k * d.n, sc = d.m * d.n;
  if (req[0] != OpReq::kNull) {
    cpu::CheckSameShape(in[1], out[0], op, "lhs", "lhs_grad");
    Gemm g{.batch = bd.batch, .stride_a = sc, .stride_b = sb, .stride_c = sa};
    const void* first = in[0].ptr;   // dC
    const void* second = in[2].ptr;  // B
    if (!d.ta) {                     // dA (m x k) = dC op(B)^T
      g.ta = false, g.tb = !d.tb, g.m = d.m, g.n = d.k, g.k = d.n;
      g.lda = d.n, g.ldb = d.ldb(), g.ldc = d.k;
    } else {  // dA (k x m) = op(B) dC^T
      std::swap(first, second);
      g.stride_a = sb, g.stride_b = sc;
      g.ta = d.tb, g.tb = true, g.m = d.k, g.n = d.m, g.k = d.n;
      g.lda = d.ldb(), g.ldb = d.n, g.ldc = d.m;
    }
    RunGemm(ctx, op, t, g, first, second, out[0].ptr, Accumulates(req[0]));
  }
  if (req[1] != OpReq::kNull) {
    cpu::CheckSameShape(in[2], out[1], op, "rhs", "rhs_grad");
    Gemm g{.batch = bd.batch, .stride_a = sa, .stride_b = sc, .stride_c = sb};
    const void* first = in[1].ptr;   // A
    const void* second = in[0].ptr;  // dC
    if (!d.tb) {                     // dB (k x n) = op(A)^T dC
      g.ta = !d.ta, g.tb = false, g.m = d.k, g.n = d.n, g.k = d.m;
      g.lda = d.lda(), g.ldb = d.n, g.ldc = d.n;
    } else {  // dB (n x k) = dC^T op(A)
      std::swap(first, second);
      g.stride_a = sc, g.stride_b = sa;
      g.ta = true, g.tb = d.ta, g.m = d.n, g.n = d.k, g.k = d.m;
      g.lda = d.n, g.ldb = d.lda(), g.ldc = d.k;
    }
    RunGemm(ctx, op, t, g, first, second, out[1].ptr, Accumulates(req[1]));
  }
}

}  // namespace

LOOM_REGISTER_KERNEL("FullyConnected", kGPU, FCompute(FullyConnectedGpu));
LOOM_REGISTER_KERNEL("_backward_FullyConnected", kGPU, FCompute(FullyConnectedBackwardGpu));
LOOM_REGISTER_KERNEL("dot", kGPU, FCompute(DotGpu<false>));
LOOM_REGISTER_KERNEL("_backward_dot", kGPU, FCompute(DotBackwardGpu<false>));
LOOM_REGISTER_KERNEL("batch_dot", kGPU, FCompute(DotGpu<true>));
LOOM_REGISTER_KERNEL("_backward_batch_dot", kGPU, FCompute(DotBackwardGpu<true>));

}  // namespace loom::gpu
