// Launchers of the index-driven GPU kernels (operators/cuda/indexing.cu), for indexing_gpu.cc:
// Embedding and its weight gradient, one_hot, pick and its gradient, batch_take.
//
//   EmbeddingForward(DType::kFloat32, DType::kInt32, idx, weight, out, n, input_dim, dim,
//                    kReqWriteTo, stream);
//
// Indices come in any numeric dtype (`index_dtype`) and are read as the CPU reads them (as a
// double, truncated towards zero). The CPU kernels reject out-of-range Embedding and one_hot
// indices with an error; a GPU kernel cannot raise one without synchronising, so Embedding clips
// them to [0, input_dim) (as MXNet's GPU kernel does) and one_hot writes a row of off_value (as
// MXNet does). pick and batch_take clip or wrap as on the CPU. Launches are enqueued on `stream`
// and return at once. C++17-safe.
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"

namespace loom::gpu {

/// out[i, :] = weight[clip(indices[i]), :] for n indices; weight (input_dim, dim). float16/32/64.
void EmbeddingForward(DType dtype, DType index_dtype, const void* indices, const void* weight,
                      void* out, int64_t n, int64_t input_dim, int64_t dim, int req, void* stream);
/// weight_grad[clip(indices[i]), :] += out_grad[i, :] (kWriteTo zeroes weight_grad first).
/// float and double scatter with atomicAdd; float16 sums in a float32 scratch (`scratch`,
/// input_dim * dim floats) and rounds once.
void EmbeddingBackward(DType dtype, DType index_dtype, const void* out_grad, const void* indices,
                       void* weight_grad, float* scratch, int64_t n, int64_t input_dim, int64_t dim,
                       int req, void* stream);

/// out[i, j] = j == indices[i] ? on : off over n indices and depth columns; any out dtype.
void OneHot(DType dtype, DType index_dtype, const void* indices, void* out, int64_t n,
            int64_t depth, double on_value, double off_value, int req, void* stream);

/// pick over data viewed as (outer, axis_len, inner); wrap: index modulo axis_len, else clipped.
void PickForward(DType dtype, DType index_dtype, const void* data, const void* index, void* out,
                 int64_t outer, int64_t axis_len, int64_t inner, bool wrap, int req, void* stream);
/// data_grad at the picked elements += out_grad (kWriteTo zeroes data_grad first).
void PickBackward(DType dtype, DType index_dtype, const void* out_grad, const void* index,
                  void* data_grad, int64_t outer, int64_t axis_len, int64_t inner, bool wrap,
                  int req, void* stream);

/// out[i] = a[i, clip(indices[i])] with a viewed as (n, k); any dtype.
void BatchTake(DType dtype, DType index_dtype, const void* a, const void* indices, void* out,
               int64_t n, int64_t k, int req, void* stream);

}  // namespace loom::gpu
