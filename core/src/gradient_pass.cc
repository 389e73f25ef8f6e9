// The gradient pass: MXNet's nnvm Gradient algorithm over Loom's graph (see gradient.h).
#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "grad_ops.h"
#include "loom/core/gradient.h"
#include "loom/core/operator.h"

namespace loom {
namespace {

// "<node>" for single-output nodes, "<node>_output<j>" otherwise: names derived nodes.
std::string EntryLabel(const NodeEntry& e) {
  if (e.node->num_outputs() == 1) return e.node->attrs.name;
  return e.node->attrs.name + "_output" + std::to_string(e.index);
}

NodeEntry ZerosLike(const NodeEntry& like) {
  auto n = std::make_shared<Node>();
  n->attrs.op = &detail::GradZerosOp();
  n->attrs.name = EntryLabel(like) + "_zero_grad";
  n->inputs.push_back(like);
  return NodeEntry{n, 0, 0};
}

class GradientBuilder {
 public:
  GradientGraph Build(const std::vector<NodeEntry>& ys, const std::vector<NodeEntry>& xs) {
    PostOrderDFS(ys, [this](const NodePtr& n) {
      pos_.emplace(n.get(), topo_.size());
      topo_.push_back(n);
    });
    MarkNeeded(xs);
    for (size_t i = 0; i < ys.size(); ++i) {
      NodePtr head = Node::CreateVariable("_head_grad_" + std::to_string(i));
      result_.head_grads.push_back(head);
      NodeEntry g{head, 0, 0};
      Contributions(ys[i]).push_back(g);
      result_.same_as.emplace_back(g, ys[i]);
    }
    for (size_t i = topo_.size(); i-- > 0;) {
      if (!topo_[i]->is_variable() && needed_[i]) Differentiate(topo_[i]);
    }
    for (size_t i = 0; i < xs.size(); ++i) {
      const NodeEntry& x = xs[i];
      LOOM_CHECK(pos_.count(x.node.get()) != 0, "Cannot differentiate with respect to the ", i,
                 "-th variable '", x.node->attrs.name,
                 "' because it is unreachable from the outputs");
      NodeEntry g = Aggregate(x);
      result_.grads.push_back(g.node ? g : ZerosLike(x));
    }
    return std::move(result_);
  }

 private:
  // needed_[i]: some x is reachable from topo_[i] (through inputs), so its gradient matters.
  void MarkNeeded(const std::vector<NodeEntry>& xs) {
    std::unordered_set<const Node*> targets;
    for (const NodeEntry& x : xs) targets.insert(x.node.get());
    needed_.assign(topo_.size(), false);
    for (size_t i = 0; i < topo_.size(); ++i) {
      const Node& n = *topo_[i];
      bool need = targets.count(&n) != 0;
      for (const NodeEntry& e : n.inputs) need = need || needed_[pos_.at(e.node.get())];
      needed_[i] = need;
    }
  }

  std::vector<NodeEntry>& Contributions(const NodeEntry& e) {
    auto& outs = grads_[e.node.get()];
    if (outs.size() <= e.index) outs.resize(e.node->num_outputs());
    return outs[e.index];
  }

  // The summed gradient of e, or a null entry when it is zero.
  NodeEntry Aggregate(const NodeEntry& e) {
    std::vector<NodeEntry> terms;
    for (const NodeEntry& g : Contributions(e)) {
      if (!IsZeroGradient(g)) terms.push_back(g);
    }
    if (terms.empty()) return {};
    if (terms.size() == 1) return terms[0];
    auto sum = std::make_shared<Node>();
    sum->attrs.op = &detail::GradSumOp();
    sum->attrs.name = EntryLabel(e) + "_sum_grad";
    sum->attrs.dict["num_args"] = std::to_string(terms.size());
    sum->attrs.op->ParseParams(&sum->attrs);
    sum->inputs = std::move(terms);
    NodeEntry out{sum, 0, 0};
    result_.same_as.emplace_back(out, e);
    return out;
  }

  void Differentiate(const NodePtr& node) {
    const uint32_t nout = node->num_outputs();
    std::vector<NodeEntry> out_grads(nout);
    bool any = false;
    for (uint32_t j = 0; j < nout; ++j) {
      out_grads[j] = Aggregate(NodeEntry{node, j, 0});
      any = any || out_grads[j].node != nullptr;
    }
    if (!any) return;  // every output's gradient is zero: so are the inputs'
    for (uint32_t j = 0; j < nout; ++j) {
      if (!out_grads[j].node) out_grads[j] = ZerosLike(NodeEntry{node, j, 0});
    }
    const OpSchema& op = *node->attrs.op;
    LOOM_CHECK(static_cast<bool>(op.gradient()), "Operator ", op.name(), " (node '",
               node->attrs.name,
               "') is non-differentiable because it registers no Gradient function; "
               "stop the gradient before it (BlockGrad) or bind the arguments it depends on "
               "with grad_req 'null'");
    std::vector<NodeEntry> in_grads;
    try {
      in_grads = op.gradient()(node, out_grads);
    } catch (Error& e) {
      e.AddContext("while building the gradient of node '" + node->attrs.name + "' (" + op.name() +
                   ")");
      throw;
    }
    LOOM_CHECK(in_grads.size() == node->inputs.size(), "the Gradient function of operator ",
               op.name(), " returned ", in_grads.size(), " gradients for node '", node->attrs.name,
               "' but expected one per input: ", node->inputs.size());
    std::vector<uint32_t> aux = op.AuxInputIndices(node->attrs);
    for (uint32_t k = 0; k < in_grads.size(); ++k) {
      const NodeEntry& input = node->inputs[k];
      if (!in_grads[k].node || std::find(aux.begin(), aux.end(), k) != aux.end()) continue;
      // Unneeded gradients still get their shapes: the backward node computes (and skips) them.
      result_.same_as.emplace_back(in_grads[k], input);
      if (needed_[pos_.at(input.node.get())]) Contributions(input).push_back(in_grads[k]);
    }
  }

  std::vector<NodePtr> topo_;
  std::unordered_map<const Node*, size_t> pos_;
  std::vector<bool> needed_;
  std::unordered_map<const Node*, std::vector<std::vector<NodeEntry>>> grads_;
  GradientGraph result_;
};

}  // namespace

GradientGraph BuildGradient(const std::vector<NodeEntry>& ys, const std::vector<NodeEntry>& xs) {
  return GradientBuilder().Build(ys, xs);
}

NodePtr MakeBackwardNode(std::string_view op_name, const NodePtr& forward,
                         std::vector<NodeEntry> inputs, std::string_view suffix) {
  auto n = std::make_shared<Node>();
  n->attrs = forward->attrs;
  n->attrs.op = &OpRegistry::Global().Get(op_name);
  n->attrs.name = forward->attrs.name + std::string(suffix);
  n->inputs = std::move(inputs);
  n->control_deps.push_back(forward);
  return n;
}

NodePtr MakeGradOpNode(std::string_view op_name, const NodePtr& forward, std::string_view suffix,
                       std::vector<NodeEntry> inputs, const StrMap& params) {
  auto n = std::make_shared<Node>();
  n->attrs.op = &OpRegistry::Global().Get(op_name);
  n->attrs.name = forward->attrs.name + std::string(suffix);
  n->attrs.dict = params;
  if (n->attrs.op->is_variadic() && !n->attrs.dict.count(n->attrs.op->variadic_count_param())) {
    n->attrs.dict[n->attrs.op->variadic_count_param()] = std::to_string(inputs.size());
  }
  n->attrs.op->ParseParams(&n->attrs);
  n->inputs = std::move(inputs);
  n->control_deps.push_back(forward);
  return n;
}

bool IsZeroGradient(const NodeEntry& entry) {
  return entry.node && entry.node->attrs.op == &detail::GradZerosOp();
}

}  // namespace loom
