// UpSampling (nearest neighbour) CPU kernels: each input pixel repeated over an integer block.
// (MXNet's bilinear UpSampling is a Deconvolution with a fixed kernel: see convolution.h.)
//
//   UpSamplingNearestForward(x, y, /*channel_offset=*/0, OpReq::kWriteTo);   // (N,C,H,W) ->
//   (N,C,sH,sW) UpSamplingNearestBackward(dy, 0, dx, OpReq::kWriteTo);                    // sums
//   each block
//
// The scale of each spatial axis is out size / in size (must divide). With several inputs
// (MXNet's num_args, multi_input_mode='concat'), input i writes channels [channel_offset,
// channel_offset + C_i) of the output; 'sum' mode adds with kAddTo. float16/32/64. Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"

namespace loom::cpu {

void UpSamplingNearestForward(const TensorView& x, const TensorView& y, int64_t channel_offset,
                              OpReq req);
void UpSamplingNearestBackward(const TensorView& dy, int64_t channel_offset, const TensorView& dx,
                               OpReq req);

/// Nearest upsampling of `small` (n, c, h, w) into channels [channel_offset, + c) of `big`
/// (n, big_c, h sh, w sw). Shared with the GPU kernels (operators/cuda/layout_gpu.cc).
struct UpSamplingGeometry {
  int64_t n, c, big_c, h, w, sh, sw;
};
/// Reads and checks the shapes (ShapeError) and dtypes (DTypeError), naming UpSampling.
UpSamplingGeometry UpSamplingNearestGeometry(const TensorView& small, const TensorView& big,
                                             int64_t channel_offset);

}  // namespace loom::cpu
