// Launchers of the reduction GPU kernels (operators/cuda/reduce.cu): sum, mean, max, min, prod,
// nansum, nanprod over any set of axes and their gradients, argmax/argmin along one axis. The
// host describes a reduction with a ReducePlan (see MakeReducePlan in reduce_gpu.h): the merged
// kept axes and reduced axes of the input with their input strides, i.e. the [outer, reduce,
// inner] decomposition generalised to alternating kept/reduced axes. Enqueues on `stream`; `req`
// is loom::OpReq's value. C++17-safe: included by .cu and *_gpu.cc files.
//
//   ReducePlan p = MakeReducePlan(x.shape, kept, "sum");
//   std::vector<char> ... scratch of ReduceScratchBytes(p, dtype) bytes (gpu::Workspace)
//   Reduce(ReduceKind::kSum, DType::kFloat32, x, p, y, /*req=*/1, scratch, stream, "sum");
//
// float16 (float accumulation), float32 and float64 (double accumulation). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/core/dtype.h"
#include "operators/cuda/broadcast_kernels.h"

namespace loom::gpu {

enum class ReduceKind : int {
  kSum,
  kMean,
  kMax,  ///< NaN wins, as on the CPU
  kMin,  ///< NaN wins
  kProd,
  kNanSum,   ///< NaN counts as 0
  kNanProd,  ///< NaN counts as 1
  kNegSum,   ///< sum of -x (broadcast_sub's rhs gradient)
};
constexpr int kNumReduceKinds = 8;

/// y[j] = reduction over r of x[kept_offset(j) + reduced_offset(r)], for j < n_out.
struct ReducePlan {
  int64_t n_out = 0;  ///< outputs: product of kdims
  int64_t n_red = 0;  ///< elements per output: product of rdims
  int nk = 0;         ///< merged kept axes (outer to inner)
  int nr = 0;         ///< merged reduced axes (outer to inner)
  int64_t kdims[kMaxIndexDims] = {};
  int64_t kstrides[kMaxIndexDims] = {};  ///< input strides of the kept axes
  int64_t rdims[kMaxIndexDims] = {};
  int64_t rstrides[kMaxIndexDims] = {};  ///< input strides of the reduced axes
  bool reduce_inner = false;             ///< the input's innermost merged axis is reduced
};

/// Scratch bytes Reduce needs for `p` (0 when it reduces in one pass).
size_t ReduceScratchBytes(const ReducePlan& p, DType dtype);

/// y (n_out elements, req) = the reduction of x described by p. `scratch` holds
/// ReduceScratchBytes(p, dtype) bytes of device memory.
void Reduce(ReduceKind op, DType dtype, const void* x, const ReducePlan& p, void* y, int req,
            void* scratch, void* stream, const char* what);

/// Gradient of a reduction: dx[i] (n elements, req) from dy and y at i's output (m maps x's
/// index to the output's with one operand: the kept shape) and x[i]. sum: dy; mean: dy * scale;
/// max/min: dy where x equals y; prod: dy * y / x; nansum: dy, nanprod: dy * y / x, both 0 where
/// x is NaN. y may be nullptr for sum and mean, x for sum and mean too.
void ReduceBackward(ReduceKind op, DType dtype, const void* dy, const void* x, const void* y,
                    const IndexMap& m, double scale, void* dx, int64_t n, int req, void* stream,
                    const char* what);

/// out[o * inner + i] (req) = index of the first maximum (is_max) or minimum of
/// x[o, 0..n), i] along the middle axis, as out's dtype (the data's); NaNs are skipped unless the
/// first element is NaN (then 0), as the CPU kernel's scan does. n > 0.
void ArgReduce(bool is_max, DType dtype, const void* x, int64_t outer, int64_t n, int64_t inner,
               void* out, int req, void* stream);

}  // namespace loom::gpu
