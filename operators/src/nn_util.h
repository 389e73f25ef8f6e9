// Helpers of the neural-network operators' registrations (fully_connected.cc, convolution.cc,
// batch_norm.cc, ...): the FCompute argument types, gradient-node outputs and the dtype rules of
// backward operators.
//
//   void FooCompute(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out);
//   .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
//     NodePtr bw = MakeBackwardNode("_backward_Foo", n, {g[0], n->inputs[0]});
//     return BackwardOutputs(bw, n->inputs.size());
//   })
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "loom/core/gradient.h"
#include "loom/core/kernel.h"
#include "shape_util.h"

namespace loom::ops {

using Views = std::span<const TensorView>;
using Reqs = std::span<const OpReq>;

/// Output i of node n.
inline NodeEntry Out(const NodePtr& n, uint32_t i) { return NodeEntry{n, i, 0}; }

/// The first `count` outputs of a backward node, one per forward input.
inline std::vector<NodeEntry> BackwardOutputs(const NodePtr& bw, size_t count) {
  std::vector<NodeEntry> grads;
  for (uint32_t i = 0; i < count; ++i) grads.push_back(Out(bw, i));
  return grads;
}

/// Window operators' parameter checks (Convolution, Deconvolution, Pooling): every kernel size is
/// positive.
inline void CheckKernelSizes(const Shape& kernel) {
  for (int i = 0; i < kernel.ndim(); ++i) {
    LOOM_CHECK(kernel[i] > 0, "parameter 'kernel': expected positive sizes but got ",
               kernel.ToString());
  }
}

/// A per-axis window parameter (stride, dilate, pad, ...): unset (empty), it becomes `value` on
/// each of the kernel's axes; set, it must have one value per kernel axis.
inline void FillPerAxis(Shape& s, const char* name, int64_t value, const Shape& kernel) {
  const int k = kernel.ndim();
  if (s.ndim() == 0) s = Shape(std::vector<int64_t>(k, value));
  LOOM_CHECK(s.ndim() == k, "parameter '", name, "': expected ", k, " values (as many as kernel ",
             kernel.ToString(), ") but got ", s.ToString());
}

/// No resources: for kernels that keep their own scratch memory.
inline std::vector<ResourceKind> NoResources(const NodeAttrs&) { return {}; }

/// A backward operator's dtypes: every output takes the dtype of input `from` (the gradient
/// flowing back); the other inputs (labels, indices, float32 statistics) keep their own.
template <size_t from>
void OutputsLikeInput(TypeContext& ctx) {
  for (size_t j = 0; j < ctx.num_outputs(); ++j) {
    if (ctx.out(j) == DType::kUnknown) ctx.SetOut(j, ctx.in(from));
  }
}

}  // namespace loom::ops
