// A fast path for 2-D Pooling (N, C, H, W): max, avg and sum with any kernel, stride and padding,
// global or not. Same results as PoolingForward / PoolingBackward (pooling.h) on 2-D data (max
// takes the window's first maximum in row-major order), several times faster: the window bounds
// of every output row and column are computed once per call, and the loops over a window have
// unit stride; 2x2 max pooling with stride 2 has its own fixed loops.
//
//   if (Pooling2DApplies(p, data.shape)) Pooling2DForward(p, data, out, OpReq::kWriteTo);
//
// Planes run in parallel (ParallelFor). float32 and float64. Thread-safe.
#pragma once

#include "loom/core/kernel.h"
#include "operators/cpu/pooling.h"

namespace loom::cpu {

/// True for 4-D (N, C, H, W) data: what this path handles.
bool Pooling2DApplies(const PoolingParams& p, const Shape& data);

void Pooling2DForward(const PoolingParams& p, const TensorView& data, const TensorView& out,
                      OpReq req);
void Pooling2DBackward(const PoolingParams& p, const TensorView& out_grad, const TensorView& data,
                       const TensorView& data_grad, OpReq req);

}  // namespace loom::cpu
