// Embedding and one_hot CPU kernels. Indices arrive in any numeric dtype (MXNet feeds them as
// floats); one outside [0, input_dim) / [0, depth) is a loom::Error naming it.
//
//   EmbeddingForward(indices, weight, out, OpReq::kWriteTo);     // out = indices.shape + (dim,)
//   EmbeddingBackward(out_grad, indices, weight_grad, OpReq::kWriteTo);
//   OneHot(indices, /*depth=*/10, 1.0, 0.0, out, OpReq::kWriteTo);
//
// Embedding's gradient is a scatter-add into weight_grad (rows hit twice get both); the indices
// get no gradient. float16/float32/float64 weights. Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"

namespace loom::cpu {

/// out[i, :] = weight[indices[i], :]; weight is (input_dim, output_dim).
void EmbeddingForward(const TensorView& indices, const TensorView& weight, const TensorView& out,
                      OpReq req);
/// weight_grad[indices[i], :] += out_grad[i, :] (kWriteTo zeroes weight_grad first).
void EmbeddingBackward(const TensorView& out_grad, const TensorView& indices,
                       const TensorView& weight_grad, OpReq req);

/// out[i, j] = j == indices[i] ? on_value : off_value; out is indices.shape + (depth,).
void OneHot(const TensorView& indices, int64_t depth, double on_value, double off_value,
            const TensorView& out, OpReq req);

}  // namespace loom::cpu
