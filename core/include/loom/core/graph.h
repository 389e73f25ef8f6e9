// The graph under every Symbol: nodes (variables and operator applications) joined by entries
// (one output of one node), and the traversals and indexing the passes share.
//
//   loom::NodePtr x = loom::Node::CreateVariable("x");
//   loom::IndexedGraph g({loom::NodeEntry{x, 0, 0}});      // topological order, entry ids
//   g.num_nodes();                                          // 1
//   loom::PostOrderDFS({loom::NodeEntry{x, 0, 0}}, [](const loom::NodePtr& n) { ... });
//
// Nodes are shared between symbols and are treated as immutable once a Symbol holds them, except
// for the two changes MXNet itself makes while composing (a variable's mutation version and the
// `__init__` an operator sets on its auxiliary variables). Composing symbols that share nodes from
// several threads at once is not supported; reading them concurrently is.
#pragma once

#include <any>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loom/core/op_param.h"
#include "loom/scheduler/error.h"

namespace loom {

class OpSchema;
struct Node;
using NodePtr = std::shared_ptr<Node>;

/// What a node carries: its operator (null for variables), name, attribute dictionary (parameters
/// as written, `__hidden__` keys, user keys) and the parsed parameter struct.
struct NodeAttrs {
  const OpSchema* op = nullptr;
  std::string name;
  StrMap dict;
  std::any parsed;

  /// The parsed parameter struct; throws (internal error) when the operator's struct is not P.
  template <typename P>
  const P& param() const {
    const P* p = std::any_cast<P>(&parsed);
    LOOM_INTERNAL_ASSERT(p != nullptr, "node '", name, "' has no parameters of the requested type");
    return *p;
  }
};

/// One output of one node, with the version of a variable when it was read (see MXNet's
/// FMutateInputs: an auxiliary state written by an op is read at version 1).
struct NodeEntry {
  NodePtr node;
  uint32_t index = 0;
  uint32_t version = 0;
};

/// A variable or an operator application.
struct Node {
  NodeAttrs attrs;
  std::vector<NodeEntry> inputs;
  std::vector<NodePtr> control_deps;
  /// For variables: how many operators have mutated it so far (MXNet's VariableParam::version).
  std::atomic<uint32_t> mutation_version{0};

  bool is_variable() const { return attrs.op == nullptr; }
  /// All outputs, hidden ones included (1 for variables).
  uint32_t num_outputs() const;
  /// Outputs a Symbol built from this node exposes.
  uint32_t num_visible_outputs() const;
  /// Inputs the operator declares for its parameters (0 for variables).
  uint32_t num_inputs() const;

  static NodePtr CreateVariable(std::string name, StrMap dict = {});
  /// A new node with the same attributes, inputs and control dependencies.
  NodePtr ShallowCopy() const;
};

/// Visits every node reachable from `heads` once, inputs before their consumers (inputs in order,
/// then control dependencies), heads in order: MXNet's node order, also that of its JSON files.
/// Iterative, so arbitrarily deep graphs are fine.
void PostOrderDFS(const std::vector<NodeEntry>& heads,
                  const std::function<void(const NodePtr&)>& visit);

/// A frozen, numbered view of a graph for passes: nodes in PostOrderDFS order, entry ids
/// (node_row_ptr[n] + output index, hidden outputs included) and input entry ids per node.
class IndexedGraph {
 public:
  explicit IndexedGraph(const std::vector<NodeEntry>& heads);

  size_t num_nodes() const { return nodes_.size(); }
  size_t num_entries() const { return row_ptr_.back(); }
  const NodePtr& node(size_t nid) const { return nodes_[nid]; }
  /// Node id of a node of this graph; throws (internal error) for a foreign node.
  uint32_t node_id(const Node* node) const;
  uint32_t entry_id(uint32_t nid, uint32_t index) const { return row_ptr_[nid] + index; }
  uint32_t entry_id(const NodeEntry& e) const { return entry_id(node_id(e.node.get()), e.index); }
  /// Entry ids of node nid's inputs.
  const std::vector<uint32_t>& input_entries(size_t nid) const { return input_entries_[nid]; }
  /// Entry ids of the heads.
  const std::vector<uint32_t>& output_entries() const { return outputs_; }
  /// Node ids of variables, in order.
  const std::vector<uint32_t>& variable_nodes() const { return variables_; }
  /// Node ids of variables read at an operator's mutable (auxiliary) position.
  const std::vector<bool>& is_aux() const { return is_aux_; }
  /// Prefix sums of num_outputs() per node (length num_nodes()+1).
  const std::vector<uint32_t>& row_ptr() const { return row_ptr_; }

 private:
  std::vector<NodePtr> nodes_;
  std::unordered_map<const Node*, uint32_t> ids_;
  std::vector<uint32_t> row_ptr_;
  std::vector<std::vector<uint32_t>> input_entries_;
  std::vector<uint32_t> outputs_;
  std::vector<uint32_t> variables_;
  std::vector<bool> is_aux_;
};

}  // namespace loom
