// The engine operations comm pushes on arrays: sums over devices, copies with a priority, and
// packing arrays into (and out of) one flat bucket. Host arrays get one engine operation each
// (plain loops and memcpy); arrays on GPUs go through NDArray copies and a CUDA sum kernel.
#pragma once

#include <cstddef>
#include <vector>

#include "cuda/gpu_sum.h"
#include "loom/core/ndarray.h"

namespace loom::comm::detail {

/// dst = srcs[0] + srcs[1] + ... (in that order). Same shape and dtype (float32/float64); any
/// contexts (other devices' arrays are copied to dst's device first). dst may be srcs[0].
void PushSum(const std::vector<NDArray>& srcs, const NDArray& dst, int priority);
/// dst = src; a prioritised memcpy between host arrays, NDArray::CopyFrom otherwise.
void PushCopy(const NDArray& src, const NDArray& dst, int priority);
/// Copies srcs[i] into dst at element offsets[i] (dst flat, same dtype and context).
void PushPack(const std::vector<NDArray>& srcs, const std::vector<size_t>& offsets,
              const NDArray& dst, int priority);
/// The inverse of PushPack.
void PushUnpack(const NDArray& src, const std::vector<size_t>& offsets,
                const std::vector<NDArray>& dsts, int priority);

}  // namespace loom::comm::detail
