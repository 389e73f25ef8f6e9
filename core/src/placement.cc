// Device placement (MXNet's AssignContext + PlaceDevice): `__ctx_group__` attributes and the
// group2ctx map choose devices, unannotated nodes follow their neighbours, and entries that cross
// devices go through `<src>_<idx>_copy` nodes.
#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "exec_graph.h"
#include "grad_ops.h"
#include "loom/core/operator.h"

namespace loom::detail {
namespace {

constexpr const char* kCtxGroup = "__ctx_group__";

std::string KnownGroups(const ContextMap& group2ctx) {
  std::string s;
  for (const auto& [group, ctx] : group2ctx) {
    s += (s.empty() ? "" : ", ") + group + "=" + ctx.ToString();
  }
  return s;
}

// The device of a node's `__ctx_group__`, or nullopt when it has none.
std::optional<Context> GroupDevice(const Node& n, const ContextMap& group2ctx) {
  auto it = n.attrs.dict.find(kCtxGroup);
  if (it == n.attrs.dict.end()) return std::nullopt;
  auto dev = group2ctx.find(it->second);
  LOOM_CHECK(dev != group2ctx.end(), "group '", it->second, "' of ",
             n.is_variable() ? "variable '" : "node '", n.attrs.name,
             "' has no device in group2ctx; the groups given are: ", KnownGroups(group2ctx));
  return dev->second;
}

}  // namespace

Context ArrayDevice(const Node& var, const ContextMap& group2ctx, Context fallback) {
  return GroupDevice(var, group2ctx).value_or(fallback);
}

Placement PlaceDevices(const ExecGraphSpec& spec, const std::vector<NodeEntry>& outputs,
                       const std::vector<NodePtr>& arg_nodes, const std::vector<NodePtr>& aux_nodes,
                       const std::vector<NodePtr>& head_grads,
                       const std::vector<int>& grad_output) {
  Placement p;
  p.outputs = outputs;
  std::vector<NodePtr> topo;
  PostOrderDFS(outputs, [&](const NodePtr& n) { topo.push_back(n); });
  if (spec.group2ctx == nullptr || spec.group2ctx->empty()) {
    for (const NodePtr& n : topo) p.device.emplace(n.get(), spec.ctx);
    return p;
  }
  const ContextMap& group2ctx = *spec.group2ctx;
  auto& device = p.device;
  // Bound arrays fix their variables' devices; SimpleBind allocates them on their group's.
  for (size_t i = 0; i < arg_nodes.size(); ++i) {
    device[arg_nodes[i].get()] =
        spec.arg_ctx.empty() ? ArrayDevice(*arg_nodes[i], group2ctx, spec.ctx) : spec.arg_ctx[i];
  }
  for (size_t i = 0; i < aux_nodes.size(); ++i) {
    device[aux_nodes[i].get()] =
        spec.aux_ctx.empty() ? ArrayDevice(*aux_nodes[i], group2ctx, spec.ctx) : spec.aux_ctx[i];
  }
  // Forward sweep: the group's device, else a backward node's forward node's, else the first
  // placed input's. Head gradients live with their outputs (placed before them: forward nodes
  // come first in topo).
  std::unordered_map<const Node*, const Node*> head_output;
  for (size_t i = 0; i < head_grads.size(); ++i) {
    head_output.emplace(head_grads[i].get(), outputs[i].node.get());
  }
  for (const NodePtr& n : topo) {
    if (device.count(n.get())) continue;
    if (auto it = head_output.find(n.get()); it != head_output.end()) {
      device[n.get()] = device.at(it->second);
      continue;
    }
    if (n->is_variable()) continue;
    if (auto dev = GroupDevice(*n, group2ctx)) {
      device[n.get()] = *dev;
      continue;
    }
    if (!n->control_deps.empty()) {
      auto it = device.find(n->control_deps[0].get());
      if (it != device.end()) {
        device[n.get()] = it->second;
        continue;
      }
    }
    for (const NodeEntry& e : n->inputs) {
      auto it = device.find(e.node.get());
      if (it != device.end()) {
        device[n.get()] = it->second;
        break;
      }
    }
  }
  // Backward sweep: what is still unplaced (head gradients, nodes fed only by them) follows its
  // consumers; anything left runs on the bind context.
  for (size_t i = topo.size(); i-- > 0;) {
    auto it = device.find(topo[i].get());
    if (it == device.end()) continue;
    for (const NodeEntry& e : topo[i]->inputs) device.emplace(e.node.get(), it->second);
  }
  for (const NodePtr& n : topo) device.emplace(n.get(), spec.ctx);

  // Copies: one per (source entry, destination device).
  std::map<std::tuple<const Node*, uint32_t, Context>, NodeEntry> made;
  auto copy_to = [&](const NodeEntry& src, Context dst) {
    auto key = std::make_tuple(src.node.get(), src.index, dst);
    auto it = made.find(key);
    if (it != made.end()) return it->second;
    auto c = std::make_shared<Node>();
    c->attrs.op = &CrossDeviceCopyOp();
    c->attrs.name = src.node->attrs.name + "_" + std::to_string(src.index) + "_copy";
    c->inputs.push_back(src);
    device[c.get()] = dst;
    p.copies.insert(c.get());
    NodeEntry out{c, 0, 0};
    made.emplace(key, out);
    return out;
  };
  for (const NodePtr& n : topo) {
    if (n->is_variable() || n->attrs.op == &GradZerosOp()) continue;  // zeros read nothing
    const Context dst = device.at(n.get());
    const std::vector<uint32_t> aux = n->attrs.op->AuxInputIndices(n->attrs);
    for (uint32_t k = 0; k < n->inputs.size(); ++k) {
      NodeEntry& e = n->inputs[k];
      const Context src = device.at(e.node.get());
      if (src == dst) continue;
      LOOM_CHECK(std::find(aux.begin(), aux.end(), k) == aux.end(), "auxiliary state '",
                 e.node->attrs.name, "' of node '", n->attrs.name, "' (", n->attrs.op->name(),
                 ") is on ", src.ToString(), " but the node runs on ", dst.ToString(),
                 ": auxiliary states cannot cross devices (put them in the node's ctx_group)");
      e = copy_to(e, dst);
    }
  }
  // Gradients computed on another device than their array's are copied there.
  for (size_t i = 0; i < grad_output.size(); ++i) {
    if (grad_output[i] < 0) continue;
    NodeEntry& g = p.outputs[grad_output[i]];
    const Context want = spec.grad_ctx.empty() ? device.at(arg_nodes[i].get()) : spec.grad_ctx[i];
    if (device.at(g.node.get()) != want) g = copy_to(g, want);
  }
  return p;
}

}  // namespace loom::detail
