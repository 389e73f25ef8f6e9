// Host-side helpers of the reduction and broadcast GPU kernels (C++20): index maps and reduction
// plans built from shapes with the CPU kernels' Walk (same merging of axes), and summing an array
// back to a broadcast operand's shape. Implemented in reduce_gpu.cc and broadcast_gpu.cc.
//
//   const ReducePlan plan = SumToShapePlan(dy.shape, da.shape, "_backward_broadcast_add");
//   void* scratch = gpu::Workspace(ctx, ReduceScratchBytes(plan, dy.dtype));
//   Reduce(ReduceKind::kSum, dy.dtype, dy.ptr, plan, da.ptr, req, scratch, stream, "...");
//
// Pure functions; thread-safe.
#pragma once

#include <initializer_list>

#include "loom/core/shape.h"
#include "operators/cuda/broadcast_kernels.h"
#include "operators/cuda/reduce_kernels.h"

namespace loom::gpu {

/// The walk of `full` with operands broadcast to it (at most kMaxIndexOperands). Throws
/// ShapeError naming `what` when an operand does not broadcast, NotSupportedError when more than
/// kMaxIndexDims merged axes remain.
IndexMap MakeIndexMap(const Shape& full, std::initializer_list<const Shape*> operands,
                      const char* what);

/// The reduction of `full` onto `kept` (full's shape with the reduced axes set to 1).
ReducePlan MakeReducePlan(const Shape& full, const Shape& kept, const char* what);

/// The reduction of `src` onto `dst` aligned on the right (dst's axes of size 1, and src's
/// leading axes dst lacks, are summed): the gradient of broadcasting dst to src.
ReducePlan SumToShapePlan(const Shape& src, const Shape& dst, const char* what);

}  // namespace loom::gpu
