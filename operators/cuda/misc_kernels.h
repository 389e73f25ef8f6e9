// Launchers of the LeakyReLU GPU kernels (operators/cuda/misc.cu), for misc_gpu.cc.
//
//   LeakyParams p{.type = LeakyKind::kPrelu, .channels = C, .inner = H * W};
//   LeakyReLUForward(DType::kFloat32, p, x, gamma, y, nullptr, n, kReqWriteTo, stream);
//
// Pointers are device memory; `req` is loom::OpReq's value; launches are enqueued on `stream`
// and return at once. C++17-safe.
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::gpu {

enum class LeakyKind : int { kLeaky, kPrelu, kRrelu, kElu, kSelu, kGelu };

struct LeakyParams {
  LeakyKind type = LeakyKind::kLeaky;
  double slope = 0.25;  ///< leaky, elu; rrelu outside training: (lower + upper) / 2
  double lower_bound = 0.125, upper_bound = 0.334;
  /// prelu: gamma index of element i is channels == 1 ? 0 : (i / inner) % channels.
  int64_t channels = 1, inner = 1;
  bool rrelu_train = false;  ///< draw a slope per element into mask from `seed`
  uint64_t seed = 0;
};

/// y (and, for rrelu in training, mask) from x (and prelu's gamma). float16/32/64 (the CPU's
/// prelu and rrelu lack float16).
void LeakyReLUForward(DType dtype, const LeakyParams& p, const void* x, const void* gamma, void* y,
                      void* mask, int64_t n, int req, void* stream);
/// mask = value everywhere (rrelu outside training).
void FillValue(DType dtype, void* dst, int64_t n, double value, void* stream);
/// dx = dy * f'(x) (rrelu: the slope in mask when mask is non-null). With gamma_req != null
/// (prelu), gamma_grad[c] = sum over channel c of dy * x where x <= 0; `scratch` holds
/// gamma_size doubles.
void LeakyReLUBackward(DType dtype, const LeakyParams& p, const void* dy, const void* x,
                       const void* gamma, const void* mask, void* dx, int req, void* gamma_grad,
                       int gamma_req, int64_t gamma_size, double* scratch, int64_t n, void* stream);

}  // namespace loom::gpu
