#include "exec_graph.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "grad_ops.h"
#include "loom/core/gradient.h"
#include "loom/core/infer_pass.h"
#include "loom/core/operator.h"

namespace loom::detail {
namespace {

// A private copy of the graph under `outputs` (nodes, inputs and control dependencies), so
// placement may rewire it without touching the caller's symbol. old_to_new maps every node.
std::vector<NodeEntry> CopyGraph(const std::vector<NodeEntry>& outputs,
                                 std::unordered_map<const Node*, NodePtr>* old_to_new) {
  PostOrderDFS(outputs, [&](const NodePtr& n) {
    NodePtr c = n->ShallowCopy();
    for (NodeEntry& e : c->inputs) e.node = old_to_new->at(e.node.get());
    for (NodePtr& d : c->control_deps) d = old_to_new->at(d.get());
    old_to_new->emplace(n.get(), std::move(c));
  });
  std::vector<NodeEntry> out = outputs;
  for (NodeEntry& e : out) e.node = old_to_new->at(e.node.get());
  return out;
}

NodeEntry CopyOf(const NodeEntry& e, std::string name) {
  auto n = std::make_shared<Node>();
  n->attrs.op = &GradCopyOp();
  n->attrs.name = std::move(name);
  n->inputs.push_back(e);
  return NodeEntry{n, 0, 0};
}

std::string Join(const std::vector<std::string>& names, size_t limit = 12) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < limit; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > limit) s += ", ... (" + std::to_string(names.size() - limit) + " more)";
  return s;
}

std::string Text(const Shape& s) { return s.ToString(); }
std::string Text(DType t) { return ToString(t); }
bool Merge(Shape* dst, const Shape& src) { return MergeShape(dst, src); }
bool Merge(DType* dst, DType src) { return MergeType(dst, src); }

// Runs inference and copies values along the (gradient, forward entry) pairs until stable.
template <typename T, typename InferFn>
void InferWithPairs(const ExecGraph& eg, const std::vector<std::pair<uint32_t, uint32_t>>& pairs,
                    std::vector<T>* values, InferFn infer, const char* what) {
  const IndexedGraph& g = *eg.idx;
  for (size_t round = 0; round < 2 * pairs.size() + 2; ++round) {
    infer(g, values);
    bool changed = false;
    for (auto [grad, fwd] : pairs) {
      T a = (*values)[grad], b = (*values)[fwd];
      if (!Merge(&a, b) || !Merge(&b, a)) {
        uint32_t nid = 0;
        while (g.row_ptr()[nid + 1] <= grad) ++nid;
        const std::string msg = eg.Describe(nid) + " computes output " +
                                std::to_string(grad - g.row_ptr()[nid]) + " with " + what + " " +
                                Text((*values)[grad]) + " but it is a gradient of " +
                                Text((*values)[fwd]) + " values";
        if constexpr (std::is_same_v<T, Shape>) {
          throw ShapeError(msg);
        } else {
          throw DTypeError(msg);
        }
      }
      if (!(a == (*values)[grad]) || !(b == (*values)[fwd])) {
        (*values)[grad] = a;
        (*values)[fwd] = b;
        changed = true;
      }
    }
    if (!changed) return;
  }
}

}  // namespace

std::string ExecGraph::Describe(uint32_t nid) const {
  const Node& n = *idx->node(nid);
  if (n.is_variable()) return "variable '" + n.attrs.name + "'";
  return "node '" + n.attrs.name + "' (" + n.attrs.op->name() + ")";
}

std::vector<Context> ExecGraph::Devices() const {
  std::vector<Context> out;
  for (const Context& c : node_ctx) {
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  return out;
}

MemoryPlanRequest ExecGraph::PlanRequest(const ExecutorOptions& options) const {
  MemoryPlanRequest req;
  req.graph = idx.get();
  req.shapes = &shapes;
  req.dtypes = &dtypes;
  const std::vector<Context> devices = Devices();
  for (const Context& c : node_ctx) {
    req.device.push_back(
        static_cast<int>(std::find(devices.begin(), devices.end(), c) - devices.begin()));
  }
  req.external.assign(idx->num_entries(), false);
  for (uint32_t nid : idx->variable_nodes()) req.external[idx->entry_id(nid, 0)] = true;
  for (int eid : grad_eids) {
    if (eid >= 0) req.external[eid] = true;
  }
  req.ignore_inputs = ignore_inputs;
  req.inplace = options.inplace;
  req.match_range = options.match_range;
  return req;
}

size_t NodeTempBytes(const ExecGraph& eg, uint32_t nid) {
  const IndexedGraph& g = *eg.idx;
  const Node& node = *g.node(nid);
  if (node.is_variable() || eg.is_copy[nid]) return 0;
  const OpSchema& op = *node.attrs.op;
  if (!op.resources()) return 0;
  const std::vector<ResourceKind> kinds = op.resources()(node.attrs);
  if (std::find(kinds.begin(), kinds.end(), ResourceKind::kTempSpace) == kinds.end()) return 0;
  LOOM_CHECK(static_cast<bool>(op.temp_space()), eg.Describe(nid), ": operator ", op.name(),
             " requests temp space but registers no TempSpace function saying how much");
  std::vector<Shape> in_shapes, out_shapes;
  std::vector<DType> in_types;
  for (uint32_t eid : g.input_entries(nid)) {
    in_shapes.push_back(eg.shapes[eid]);
    in_types.push_back(eg.dtypes[eid]);
  }
  for (uint32_t j = 0; j < node.num_outputs(); ++j) {
    out_shapes.push_back(eg.shapes[g.entry_id(nid, j)]);
  }
  return op.temp_space()(node.attrs, in_shapes, in_types, out_shapes);
}

MemoryPlanStats PlanStats(const ExecGraph& eg, const MemoryPlan& plan) {
  const IndexedGraph& g = *eg.idx;
  MemoryPlanStats st;
  st.planned_bytes = plan.planned_bytes;
  st.unplanned_bytes = plan.unplanned_bytes;
  st.num_storage = plan.storage_bytes.size();
  st.num_inplace = plan.num_inplace;
  st.training = eg.training();
  for (uint32_t eid = 0; eid < g.num_entries(); ++eid) {
    if (plan.storage_id[eid] >= 0) {
      ++st.num_entries;
    } else {
      st.external_bytes += EntryBytes(eg.shapes[eid], eg.dtypes[eid]);
    }
  }
  std::map<Context, size_t> temp;
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    size_t& most = temp[eg.node_ctx[nid]];
    most = std::max(most, NodeTempBytes(eg, nid));
  }
  for (const auto& [ctx, bytes] : temp) st.temp_space_bytes += bytes;
  return st;
}

ExecGraph BuildExecGraph(const ExecGraphSpec& spec) {
  const Symbol& sym = *spec.symbol;
  ExecGraph eg;
  eg.arg_names = sym.ListArguments();
  eg.aux_names = sym.ListAuxiliaryStates();
  eg.output_names = sym.ListOutputs();
  eg.num_forward_outputs = static_cast<uint32_t>(sym.num_outputs());
  LOOM_CHECK(sym.num_outputs() > 0, "cannot bind an empty symbol (it has no outputs)");
  LOOM_INTERNAL_ASSERT(spec.grad_req.size() == eg.arg_names.size());

  std::unordered_map<const Node*, NodePtr> copy;
  std::vector<NodeEntry> fwd_outputs = CopyGraph(sym.outputs(), &copy);
  std::vector<NodePtr> arg_nodes, aux_nodes;
  std::unordered_set<const Node*> fwd_nodes;
  {
    IndexedGraph fwd(fwd_outputs);
    std::set<std::string, std::less<>> names;
    for (uint32_t nid = 0; nid < fwd.num_nodes(); ++nid) fwd_nodes.insert(fwd.node(nid).get());
    for (uint32_t nid : fwd.variable_nodes()) {
      const NodePtr& v = fwd.node(nid);
      LOOM_CHECK(names.insert(v->attrs.name).second,
                 "the symbol has two different variables named '", v->attrs.name,
                 "': arrays are bound by name, so rename one of them");
      (fwd.is_aux()[nid] ? aux_nodes : arg_nodes).push_back(v);
    }
  }

  std::vector<NodeEntry> outputs = fwd_outputs;
  std::vector<std::pair<NodeEntry, NodeEntry>> same_as;
  std::vector<int> grad_output(eg.arg_names.size(), -1);  // argument -> index into outputs
  std::vector<NodePtr> head_grads;
  std::vector<NodeEntry> xs;
  std::vector<size_t> x_args;
  for (size_t i = 0; i < arg_nodes.size(); ++i) {
    if (spec.grad_req[i] == GradReq::kNull) continue;
    xs.push_back(NodeEntry{arg_nodes[i], 0, 0});
    x_args.push_back(i);
  }
  if (!xs.empty()) {
    GradientGraph gg = BuildGradient(fwd_outputs, xs);
    same_as = std::move(gg.same_as);
    head_grads = std::move(gg.head_grads);
    std::set<std::pair<const Node*, uint32_t>> used;
    for (size_t k = 0; k < xs.size(); ++k) {
      NodeEntry g = gg.grads[k];
      // A gradient array is written by the node computing it; variables, forward entries and
      // entries already written into another gradient array need a copy.
      if (g.node->is_variable() || fwd_nodes.count(g.node.get()) != 0 ||
          !used.insert({g.node.get(), g.index}).second) {
        g = CopyOf(g, eg.arg_names[x_args[k]] + "_grad_copy");
        same_as.emplace_back(g, xs[k]);
      }
      grad_output[x_args[k]] = static_cast<int>(outputs.size());
      outputs.push_back(g);
    }
    // grad_req "add" accumulates into the array, so other readers of the entry need a copy.
    IndexedGraph probe(outputs);
    std::vector<uint32_t> readers(probe.num_entries(), 0);
    for (uint32_t nid = 0; nid < probe.num_nodes(); ++nid) {
      if (probe.node(nid)->attrs.op == &GradZerosOp()) continue;
      for (uint32_t eid : probe.input_entries(nid)) ++readers[eid];
    }
    for (size_t k = 0; k < xs.size(); ++k) {
      const size_t i = x_args[k];
      NodeEntry& g = outputs[grad_output[i]];
      if (spec.grad_req[i] == GradReq::kAdd && readers[probe.entry_id(g)] > 0) {
        g = CopyOf(g, eg.arg_names[i] + "_grad_copy");
        same_as.emplace_back(g, xs[k]);
      }
    }
  }

  Placement placement = PlaceDevices(spec, outputs, arg_nodes, aux_nodes, head_grads, grad_output);
  eg.outputs = std::move(placement.outputs);
  eg.idx = std::make_unique<IndexedGraph>(eg.outputs);
  const IndexedGraph& g = *eg.idx;
  eg.num_forward_nodes = static_cast<uint32_t>(
      IndexedGraph(
          std::vector<NodeEntry>(eg.outputs.begin(), eg.outputs.begin() + eg.num_forward_outputs))
          .num_nodes());
  std::unordered_map<const Node*, uint32_t> nid_of;
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) nid_of.emplace(g.node(nid).get(), nid);
  for (const NodePtr& v : arg_nodes) eg.arg_nids.push_back(nid_of.at(v.get()));
  for (const NodePtr& v : aux_nodes) eg.aux_nids.push_back(nid_of.at(v.get()));
  for (size_t i = 0; i < eg.num_forward_outputs; ++i) {
    auto it = head_grads.empty() ? nid_of.end() : nid_of.find(head_grads[i].get());
    eg.head_grad_nids.push_back(it == nid_of.end() ? -1 : static_cast<int>(it->second));
  }
  for (int k : grad_output) {
    eg.grad_eids.push_back(k < 0 ? -1 : static_cast<int>(g.entry_id(eg.outputs[k])));
  }
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    const Node* n = g.node(nid).get();
    eg.node_ctx.push_back(placement.device.at(n));
    eg.ignore_inputs.push_back(n->attrs.op == &GradZerosOp());
    eg.is_copy.push_back(placement.copies.count(n) != 0);
  }

  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  for (const auto& [grad, fwd] : same_as) {
    auto a = nid_of.find(grad.node.get()), b = nid_of.find(fwd.node.get());
    if (a == nid_of.end() || b == nid_of.end()) continue;  // pruned
    pairs.emplace_back(g.entry_id(a->second, grad.index), g.entry_id(b->second, fwd.index));
  }

  eg.shapes.assign(g.num_entries(), Shape());
  eg.dtypes.assign(g.num_entries(), DType::kUnknown);
  for (size_t i = 0; i < eg.arg_nids.size(); ++i) {
    eg.shapes[g.entry_id(eg.arg_nids[i], 0)] = spec.arg_shapes[i];
    eg.dtypes[g.entry_id(eg.arg_nids[i], 0)] = spec.arg_dtypes[i];
  }
  for (size_t i = 0; i < eg.aux_nids.size(); ++i) {
    eg.shapes[g.entry_id(eg.aux_nids[i], 0)] = spec.aux_shapes[i];
    eg.dtypes[g.entry_id(eg.aux_nids[i], 0)] = spec.aux_dtypes[i];
  }
  InferWithPairs(eg, pairs, &eg.shapes, InferShapes, "shape");
  InferWithPairs(eg, pairs, &eg.dtypes, InferTypes, "dtype");
  if (spec.default_float32) {
    bool defaulted = false;
    for (uint32_t nid : g.variable_nodes()) {
      DType& t = eg.dtypes[g.entry_id(nid, 0)];
      if (t == DType::kUnknown) {
        t = DType::kFloat32;
        defaulted = true;
      }
    }
    if (defaulted) InferWithPairs(eg, pairs, &eg.dtypes, InferTypes, "dtype");
  }

  std::vector<std::string> unknown_args, unknown_other;
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    const Node& n = *g.node(nid);
    for (uint32_t j = 0; j < n.num_outputs(); ++j) {
      const uint32_t eid = g.entry_id(nid, j);
      if (eg.shapes[eid].IsKnown() && eg.dtypes[eid] != DType::kUnknown) continue;
      std::string what =
          EntryName(g, nid, j) + " " + eg.shapes[eid].ToString() + " " + ToString(eg.dtypes[eid]);
      (n.is_variable() ? unknown_args : unknown_other).push_back(what);
    }
  }
  LOOM_CHECK(unknown_args.empty(), "cannot bind: the shapes or dtypes of ", Join(unknown_args),
             " cannot be inferred from what was given; give them when binding");
  LOOM_CHECK(unknown_other.empty(), "cannot bind: the shapes or dtypes of ", Join(unknown_other),
             " stay unknown after inference (an operator without shape or type rules?)");
  return eg;
}

}  // namespace loom::detail
