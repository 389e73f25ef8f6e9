// Convolution and Deconvolution CPU kernels (1-D, 2-D, 3-D; groups, stride, dilation, padding):
// oneDNN for float32 (im2col + GEMM for Convolution geometries oneDNN handles poorly, see
// ConvolutionAlgorithm), im2col + GEMM for float64.
//
//   ConvolutionParams p{.kernel = {5, 5}, .num_filter = 20};
//   ConvolutionForward(p, data, weight, &bias, out, OpReq::kWriteTo);          // NCHW
//   ConvolutionBackward(p, out_grad, data, weight, data_grad, OpReq::kWriteTo,
//                       weight_grad, OpReq::kWriteTo, &bias_grad, OpReq::kWriteTo);
//
// Shapes are MXNet's. Convolution: data (N, C, *in), weight (num_filter, C/num_group, *kernel),
// bias (num_filter,), out (N, num_filter, *out) with out = (in + 2 pad - (dilate (k - 1) + 1)) /
// stride + 1. With channel_last the layouts are (N, *in, C), (num_filter, *kernel, C/num_group)
// and (N, *out, num_filter) (float32 only). Deconvolution (the transpose of Convolution):
// data (N, C, *in), weight (C, num_filter/num_group, *kernel), out (N, num_filter, *out) where
// out is any size with ConvOutputSize(out) == in (MXNet's adj and target_shape choose it; pass
// MXNet's effective pad).
//
// oneDNN primitives, reorder buffers and streams are cached per calling thread and per geometry
// (engine workers are long-lived threads), so each call after the first only executes. oneDNN
// runs with AvailableThreads() OpenMP threads. Thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "loom/core/kernel.h"

namespace loom::cpu {

struct ConvolutionParams {
  std::vector<int64_t> kernel;  ///< 1 to 3 spatial sizes
  std::vector<int64_t> stride;  ///< empty: all 1
  std::vector<int64_t> dilate;  ///< empty: all 1
  std::vector<int64_t> pad;     ///< empty: all 0 (the same on both sides)
  int64_t num_filter = 0;       ///< output channels
  int64_t num_group = 1;
  bool no_bias = false;
  bool channel_last = false;  ///< NWC / NHWC / NDHWC instead of NCW / NCHW / NCDHW
};

/// Output length of a convolution along one axis.
inline int64_t ConvOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t dilate,
                              int64_t pad) {
  return (in + 2 * pad - (dilate * (kernel - 1) + 1)) / stride + 1;
}

void ConvolutionForward(const ConvolutionParams& p, const TensorView& data,
                        const TensorView& weight, const TensorView* bias, const TensorView& out,
                        OpReq req);

/// Gradients wrt data, weight and bias, each as its req says (kNull skips; bias_grad may be null
/// when no_bias or bias_req is kNull).
void ConvolutionBackward(const ConvolutionParams& p, const TensorView& out_grad,
                         const TensorView& data, const TensorView& weight,
                         const TensorView& data_grad, OpReq data_req, const TensorView& weight_grad,
                         OpReq weight_req, const TensorView* bias_grad, OpReq bias_req);

void DeconvolutionForward(const ConvolutionParams& p, const TensorView& data,
                          const TensorView& weight, const TensorView* bias, const TensorView& out,
                          OpReq req);

void DeconvolutionBackward(const ConvolutionParams& p, const TensorView& out_grad,
                           const TensorView& data, const TensorView& weight,
                           const TensorView& data_grad, OpReq data_req,
                           const TensorView& weight_grad, OpReq weight_req,
                           const TensorView* bias_grad, OpReq bias_req);

/// Drops the calling thread's cached oneDNN primitives and buffers.
void ClearConvolutionCache();

/// How float32 Convolution is computed. kAuto: im2col + GEMM for one-group, channel-first
/// convolutions with at least 16 input channels where oneDNN's 16-channel blocks would add half
/// again as much work on padding (LeNet's 20 -> 50 layer), oneDNN otherwise. Deconvolution always
/// uses oneDNN for float32; float64 always uses im2col + GEMM.
enum class ConvolutionAlgorithm { kAuto, kOneDnn, kIm2colGemm };

/// Sets the algorithm for every convolution started afterwards (process-wide; for tests and
/// benchmarks). Channel-last layouts always use oneDNN.
void SetConvolutionAlgorithm(ConvolutionAlgorithm algorithm);
ConvolutionAlgorithm GetConvolutionAlgorithm();

}  // namespace loom::cpu
