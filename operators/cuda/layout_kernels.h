// Launchers of the data-movement GPU kernels (operators/cuda/layout.cu), for layout_gpu.cc:
// one strided N-d copy for transpose / SwapAxis / slice / slice_axis / Crop / Concat /
// SliceChannel and their gradients, Pad and its gradient, nearest UpSampling and the depthwise
// deconvolution of bilinear UpSampling.
//
//   StridedView v = ...;                       // the strided side, over the contiguous shape
//   StridedMove(DType::kFloat32, v, x, y, /*gather=*/true, kReqWriteTo, stream, "transpose");
//
// Pointers are device memory; `req` is loom::OpReq's value; launches are enqueued on `stream`
// and return at once. C++17-safe (included by the .cu and the C++20 .cc).
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::gpu {

constexpr int kMaxStridedDims = 12;

/// A strided view: element (c_0, ..., c_{ndim-1}) of the contiguous shape `dims` lies at
/// offset + sum c_d * strides[d] on the strided side.
struct StridedView {
  int ndim = 0;
  int64_t dims[kMaxStridedDims] = {};
  int64_t strides[kMaxStridedDims] = {};
  int64_t offset = 0;
};

/// gather: dst (contiguous) <- src (strided); scatter: dst (strided) <- src (contiguous).
/// Writes or accumulates as req says. Every dtype.
void StridedMove(DType dtype, const StridedView& view, const void* src, void* dst, bool gather,
                 int req, void* stream, const char* op);

/// Pad over ndim (<= 5) axes: mode 0 constant, 1 edge, 2 reflect; before[d] is the leading width.
void PadForward(DType dtype, int ndim, const int64_t* x_dims, const int64_t* y_dims,
                const int64_t* before, int mode, double constant_value, const void* x, void* y,
                int req, void* stream);
/// dx[j] = the sum of dy over the padded positions whose source is j (no atomics: a gather).
void PadBackward(DType dtype, int ndim, const int64_t* x_dims, const int64_t* y_dims,
                 const int64_t* before, int mode, const void* dy, void* dx, int req, void* stream);

/// Nearest UpSampling of x (n, c, h, w) into channels [channel_offset, channel_offset + c) of
/// y (n, big_c, h * sh, w * sw), and its gradient (block sums).
void UpSamplingNearestForward(DType dtype, int64_t n, int64_t c, int64_t big_c, int64_t h,
                              int64_t w, int64_t sh, int64_t sw, int64_t channel_offset,
                              const void* x, void* y, int req, void* stream);
void UpSamplingNearestBackward(DType dtype, int64_t n, int64_t c, int64_t big_c, int64_t h,
                               int64_t w, int64_t sh, int64_t sw, int64_t channel_offset,
                               const void* dy, void* dx, int req, void* stream);

/// A depthwise 2-D deconvolution (bilinear UpSampling): x (n, c, h, w), weight (c, 1, k, k),
/// stride s, padding p, y (n, c, oh, ow). float16/32/64 (the CPU's Deconvolution lacks float16).
struct DepthwiseDeconv {
  int64_t n, c, h, w, oh, ow, k, s, p;
};
void DepthwiseDeconvForward(DType dtype, const DepthwiseDeconv& g, const void* x,
                            const void* weight, void* y, int req, void* stream);
/// dx (req dx_req) and dweight (req w_req) from dy; either may be skipped with kReqNull.
void DepthwiseDeconvBackward(DType dtype, const DepthwiseDeconv& g, const void* dy, const void* x,
                             const void* weight, void* dx, int dx_req, void* dweight, int w_req,
                             void* stream);

}  // namespace loom::gpu
