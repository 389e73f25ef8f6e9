// The bound graph: a symbol's forward graph plus its gradient graph, placed on devices, with
// every entry's shape and dtype inferred. Built once per Bind (and by Executor::PlanMemory).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "loom/core/executor.h"
#include "loom/core/graph.h"
#include "memory_plan.h"

namespace loom::detail {

/// What the graph is built from.
struct ExecGraphSpec {
  const Symbol* symbol = nullptr;
  Context ctx;
  const ContextMap* group2ctx = nullptr;
  /// Per argument (list_arguments order) and auxiliary state: known shapes (Shape() = unknown)
  /// and dtypes (kUnknown = unknown).
  std::vector<GradReq> grad_req;
  std::vector<Shape> arg_shapes, aux_shapes;
  std::vector<DType> arg_dtypes, aux_dtypes;
  /// SimpleBind: arguments whose dtype stays unknown become float32.
  bool default_float32 = false;
  /// Devices of the bound arrays (Bind), per argument / gradient / auxiliary state; empty when
  /// the executor allocates them (SimpleBind).
  std::vector<Context> arg_ctx, grad_ctx, aux_ctx;
};

struct ExecGraph {
  std::vector<std::string> arg_names, aux_names, output_names;
  /// Forward outputs, then one gradient entry per argument whose grad_req is not null.
  std::vector<NodeEntry> outputs;
  std::unique_ptr<IndexedGraph> idx;
  uint32_t num_forward_outputs = 0;
  /// Nodes [0, num_forward_nodes) run in Forward, the rest in Backward.
  uint32_t num_forward_nodes = 0;
  std::vector<uint32_t> arg_nids, aux_nids;
  /// Per forward output: the node id of its head-gradient variable, or -1 when unused.
  std::vector<int> head_grad_nids;
  /// Per argument: the entry written into its gradient array, or -1 (grad_req null).
  std::vector<int> grad_eids;
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  std::vector<Context> node_ctx;
  /// Per node: true when the node does not read its inputs (`_grad_zeros`).
  std::vector<bool> ignore_inputs;
  /// Per node: a cross-device copy inserted by placement.
  std::vector<bool> is_copy;

  bool training() const { return idx->num_nodes() > num_forward_nodes; }
  /// "node 'fc1' (FullyConnected)".
  std::string Describe(uint32_t nid) const;
  /// The devices nodes run on, in order of first use (the plan's device indices).
  std::vector<Context> Devices() const;
  /// The memory plan request for this graph.
  MemoryPlanRequest PlanRequest(const ExecutorOptions& options) const;
};

/// Temp-space bytes node nid's kernel needs (0 without a kTempSpace request).
/// @throws loom::Error when the operator requests temp space but has no TempSpace function.
size_t NodeTempBytes(const ExecGraph& graph, uint32_t nid);

/// The figures of a plan (MemoryPlanStats), temp space included.
MemoryPlanStats PlanStats(const ExecGraph& graph, const MemoryPlan& plan);

/// Gradient, placement and inference. Throws naming nodes, arguments and shapes on any problem.
ExecGraph BuildExecGraph(const ExecGraphSpec& spec);

/// Placement (placement.cc): rewrites outputs with `<src>_<idx>_copy` nodes where an entry
/// crosses devices, and returns each node's device by pointer. Without group2ctx every node
/// gets spec.ctx and nothing changes.
struct Placement {
  std::vector<NodeEntry> outputs;
  std::unordered_map<const Node*, Context> device;
  std::unordered_set<const Node*> copies;
};
/// head_grads: the head-gradient variables of outputs[0..]; grad_output: per argument, the index
/// in outputs of its gradient entry, or -1.
Placement PlaceDevices(const ExecGraphSpec& spec, const std::vector<NodeEntry>& outputs,
                       const std::vector<NodePtr>& arg_nodes, const std::vector<NodePtr>& aux_nodes,
                       const std::vector<NodePtr>& head_grads, const std::vector<int>& grad_output);
/// The device SimpleBind allocates a variable's array on: its group's, else fallback.
Context ArrayDevice(const Node& var, const ContextMap& group2ctx, Context fallback);

}  // namespace loom::detail
