// The executor's internals: the bound graph, its arrays and memory, and the cached engine
// operations Forward and Backward push.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "exec_graph.h"
#include "loom/core/executor.h"
#include "loom/core/kernel.h"
#include "memory_plan.h"

namespace loom::detail {

/// Scratch memory and a random generator of one device, shared by the executor's nodes there.
struct DeviceResources {
  NDArray temp;  ///< none when no kernel asks for temp space
  std::mt19937_64 rng;
  VarHandle rng_var = nullptr;
};

/// One node as the engine operations run it.
struct NodeExec {
  uint32_t nid = 0;
  const NodeAttrs* attrs = nullptr;
  const FCompute* kernel = nullptr;  ///< null for cross-device copies
  bool is_copy = false;
  Context ctx;
  std::vector<TensorView> in, out;
  std::vector<OpReq> req;
  std::vector<std::string> out_names;
  std::vector<VarHandle> reads, writes, aux_vars;
  size_t temp_bytes = 0;
  bool uses_temp = false, uses_rng = false;
  /// Gets ExecState::reducer (ResourceKind::kReplicaReducer and the executor has a reducer).
  bool uses_reducer = false;
  /// Nothing to do: every output unused and no auxiliary state to update.
  bool skip = false;
  /// Writes an argument's gradient array (a bulk segment ends here, so the gradient is
  /// available to communication as soon as it is computed).
  bool writes_gradient = false;
  std::string label;  ///< "node 'fc1' (FullyConnected)"
};

/// Everything the cached engine operations touch; they share ownership, so it outlives pending
/// work even when the executor is destroyed first.
struct ExecState {
  ExecState() = default;
  ExecState(const ExecState&) = delete;
  ExecState& operator=(const ExecState&) = delete;
  ~ExecState();

  std::vector<NodeExec> nodes;
  /// The graph's nodes, whose attributes the kernels read (NodeExec::attrs).
  std::vector<NodePtr> graph_nodes;
  std::map<Context, DeviceResources> resources;
  bool check_nan = false;
  /// ExecutorOptions::replica_reducer, and the variable every training operation holding a node
  /// that uses it writes (so they run in push order, the same on every replica); null when no
  /// node uses a reducer.
  std::shared_ptr<ReplicaReducer> reducer;
  VarHandle reducer_var = nullptr;
  /// Pooled chunks (per storage id) and every entry's array (views of them, or bound arrays).
  std::vector<NDArray> pool;
  std::vector<NDArray> entries;
};

/// Runs nodes [begin, end) of state in order (one engine operation).
void RunNodes(ExecState& state, size_t begin, size_t end, bool is_train, RunContext rc);

/// The bound arrays, in list order, before the graph exists.
struct BoundArrays {
  std::vector<NDArray> args, grads, aux;
  std::vector<GradReq> grad_req;
};

class ExecutorImpl {
 public:
  /// Builds everything; shared_pool (Reshape) offers the origin's pooled chunks for reuse.
  ExecutorImpl(const Symbol& symbol, Context ctx, const ContextMap& group2ctx,
               const ExecutorOptions& options, BoundArrays arrays,
               const std::vector<NDArray>* shared_pool);
  ~ExecutorImpl();
  ExecutorImpl(const ExecutorImpl&) = delete;
  ExecutorImpl& operator=(const ExecutorImpl&) = delete;

  void Forward(bool is_train, const NDArrayMap& inputs);
  void Backward(const std::vector<NDArray>& out_grads);
  void SetSeed(uint64_t seed);
  MemoryPlanStats Stats() const;
  std::string DebugStr() const;
  std::vector<ExecNodeInfo> Nodes() const;
  /// The pooled chunks (per storage id), offered to executors made by Reshape.
  const std::vector<NDArray>& pool() const { return state_->pool; }

  Symbol symbol;
  Context ctx;
  ContextMap group2ctx;
  ExecutorOptions options;
  ExecGraph graph;
  MemoryPlan plan;
  BoundArrays bound;
  std::vector<NDArray> outputs;
  std::vector<NDArray> head_grads;  ///< per forward output; none when unused
  NDArrayMap arg_dict, grad_dict, aux_dict;

 private:
  struct CachedOp {
    OprHandle handle;
    Context ctx;
    std::string name;  ///< the node's name, or "first...last (n nodes)" for a segment
  };
  void AllocateMemory(const std::vector<NDArray>* shared_pool);
  void BuildNodes();
  void CreateOperations();
  std::vector<CachedOp> MakeOps(uint32_t begin_nid, uint32_t end_nid, bool is_train);

  std::shared_ptr<ExecState> state_;
  std::vector<CachedOp> forward_train_, forward_infer_, backward_;
  std::vector<size_t> node_index_;  ///< node id -> index in state_->nodes (or npos)
  int bulk_size_ = 15;
  bool trained_forward_ = false;
};

/// The executor's option values with the environment applied.
ExecutorOptions ResolveOptions(const ExecutorOptions& options);

}  // namespace loom::detail
