// The gradient pass (MXNet's nnvm Gradient) and the helpers operators use to write their
// GradientFn. The executor runs the pass at bind; operators only write GradientFns.
//
//   // A GradientFn for y = a * b: dL/da = g * b, dL/db = g * a, as one backward node.
//   .Gradient([](const loom::NodePtr& n, const std::vector<loom::NodeEntry>& g) {
//     loom::NodePtr bw = loom::MakeBackwardNode("_backward_mul", n,
//                                               {g[0], n->inputs[0], n->inputs[1]});
//     return std::vector<loom::NodeEntry>{{bw, 0, 0}, {bw, 1, 0}};
//   })
//   // BlockGrad: no gradient flows to its input.
//   .Gradient([](const loom::NodePtr&, const std::vector<loom::NodeEntry>&) {
//     return std::vector<loom::NodeEntry>{loom::NodeEntry{}};
//   })
//
//   loom::GradientGraph gg = loom::BuildGradient(symbol.outputs(), {x_entry});
//   // gg.grads[0] is dL/dx in terms of gg.head_grads (one variable per output).
//
// The contract a GradientFn follows (see docs/executor.md, "Gradient contract"):
// - It is called once per node that lies on a path to a requested variable and receives a
//   non-zero gradient on some output; out_grads has one entry per output (hidden outputs too), an
//   output without gradient gets a `_grad_zeros` entry of the output's shape.
// - It returns one entry per input, in order, with that input's shape and dtype. NodeEntry{} is a
//   zero gradient; entries at auxiliary-state positions are ignored.
// - Backward nodes are ordinary operator nodes (`_backward_<Op>`, registered like any operator,
//   with CPU kernels). Because every returned entry has its input's shape, the executor presets
//   those shapes and dtypes, so backward operators need no shape rules of their own.
//
// Thread safety: the functions create new nodes and only read existing ones.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loom/core/graph.h"
#include "loom/core/op_param.h"

namespace loom {

/// The gradient graph of ys with respect to xs.
struct GradientGraph {
  /// dL/dx per x, in order; an x whose gradient is zero gets a `_grad_zeros` node.
  std::vector<NodeEntry> grads;
  /// One head-gradient variable per y, named `_head_grad_<i>`; a loss head's is usually unused.
  std::vector<NodePtr> head_grads;
  /// (gradient entry, forward entry) pairs that have the same shape and dtype: every returned
  /// input gradient with its input, every head gradient with its output, every sum with its entry.
  std::vector<std::pair<NodeEntry, NodeEntry>> same_as;
};

/// Builds dL/dxs (MXNet's algorithm): nodes in reverse topological order; gradients of an entry
/// used several times summed by one `_grad_sum` node; zero gradients dropped from sums and never
/// propagated (a node whose outputs all have zero gradients is skipped, so BlockGrad prunes what
/// lies behind it); nodes from which no x is reachable are never differentiated.
/// @throws loom::Error "Operator X (node 'n') is non-differentiable because it registers no
///         Gradient function..." and "Cannot differentiate with respect to the i-th variable
///         'x' because it is unreachable from the outputs".
GradientGraph BuildGradient(const std::vector<NodeEntry>& ys, const std::vector<NodeEntry>& xs);

/// A backward node for GradientFns: operator op_name (looked up; throws when unknown), the forward
/// node's attributes (dictionary and parsed parameters, so kernels read the forward parameters),
/// name `<forward name><suffix>`, control_deps = {forward}, and the given inputs.
NodePtr MakeBackwardNode(std::string_view op_name, const NodePtr& forward,
                         std::vector<NodeEntry> inputs, std::string_view suffix = "_backward");

/// An ordinary operator node built inside a GradientFn (e.g. `_mul` of the head gradient and an
/// input): parameters parsed from params, name `<forward name><suffix>`, control_deps = {forward}
/// (so placement puts it with the forward node).
NodePtr MakeGradOpNode(std::string_view op_name, const NodePtr& forward, std::string_view suffix,
                       std::vector<NodeEntry> inputs, const StrMap& params = {});

/// True for entries of `_grad_zeros` nodes (known-zero gradients).
bool IsZeroGradient(const NodeEntry& entry);

}  // namespace loom
