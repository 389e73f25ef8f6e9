// The GPU update kernel: each thread runs the CPU's loop body (update_kernels.h) on its elements,
// so both devices compute the same rounding, operation by operation.
#include "optim/cuda/update_kernels_gpu.h"

#include "operators/cuda/launch.cuh"

namespace loom::train::detail {
namespace {

template <typename T>
__global__ void UpdateKernel(UpdateRule rule, T* w, const T* g, T* s0, T* s1, int64_t n,
                             UpdateScalars<T> s) {
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    switch (rule) {
      case UpdateRule::kSgd:
        SgdKernel(w, g, s0, i, i + 1, s);
        break;
      case UpdateRule::kNag:
        if (s0 != nullptr) {
          NagKernel(w, g, s0, i, i + 1, s);
        } else {
          PlainSgdKernel(w, g, i, i + 1, s);
        }
        break;
      case UpdateRule::kAdam:
        AdamKernel(w, g, s0, s1, i, i + 1, s);
        break;
      case UpdateRule::kAdamW:
        AdamWKernel(w, g, s0, s1, i, i + 1, s);
        break;
      case UpdateRule::kRmsProp:
        RmsPropKernel(w, g, s0, i, i + 1, s);
        break;
      case UpdateRule::kAdaGrad:
        AdaGradKernel(w, g, s0, i, i + 1, s);
        break;
    }
  }
}

}  // namespace

template <typename T>
void GpuUpdate(UpdateRule rule, T* w, const T* g, T* s0, T* s1, int64_t n,
               const UpdateScalars<T>& s, void* stream) {
  if (n == 0) return;
  UpdateKernel<T><<<gpu::Blocks(n), gpu::kThreads, 0, gpu::Stream(stream)>>>(rule, w, g, s0, s1,
                                                                             n, s);
  gpu::CheckLaunch("optimizer update");
}

template void GpuUpdate<float>(UpdateRule, float*, const float*, float*, float*, int64_t,
                               const UpdateScalars<float>&, void*);
template void GpuUpdate<double>(UpdateRule, double*, const double*, double*, double*, int64_t,
                                const UpdateScalars<double>&, void*);

}  // namespace loom::train::detail
