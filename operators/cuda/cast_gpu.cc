// GPU kernels of Cast and _backward_Cast: conversion between any two dtypes (a copy when they are
// equal), with core/src/elementwise.h's CastKernel rules.
#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cuda/cast_kernels.h"
#include "operators/cuda/elemwise_kernels.h"
#include "operators/cuda/gpu_util.h"

namespace loom::gpu {
namespace {

void CastGpu(const char* name, const OpContext& ctx, const TensorView& x, const TensorView& y,
             OpReq req) {
  if (req == OpReq::kNull) return;
  cpu::CheckSameShape(x, y, name, "data", "out");
  if (x.dtype != y.dtype) {
    Cast(x.dtype, x.ptr, y.dtype, y.ptr, x.size(), static_cast<int>(req), ctx.run.stream);
  } else if (req == OpReq::kAddTo) {
    AddInto(x.dtype, x.ptr, y.ptr, x.size(), ctx.run.stream);
  } else if (x.ptr != y.ptr && x.size() > 0) {
    LOOM_CUDA_CHECK(
        cudaMemcpyAsync(y.ptr, x.ptr, x.bytes(), cudaMemcpyDeviceToDevice, Stream(ctx)));
  }
}

LOOM_REGISTER_KERNEL("Cast", kGPU,
                     FCompute([](const NodeAttrs&, const OpContext& ctx,
                                 std::span<const TensorView> in, std::span<const OpReq> req,
                                 std::span<const TensorView> out) {
                       CastGpu("Cast", ctx, in[0], out[0], req[0]);
                     }));
LOOM_REGISTER_KERNEL("_backward_Cast", kGPU,
                     FCompute([](const NodeAttrs&, const OpContext& ctx,
                                 std::span<const TensorView> in, std::span<const OpReq> req,
                                 std::span<const TensorView> out) {
                       CastGpu("_backward_Cast", ctx, in[0], out[0], req[0]);
                     }));

}  // namespace
}  // namespace loom::gpu
