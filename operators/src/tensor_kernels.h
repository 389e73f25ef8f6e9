// Helpers for wiring the tensor operators' schemas (operators/src/) to the CPU kernels of
// operators/cpu/: short names for the kernel arguments, output entries of nodes, and the common
// gradient shapes (identity, zero, one backward node).
//
//   void ExpKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
//     cpu::UnaryForward(cpu::UnaryOp::kExp, in[0], out[0], req[0]);
//   }
//   LOOM_REGISTER_OP(exp)...Kernel(DeviceType::kCPU, FCompute(ExpKernel))
//       .Gradient(BackwardOf("_backward_exp", {kOutGrad, kOutput0}));
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "loom/core/gradient.h"
#include "loom/core/kernel.h"
#include "op_common.h"

namespace loom::ops {

using Inputs = std::span<const TensorView>;
using Reqs = std::span<const OpReq>;
using Outputs = std::span<const TensorView>;

/// Output i of a node, as an entry.
inline NodeEntry OutputOf(const NodePtr& n, uint32_t i) { return NodeEntry{n, i, 0}; }


/// What a backward node reads, in order: the head gradient of output 0, a forward input or a
/// forward output.
struct BackwardInput {
  enum class Kind { kOutGrad, kInput, kOutput } kind;
  uint32_t index = 0;
};
inline constexpr BackwardInput kOutGrad{BackwardInput::Kind::kOutGrad, 0};
inline constexpr BackwardInput InputAt(uint32_t i) { return {BackwardInput::Kind::kInput, i}; }
inline constexpr BackwardInput OutputAt(uint32_t i) { return {BackwardInput::Kind::kOutput, i}; }

/// A gradient made of one backward node `op` reading `reads`; its outputs are the gradients of
/// the forward inputs in order (one output per forward input).
inline GradientFn BackwardOf(std::string op, std::vector<BackwardInput> reads) {
  return [op = std::move(op), reads = std::move(reads)](const NodePtr& n,
                                                        const std::vector<NodeEntry>& g) {
    std::vector<NodeEntry> in;
    for (const BackwardInput& r : reads) {
      switch (r.kind) {
        case BackwardInput::Kind::kOutGrad:
          in.push_back(g[0]);
          break;
        case BackwardInput::Kind::kInput:
          in.push_back(n->inputs[r.index]);
          break;
        case BackwardInput::Kind::kOutput:
          in.push_back(OutputOf(n, r.index));
          break;
      }
    }
    NodePtr bw = MakeBackwardNode(op, n, std::move(in));
    std::vector<NodeEntry> grads;
    for (uint32_t i = 0; i < n->inputs.size(); ++i) grads.push_back(OutputOf(bw, i));
    return grads;
  };
}

/// The head gradient passes unchanged to every input (copies, reshapes, add_n).
inline std::vector<NodeEntry> IdentityGradient(const NodePtr& n, const std::vector<NodeEntry>& g) {
  return std::vector<NodeEntry>(n->inputs.size(), g[0]);
}

/// No gradient flows to any input (BlockGrad, zeros_like, argmax).
inline std::vector<NodeEntry> ZeroGradient(const NodePtr& n, const std::vector<NodeEntry>&) {
  return std::vector<NodeEntry>(n->inputs.size(), NodeEntry{});
}

}  // namespace loom::ops
