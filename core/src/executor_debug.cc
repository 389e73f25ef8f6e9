// What an executor tells about itself: its nodes, placement (devices, cross-device copies), memory
// plan, per device and in total.
#include <algorithm>
#include <map>
#include <sstream>

#include "executor_impl.h"
#include "loom/core/infer_pass.h"
#include "loom/core/operator.h"

namespace loom::detail {

MemoryPlanStats ExecutorImpl::Stats() const { return PlanStats(graph, plan); }

std::vector<ExecNodeInfo> ExecutorImpl::Nodes() const {
  std::vector<ExecNodeInfo> out;
  const IndexedGraph& g = *graph.idx;
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    const Node& n = *g.node(nid);
    out.push_back(ExecNodeInfo{n.attrs.name, n.is_variable() ? "" : n.attrs.op->name(),
                               graph.node_ctx[nid], nid >= graph.num_forward_nodes});
  }
  return out;
}

std::string ExecutorImpl::DebugStr() const {
  const IndexedGraph& g = *graph.idx;
  const MemoryPlanStats st = Stats();
  std::ostringstream os;
  os << "Executor on " << ctx.ToString() << ": " << graph.num_forward_nodes << " forward nodes, "
     << g.num_nodes() - graph.num_forward_nodes << " backward nodes, " << st.num_storage
     << " storage chunks\n";
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    const Node& n = *g.node(nid);
    os << (nid < graph.num_forward_nodes ? "[fwd] " : "[bwd] ") << "node " << nid << " "
       << graph.Describe(nid) << " on " << graph.node_ctx[nid].ToString();
    if (n.is_variable()) {
      const uint32_t eid = g.entry_id(nid, 0);
      os << ": " << graph.shapes[eid].ToString() << " " << ToString(graph.dtypes[eid]) << "\n";
      continue;
    }
    os << "\n  inputs:";
    const auto& ins = g.input_entries(nid);
    for (size_t k = 0; k < ins.size(); ++k) {
      const NodeEntry& e = n.inputs[k];
      os << (k ? ", " : " ") << EntryName(g, g.node_id(e.node.get()), e.index);
    }
    os << "\n";
    for (uint32_t j = 0; j < n.num_outputs(); ++j) {
      const uint32_t eid = g.entry_id(nid, j);
      const int sid = plan.storage_id[eid];
      os << "  output " << j << " " << EntryName(g, nid, j) << " " << graph.shapes[eid].ToString()
         << " " << ToString(graph.dtypes[eid]) << ": ";
      if (sid >= 0) {
        os << "storage " << sid << " (" << plan.storage_bytes[sid] << " bytes)";
        if (plan.inplace_input[eid] >= 0) os << ", in place of input " << plan.inplace_input[eid];
      } else {
        os << "external (a bound array)";
      }
      if (plan.unused[eid]) os << ", unused";
      os << "\n";
    }
  }
  // Placement: the copies inserted between devices, and what each device holds.
  std::vector<uint32_t> copies;
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    if (graph.is_copy[nid]) copies.push_back(nid);
  }
  os << "cross-device copies (" << copies.size() << "):";
  for (uint32_t nid : copies) {
    const NodeEntry& src = g.node(nid)->inputs[0];
    os << " " << g.node(nid)->attrs.name << " "
       << graph.node_ctx[g.node_id(src.node.get())].ToString() << "->"
       << graph.node_ctx[nid].ToString();
  }
  os << "\n";
  struct DeviceBytes {
    size_t planned = 0, buffers = 0, external = 0, temp = 0, nodes = 0;
  };
  std::map<Context, DeviceBytes> per_device;
  const std::vector<Context> devices = graph.Devices();
  for (size_t sid = 0; sid < plan.storage_bytes.size(); ++sid) {
    DeviceBytes& d = per_device[devices[plan.storage_device[sid]]];
    d.planned += plan.storage_bytes[sid];
    ++d.buffers;
  }
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    DeviceBytes& d = per_device[graph.node_ctx[nid]];
    ++d.nodes;
    d.temp = std::max(d.temp, NodeTempBytes(graph, nid));
    for (uint32_t j = 0; j < g.node(nid)->num_outputs(); ++j) {
      const uint32_t eid = g.entry_id(nid, j);
      if (plan.storage_id[eid] < 0) d.external += EntryBytes(graph.shapes[eid], graph.dtypes[eid]);
    }
  }
  for (const auto& [dev, d] : per_device) {
    os << "device " << dev.ToString() << ": " << d.nodes << " nodes, " << d.planned
       << " bytes planned in " << d.buffers << " buffers, " << d.external
       << " bytes in bound arrays, " << d.temp << " bytes temp space\n";
  }
  for (const auto* ops : {&forward_train_, &backward_}) {
    os << (ops == &backward_ ? "backward" : "forward") << " engine operations (" << ops->size()
       << "):";
    for (const CachedOp& op : *ops) os << " [" << op.name << "]";
    os << "\n";
  }
  os << "Total " << (st.planned_bytes >> 20) << " MB allocated (" << st.planned_bytes
     << " bytes planned, " << st.unplanned_bytes << " bytes without planning, " << st.external_bytes
     << " bytes in bound arrays, " << st.temp_space_bytes << " bytes temp space, " << st.num_inplace
     << " entries in place)\n";
  return os.str();
}

}  // namespace loom::detail
