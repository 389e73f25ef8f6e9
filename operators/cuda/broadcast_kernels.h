// Launchers of the broadcast GPU kernels (operators/cuda/broadcast.cu): binary arithmetic with
// NumPy broadcasting and the element-wise half of its gradient. The host describes the walk with
// an IndexMap (merged axes of the full shape and each operand's stride along them, 0 where it
// repeats; see MakeIndexMap in broadcast_gpu.h). Enqueues on `stream`; `req` is loom::OpReq's
// value. C++17-safe: included by .cu and *_gpu.cc files.
//
//   IndexMap m = MakeIndexMap(out.shape, {&a.shape, &b.shape}, "broadcast_add");
//   BroadcastForward(BinaryKind::kAdd, DType::kFloat32, a, b, m, out, n, /*req=*/1, stream, "...");
//
// float16 (float arithmetic), float32, float64. Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/dtype.h"
#include "operators/cuda/elemwise_kernels.h"

namespace loom::gpu {

/// Most merged axes a walk may have (axes that broadcast alike merge, so this bounds the number
/// of alternations between broadcast and full axes, not the arrays' ndim).
constexpr int kMaxIndexDims = 12;
constexpr int kMaxIndexOperands = 3;

/// A contiguous full shape walked together with operands broadcast to it.
struct IndexMap {
  int ndim = 0;                                            ///< merged axes (0: a single element)
  int64_t dims[kMaxIndexDims] = {};                        ///< merged sizes of the full shape
  int64_t strides[kMaxIndexOperands][kMaxIndexDims] = {};  ///< per operand; 0 where it repeats
};

/// out = a op b; m's operands are (a, b), its full shape out's; n = out's element count.
void BroadcastForward(BinaryKind op, DType dtype, const void* a, const void* b, const IndexMap& m,
                      void* out, int64_t n, int req, void* stream, const char* what);

/// ga = dy * d(a op b)/da and gb = dy * d(a op b)/db at full size (n elements of dy's shape),
/// each written as its req says (0 skips it); m's operands are (a, b).
void BroadcastGradFull(BinaryKind op, DType dtype, const void* dy, const void* a, const void* b,
                       const IndexMap& m, void* ga, int ga_req, void* gb, int gb_req, int64_t n,
                       void* stream, const char* what);

}  // namespace loom::gpu
