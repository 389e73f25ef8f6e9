// GPU kernels of the operators that copy or fill: _copy, BlockGrad, _identity_with_attr_like_rhs,
// MakeLoss / make_loss (identity forward), the reshapes (Reshape, Flatten, expand_dims, squeeze,
// _backward_reshape), zeros_like, ones_like, _zeros, _ones, and the executor's _grad_copy,
// _grad_sum and _grad_zeros. Copies are cudaMemcpyAsync on the operation's stream (nothing when
// the output is the input), kAddTo adds instead. Every dtype.
#include <vector>

#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cuda/elemwise_kernels.h"
#include "operators/cuda/gpu_util.h"

namespace loom::gpu {
namespace {

bool Overwrites(OpReq req) { return req == OpReq::kWriteTo || req == OpReq::kWriteInplace; }

// y (req) = x: equal element counts (reshapes change only the shape) and dtypes.
void CopyTo(const char* name, const OpContext& ctx, const TensorView& x, const TensorView& y,
            OpReq req) {
  if (req == OpReq::kNull) return;
  cpu::CheckSize(y, x.size(), name, "out");
  cpu::CheckSameDType(x, y, name, "data", "out");
  if (req == OpReq::kAddTo) {
    AddInto(x.dtype, x.ptr, y.ptr, x.size(), ctx.run.stream);
  } else if (x.ptr != y.ptr && x.size() > 0) {
    LOOM_CUDA_CHECK(
        cudaMemcpyAsync(y.ptr, x.ptr, x.bytes(), cudaMemcpyDeviceToDevice, Stream(ctx)));
  }
}

#define LOOM_GPU_COPY(Name)                                                                    \
  LOOM_REGISTER_KERNEL(Name, kGPU,                                                             \
                       FCompute([](const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, \
                                   Views out) { CopyTo(Name, ctx, in[0], out[0], req[0]); }))

LOOM_GPU_COPY("_copy");
LOOM_GPU_COPY("BlockGrad");
LOOM_GPU_COPY("_identity_with_attr_like_rhs");
LOOM_GPU_COPY("MakeLoss");
LOOM_GPU_COPY("make_loss");
LOOM_GPU_COPY("Reshape");
LOOM_GPU_COPY("Flatten");
LOOM_GPU_COPY("expand_dims");
LOOM_GPU_COPY("squeeze");
LOOM_GPU_COPY("_backward_reshape");
LOOM_GPU_COPY("_grad_copy");

#undef LOOM_GPU_COPY

// y (req) = value.
void FillWith(double value, const OpContext& ctx, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull || y.size() == 0) return;
  if (value == 0 && Overwrites(req)) {
    LOOM_CUDA_CHECK(cudaMemsetAsync(y.ptr, 0, y.bytes(), Stream(ctx)));  // 0 is all-zero bits
  } else {
    Fill(y.dtype, y.ptr, y.size(), value, static_cast<int>(req), ctx.run.stream);
  }
}

template <int kValue>
void FillGpu(const NodeAttrs&, const OpContext& ctx, Views, Reqs req, Views out) {
  FillWith(kValue, ctx, out[0], req[0]);
}

LOOM_REGISTER_KERNEL("zeros_like", kGPU, FCompute(FillGpu<0>));
LOOM_REGISTER_KERNEL("ones_like", kGPU, FCompute(FillGpu<1>));
LOOM_REGISTER_KERNEL("_zeros", kGPU, FCompute(FillGpu<0>));
LOOM_REGISTER_KERNEL("_ones", kGPU, FCompute(FillGpu<1>));

// A known-zero gradient: written when overwriting, nothing to add for kAddTo.
void GradZerosGpu(const NodeAttrs&, const OpContext& ctx, Views, Reqs req, Views out) {
  if (Overwrites(req[0]) && out[0].size() > 0) {
    LOOM_CUDA_CHECK(cudaMemsetAsync(out[0].ptr, 0, out[0].bytes(), Stream(ctx)));
  }
}

// out (req) = the sum of the inputs; out may be input 0.
void GradSumGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  std::vector<const void*> ptrs;
  for (size_t k = 0; k < in.size(); ++k) {
    cpu::CheckSameShape(out[0], in[k], "_grad_sum", "out", "arg" + std::to_string(k));
    cpu::CheckSameDType(out[0], in[k], "_grad_sum", "out", "arg" + std::to_string(k));
    ptrs.push_back(in[k].ptr);
  }
  AddN(out[0].dtype, ptrs.data(), static_cast<int>(ptrs.size()), out[0].ptr, out[0].size(),
       static_cast<int>(req[0]), ctx.run.stream);
}

LOOM_REGISTER_KERNEL("_grad_zeros", kGPU, FCompute(GradZerosGpu));
LOOM_REGISTER_KERNEL("_grad_sum", kGPU, FCompute(GradSumGpu));

}  // namespace
}  // namespace loom::gpu
