// FullyConnected CPU kernels: out = data · weightᵀ + bias on OpenBLAS, and its gradients.
//
//   FullyConnectedParams p{.num_hidden = 1024};
//   FullyConnectedForward(p, data, weight, &bias, out, OpReq::kWriteTo);
//   FullyConnectedBackward(p, out_grad, data, weight, data_grad, OpReq::kWriteTo,
//                          weight_grad, OpReq::kWriteTo, &bias_grad, OpReq::kAddTo);
//
// Shapes (MXNet's): flatten: data (N, ...) is (N, K) with K = prod(data.shape[1:]); otherwise the
// last axis is K and every other axis is a row. weight (num_hidden, K), bias (num_hidden,) or
// (num_hidden, 1), out (rows, num_hidden). float32 and float64. Thread-safe (no shared state).
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"

namespace loom::cpu {

struct FullyConnectedParams {
  int64_t num_hidden = 0;
  bool no_bias = false;
  bool flatten = true;
};

/// The product's sizes: out (rows x h) = data (rows x k) · weightᵀ (k x h).
struct FullyConnectedDims {
  int64_t rows = 0;  // M
  int64_t k = 0;     // input features
  int64_t h = 0;     // num_hidden
};

/// Reads data's shape as above and checks weight's shape, out's size and that all three share a
/// dtype (ShapeError/DTypeError naming FullyConnected). Shared with the GPU kernels.
FullyConnectedDims FullyConnectedShapes(const FullyConnectedParams& p, const TensorView& data,
                                        const TensorView& weight, const TensorView& out);

/// out (req) = data · weightᵀ + bias; bias is ignored (may be null) when p.no_bias.
void FullyConnectedForward(const FullyConnectedParams& p, const TensorView& data,
                           const TensorView& weight, const TensorView* bias, const TensorView& out,
                           OpReq req);

/// data_grad = out_grad · weight, weight_grad = out_gradᵀ · data, bias_grad = column sums of
/// out_grad, each written as its req says (kNull skips it; bias_grad may be null then).
void FullyConnectedBackward(const FullyConnectedParams& p, const TensorView& out_grad,
                            const TensorView& data, const TensorView& weight,
                            const TensorView& data_grad, OpReq data_req,
                            const TensorView& weight_grad, OpReq weight_req,
                            const TensorView* bias_grad, OpReq bias_req);

}  // namespace loom::cpu
