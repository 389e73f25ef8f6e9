// Building an executor: memory from the plan, per-node kernel arguments, resources, and the
// cached engine operations (one per node or per bulk segment).
#include <algorithm>
#include <map>
#include <unordered_set>

#include "executor_impl.h"
#include "loom/core/infer_pass.h"
#include "loom/core/operator.h"
#include "loom/scheduler/env.h"

namespace loom::detail {

ExecutorOptions ResolveOptions(const ExecutorOptions& options) {
  ExecutorOptions o = options;
  if (!o.bulk_size) o.bulk_size = static_cast<int>(env::GetInt(env::kExecBulkSize, 15));
  if (!o.check_nan) o.check_nan = env::GetInt(env::kCheckNan, 0) != 0;
  LOOM_CHECK(*o.bulk_size >= 0, "expected a bulk size >= 0 but got ", *o.bulk_size);
  LOOM_CHECK(o.match_range >= 0, "expected a match range >= 0 but got ", o.match_range);
  return o;
}

ExecutorImpl::ExecutorImpl(const Symbol& sym, Context context, const ContextMap& groups,
                           const ExecutorOptions& opts, BoundArrays arrays,
                           const std::vector<NDArray>* shared_pool)
    : symbol(sym),
      ctx(context),
      group2ctx(groups),
      options(ResolveOptions(opts)),
      bound(std::move(arrays)) {
  ExecGraphSpec spec;
  spec.symbol = &symbol;
  spec.ctx = ctx;
  spec.group2ctx = &group2ctx;
  spec.grad_req = bound.grad_req;
  for (const NDArray& a : bound.args) {
    spec.arg_shapes.push_back(a.shape());
    spec.arg_dtypes.push_back(a.dtype());
    spec.arg_ctx.push_back(a.ctx());
  }
  for (size_t i = 0; i < bound.grads.size(); ++i) {
    spec.grad_ctx.push_back(bound.grads[i].is_none() ? bound.args[i].ctx() : bound.grads[i].ctx());
  }
  for (const NDArray& a : bound.aux) {
    spec.aux_shapes.push_back(a.shape());
    spec.aux_dtypes.push_back(a.dtype());
    spec.aux_ctx.push_back(a.ctx());
  }
  try {
    graph = BuildExecGraph(spec);
  } catch (Error& e) {
    e.AddContext("while binding (the arguments' shapes and dtypes are those of the arrays given)");
    throw;
  }
  plan = PlanMemory(graph.PlanRequest(options));
  state_ = std::make_shared<ExecState>();
  state_->check_nan = *options.check_nan;
  bulk_size_ = *options.bulk_size;
  for (size_t i = 0; i < graph.arg_names.size(); ++i) {
    arg_dict.emplace(graph.arg_names[i], bound.args[i]);
    if (!bound.grads[i].is_none()) grad_dict.emplace(graph.arg_names[i], bound.grads[i]);
  }
  for (size_t i = 0; i < graph.aux_names.size(); ++i) {
    aux_dict.emplace(graph.aux_names[i], bound.aux[i]);
  }
  AllocateMemory(shared_pool);
  BuildNodes();
  CreateOperations();
}

ExecutorImpl::~ExecutorImpl() {
  Engine& engine = Engine::Get();
  for (auto* ops : {&forward_train_, &forward_infer_, &backward_}) {
    for (const CachedOp& op : *ops) engine.DeleteOperator(op.handle);
  }
}

void ExecutorImpl::AllocateMemory(const std::vector<NDArray>* shared_pool) {
  const IndexedGraph& g = *graph.idx;
  const std::vector<Context> devices = graph.Devices();
  // Largest chunks first, each taking the smallest shared chunk that fits (Reshape).
  std::multimap<size_t, NDArray> offered;
  if (shared_pool) {
    for (const NDArray& a : *shared_pool) offered.emplace(a.storage().size(), a);
  }
  std::vector<size_t> order(plan.storage_bytes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return plan.storage_bytes[a] > plan.storage_bytes[b];
  });
  state_->pool.resize(order.size());
  for (size_t sid : order) {
    const size_t bytes = plan.storage_bytes[sid];
    const Context dev = devices[plan.storage_device[sid]];
    auto it = offered.lower_bound(bytes);
    while (it != offered.end() && it->second.ctx() != dev) ++it;
    if (it != offered.end()) {
      state_->pool[sid] = it->second;
      offered.erase(it);
    } else {
      state_->pool[sid] = NDArray::Empty(Shape{static_cast<int64_t>(bytes)}, dev, DType::kUInt8);
    }
  }

  std::vector<NDArray>& entries = state_->entries;
  entries.assign(g.num_entries(), NDArray());
  for (size_t i = 0; i < graph.arg_nids.size(); ++i) {
    entries[g.entry_id(graph.arg_nids[i], 0)] = bound.args[i];
  }
  for (size_t i = 0; i < graph.aux_nids.size(); ++i) {
    entries[g.entry_id(graph.aux_nids[i], 0)] = bound.aux[i];
  }
  for (size_t i = 0; i < graph.grad_eids.size(); ++i) {
    if (graph.grad_eids[i] >= 0) entries[graph.grad_eids[i]] = bound.grads[i];
  }
  head_grads.assign(graph.num_forward_outputs, NDArray());
  for (size_t i = 0; i < graph.head_grad_nids.size(); ++i) {
    const int nid = graph.head_grad_nids[i];
    if (nid < 0) continue;
    const uint32_t eid = g.entry_id(nid, 0);
    head_grads[i] = NDArray::Zeros(graph.shapes[eid], graph.node_ctx[nid], graph.dtypes[eid]);
    entries[eid] = head_grads[i];
  }
  for (uint32_t eid = 0; eid < g.num_entries(); ++eid) {
    const int sid = plan.storage_id[eid];
    if (sid >= 0) entries[eid] = state_->pool[sid].View(graph.shapes[eid], graph.dtypes[eid], 0);
  }
  for (uint32_t i = 0; i < graph.num_forward_outputs; ++i) {
    outputs.push_back(entries[g.entry_id(graph.outputs[i])]);
  }
}

namespace {

TensorView ViewOf(const NDArray& a) {
  TensorView t;
  t.ptr = a.data();
  t.shape = a.shape();
  t.dtype = a.dtype();
  t.ctx = a.ctx();
  return t;
}

void AddUnique(std::vector<VarHandle>* vars, VarHandle v) {
  if (std::find(vars->begin(), vars->end(), v) == vars->end()) vars->push_back(v);
}

}  // namespace

void ExecutorImpl::BuildNodes() {
  const IndexedGraph& g = *graph.idx;
  const std::vector<NDArray>& entries = state_->entries;
  std::map<Context, size_t> temp_bytes;
  std::unordered_set<Context> rng_devices;
  std::vector<bool> is_grad_output(g.num_entries(), false);
  std::vector<GradReq> grad_req_of(g.num_entries(), GradReq::kNull);
  for (size_t i = 0; i < graph.grad_eids.size(); ++i) {
    if (graph.grad_eids[i] < 0) continue;
    is_grad_output[graph.grad_eids[i]] = true;
    grad_req_of[graph.grad_eids[i]] = bound.grad_req[i];
  }
  node_index_.assign(g.num_nodes(), SIZE_MAX);
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    const Node& node = *g.node(nid);
    if (node.is_variable()) continue;
    state_->graph_nodes.push_back(g.node(nid));
    NodeExec n;
    n.nid = nid;
    n.attrs = &node.attrs;
    n.ctx = graph.node_ctx[nid];
    n.label = graph.Describe(nid);
    n.is_copy = graph.is_copy[nid];
    const OpSchema& op = *node.attrs.op;
    if (!n.is_copy) {
      n.kernel = op.kernel<FCompute>(n.ctx.type);
      LOOM_CHECK_TYPED(NotSupportedError, n.kernel != nullptr, n.label, ": operator ", op.name(),
                       " has no ", ToString(n.ctx.type), " kernel (registered with .Kernel(",
                       "DeviceType::k", n.ctx.type == DeviceType::kGPU ? "GPU" : "CPU",
                       ", FCompute(...)))");
    }
    const std::vector<uint32_t> aux = op.AuxInputIndices(node.attrs);
    const auto& in_eids = g.input_entries(nid);
    for (uint32_t k = 0; k < in_eids.size(); ++k) {
      const NDArray& a = entries[in_eids[k]];
      n.in.push_back(ViewOf(a));
      if (graph.ignore_inputs[nid]) continue;
      if (std::find(aux.begin(), aux.end(), k) != aux.end()) {
        AddUnique(&n.aux_vars, a.var());
      } else {
        AddUnique(&n.reads, a.var());
      }
    }
    bool any_output = false;
    for (uint32_t j = 0; j < node.num_outputs(); ++j) {
      const uint32_t eid = g.entry_id(nid, j);
      const NDArray& a = entries[eid];
      n.out.push_back(ViewOf(a));
      n.out_names.push_back(EntryName(g, nid, j));
      AddUnique(&n.writes, a.var());
      OpReq req = OpReq::kWriteTo;
      if (is_grad_output[eid]) {
        n.writes_gradient = true;
        req = grad_req_of[eid] == GradReq::kAdd ? OpReq::kAddTo : OpReq::kWriteTo;
      } else if (plan.unused[eid]) {
        req = OpReq::kNull;
      } else if (plan.inplace_input[eid] >= 0) {
        req = OpReq::kWriteInplace;
      }
      any_output = any_output || req != OpReq::kNull;
      n.req.push_back(req);
    }
    n.skip = !any_output && n.aux_vars.empty();
    if (!n.is_copy && op.resources()) {
      for (ResourceKind kind : op.resources()(node.attrs)) {
        if (kind == ResourceKind::kRandom) {
          n.uses_rng = true;
          rng_devices.insert(n.ctx);
        } else if (kind == ResourceKind::kReplicaReducer) {
          n.uses_reducer = options.replica_reducer != nullptr;
        } else {
          n.uses_temp = true;
        }
      }
      LOOM_CHECK_TYPED(NotSupportedError, !n.uses_reducer || n.ctx.type == DeviceType::kCPU,
                       n.label, ": cross-replica statistics (ExecutorOptions::replica_reducer) ",
                       "need a CPU kernel but the node is on ", n.ctx.ToString());
      if (n.uses_temp) {
        n.temp_bytes = NodeTempBytes(graph, nid);
        size_t& most = temp_bytes[n.ctx];
        most = std::max(most, n.temp_bytes);
      }
    }
    node_index_[nid] = state_->nodes.size();
    state_->nodes.push_back(std::move(n));
  }

  uint64_t k = 0;
  std::map<Context, bool> devices;
  for (const auto& [dev, bytes] : temp_bytes) devices[dev] = true;
  for (const Context& dev : rng_devices) devices[dev] = true;
  for (const auto& [dev, unused] : devices) {
    DeviceResources& res = state_->resources[dev];
    res.rng.seed(options.seed + k++);
    res.rng_var = Engine::Get().NewVariable();
    auto it = temp_bytes.find(dev);
    if (it != temp_bytes.end()) {
      res.temp = NDArray::Empty(Shape{static_cast<int64_t>(it->second)}, dev, DType::kUInt8);
    }
  }
  for (const NodeExec& n : state_->nodes) {
    if (n.uses_reducer && !state_->reducer_var) {
      state_->reducer = options.replica_reducer;
      state_->reducer_var = Engine::Get().NewVariable();
    }
  }
  for (NodeExec& n : state_->nodes) {
    if (n.uses_temp) AddUnique(&n.writes, state_->resources.at(n.ctx).temp.var());
    if (n.uses_rng) AddUnique(&n.writes, state_->resources.at(n.ctx).rng_var);
  }
}

void ExecutorImpl::CreateOperations() {
  const uint32_t f = graph.num_forward_nodes, total = static_cast<uint32_t>(graph.idx->num_nodes());
  forward_train_ = MakeOps(0, f, true);
  forward_infer_ = MakeOps(0, f, false);
  backward_ = MakeOps(f, total, true);
}

std::vector<ExecutorImpl::CachedOp> ExecutorImpl::MakeOps(uint32_t begin_nid, uint32_t end_nid,
                                                          bool is_train) {
  // Segments: runs of consecutive nodes on one CPU device, at most bulk_size_ long, ending after
  // a node that writes a gradient array; copies and GPU nodes run alone.
  std::vector<std::pair<size_t, size_t>> segments;
  const size_t limit = static_cast<size_t>(std::max(bulk_size_, 1));
  auto bulkable = [](const NodeExec& n) { return !n.is_copy && n.ctx.type == DeviceType::kCPU; };
  for (uint32_t nid = begin_nid; nid < end_nid; ++nid) {
    const size_t i = node_index_[nid];
    if (i == SIZE_MAX || state_->nodes[i].skip) continue;
    const NodeExec& n = state_->nodes[i];
    // A segment is a contiguous range of the topological order, so no path between two of its
    // nodes leaves it: running it as one operation cannot wait on itself.
    if (!segments.empty() && bulkable(n)) {
      auto& [b, e] = segments.back();
      const NodeExec& first = state_->nodes[b];
      if (bulkable(first) && first.ctx == n.ctx && i + 1 - b <= limit &&
          !state_->nodes[e - 1].writes_gradient) {
        e = i + 1;
        continue;
      }
    }
    segments.emplace_back(i, i + 1);
  }

  std::vector<CachedOp> ops;
  Engine& engine = Engine::Get();
  for (const auto& segment : segments) {
    const size_t b = segment.first, e = segment.second;
    std::vector<VarHandle> reads, writes;
    for (size_t i = b; i < e; ++i) {
      const NodeExec& n = state_->nodes[i];
      for (VarHandle v : n.reads) AddUnique(&reads, v);
      for (VarHandle v : n.writes) AddUnique(&writes, v);
      for (VarHandle v : n.aux_vars) AddUnique(is_train ? &writes : &reads, v);
      // Reducer calls in push order (replica_reducer.h); inference never reduces.
      if (is_train && n.uses_reducer) AddUnique(&writes, state_->reducer_var);
    }
    const NodeExec& first = state_->nodes[b];
    std::string name = first.attrs->name;
    if (e - b > 1) {
      name += "..." + state_->nodes[e - 1].attrs->name + " (" + std::to_string(e - b) + " nodes)";
    }
    FnProperty prop = FnProperty::kNormal;
    Context run_on = first.ctx;
    if (first.is_copy) {
      const Context from = first.in[0].ctx, to = first.out[0].ctx;
      if (!to.is_host()) {
        prop = FnProperty::kCopyToGPU;
      } else if (!from.is_host()) {
        prop = FnProperty::kCopyFromGPU;
        run_on = from;
      }
    }
    OprHandle h = engine.NewOperator(
        [state = state_, b, e, is_train](RunContext rc, CallbackOnComplete done) {
          try {
            RunNodes(*state, b, e, is_train, rc);
          } catch (...) {
            done(std::current_exception());
            return;
          }
          done();
        },
        reads, writes, prop, name);
    ops.push_back(CachedOp{h, run_on, name});
  }
  return ops;
}

}  // namespace loom::detail
