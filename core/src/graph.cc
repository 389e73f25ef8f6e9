#include "loom/core/graph.h"

#include <unordered_set>

#include "loom/core/operator.h"

namespace loom {

uint32_t Node::num_outputs() const { return is_variable() ? 1 : attrs.op->NumOutputs(attrs); }

uint32_t Node::num_visible_outputs() const {
  return is_variable() ? 1 : attrs.op->NumVisibleOutputs(attrs);
}

uint32_t Node::num_inputs() const { return is_variable() ? 0 : attrs.op->NumInputs(attrs); }

NodePtr Node::CreateVariable(std::string name, StrMap dict) {
  auto n = std::make_shared<Node>();
  n->attrs.name = std::move(name);
  n->attrs.dict = std::move(dict);
  return n;
}

NodePtr Node::ShallowCopy() const {
  auto n = std::make_shared<Node>();
  n->attrs = attrs;
  n->inputs = inputs;
  n->control_deps = control_deps;
  n->mutation_version.store(mutation_version.load());
  return n;
}

void PostOrderDFS(const std::vector<NodeEntry>& heads,
                  const std::function<void(const NodePtr&)>& visit) {
  std::vector<std::pair<const NodePtr*, size_t>> stack;
  std::unordered_set<const Node*> visited;
  auto degree = [](const Node& n) { return n.inputs.size() + n.control_deps.size(); };
  auto child = [](const Node& n, size_t i) -> const NodePtr& {
    return i < n.inputs.size() ? n.inputs[i].node : n.control_deps[i - n.inputs.size()];
  };
  for (const NodeEntry& head : heads) {
    if (!visited.insert(head.node.get()).second) continue;
    stack.emplace_back(&head.node, 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      const Node& n = **node;
      if (next == degree(n)) {
        const NodePtr* done = node;
        stack.pop_back();
        visit(*done);
      } else {
        const NodePtr& in = child(n, next++);
        if (visited.insert(in.get()).second) stack.emplace_back(&in, 0);
      }
    }
  }
}

IndexedGraph::IndexedGraph(const std::vector<NodeEntry>& heads) {
  PostOrderDFS(heads, [this](const NodePtr& n) {
    ids_.emplace(n.get(), static_cast<uint32_t>(nodes_.size()));
    nodes_.push_back(n);
  });
  row_ptr_.push_back(0);
  is_aux_.assign(nodes_.size(), false);
  input_entries_.resize(nodes_.size());
  for (size_t nid = 0; nid < nodes_.size(); ++nid) {
    const Node& n = *nodes_[nid];
    row_ptr_.push_back(row_ptr_.back() + n.num_outputs());
    if (n.is_variable()) variables_.push_back(static_cast<uint32_t>(nid));
  }
  for (size_t nid = 0; nid < nodes_.size(); ++nid) {
    const Node& n = *nodes_[nid];
    for (const NodeEntry& e : n.inputs) {
      uint32_t src = node_id(e.node.get());
      LOOM_CHECK(e.index < nodes_[src]->num_outputs(), "node '", n.attrs.name,
                 "' reads output ", e.index, " of node '", nodes_[src]->attrs.name,
                 "', which has only ", nodes_[src]->num_outputs(), " outputs");
      input_entries_[nid].push_back(entry_id(src, e.index));
    }
    if (!n.is_variable()) {
      for (uint32_t i : n.attrs.op->AuxInputIndices(n.attrs)) {
        if (i < n.inputs.size() && n.inputs[i].node->is_variable()) {
          is_aux_[node_id(n.inputs[i].node.get())] = true;
        }
      }
    }
  }
  for (const NodeEntry& e : heads) {
    uint32_t nid = node_id(e.node.get());
    LOOM_CHECK(e.index < nodes_[nid]->num_outputs(), "output ", e.index, " of node '",
               nodes_[nid]->attrs.name, "' does not exist: it has ", nodes_[nid]->num_outputs(),
               " outputs");
    outputs_.push_back(entry_id(nid, e.index));
  }
}

uint32_t IndexedGraph::node_id(const Node* node) const {
  auto it = ids_.find(node);
  LOOM_INTERNAL_ASSERT(it != ids_.end(), "node is not part of this graph");
  return it->second;
}

}  // namespace loom
