// pick and batch_take CPU kernels: one element per position, chosen by an index array (any
// numeric dtype; float indices are truncated, as MXNet does).
//
//   PickForward(data, index, /*axis=*/1, PickMode::kClip, out, OpReq::kWriteTo);  // (N,K)->(N,)
//   PickBackward(out_grad, index, 1, PickMode::kClip, data_grad, OpReq::kWriteTo);
//   BatchTake(a, indices, out, OpReq::kWriteTo);                                   // a (N, K)
//
// pick: data viewed as (outer, n, inner) around `axis`; index and out hold outer * inner values
// (keepdims only changes their shapes); an index outside [0, n) is clipped to the ends (kClip) or
// taken modulo n (kWrap). The gradient scatters out_grad to the picked elements (zero elsewhere).
// batch_take: out[i] = a[i, indices[i]] with a viewed as (indices.size, K); indices clipped to
// [0, K). Every dtype forward; float16/32/64 gradients. Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"

namespace loom::cpu {

enum class PickMode : uint8_t { kClip, kWrap };

void PickForward(const TensorView& data, const TensorView& index, int axis, PickMode mode,
                 const TensorView& out, OpReq req);
void PickBackward(const TensorView& out_grad, const TensorView& index, int axis, PickMode mode,
                  const TensorView& data_grad, OpReq req);

void BatchTake(const TensorView& a, const TensorView& indices, const TensorView& out, OpReq req);

}  // namespace loom::cpu
