#include "memory_plan.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "loom/core/operator.h"

namespace loom::detail {

size_t EntryBytes(const Shape& shape, DType dtype) {
  return static_cast<size_t>(shape.Size()) * DTypeSize(dtype);
}

namespace {

// Free storage per device, by size (MXNet's GraphAllocator).
class StorageAllocator {
 public:
  StorageAllocator(MemoryPlan* plan, int match_range) : plan_(plan), match_range_(match_range) {}

  int Request(int device, size_t bytes) {
    if (match_range_ > 0) {
      auto& free = free_[device];
      const auto range = static_cast<size_t>(match_range_);
      auto it = free.lower_bound(bytes);
      // First the smallest free block that is large enough, then the largest one below.
      if (it != free.end() && it->first / range < std::max<size_t>(bytes, 1)) {
        int sid = it->second;
        free.erase(it);
        return sid;
      }
      if (it != free.begin()) {
        auto below = std::prev(it);
        if (below->first >= bytes / range) {
          int sid = below->second;
          free.erase(below);
          plan_->storage_bytes[sid] = bytes;
          return sid;
        }
      }
    }
    plan_->storage_bytes.push_back(bytes);
    plan_->storage_device.push_back(device);
    return static_cast<int>(plan_->storage_bytes.size()) - 1;
  }

  void Release(int sid) {
    if (match_range_ > 0) {
      free_[plan_->storage_device[sid]].emplace(plan_->storage_bytes[sid], sid);
    }
  }

 private:
  MemoryPlan* plan_;
  int match_range_;
  std::map<int, std::multimap<size_t, int>> free_;
};

}  // namespace

MemoryPlan PlanMemory(const MemoryPlanRequest& req) {
  const IndexedGraph& g = *req.graph;
  const std::vector<Shape>& shapes = *req.shapes;
  const std::vector<DType>& dtypes = *req.dtypes;
  const size_t num_entries = g.num_entries();
  MemoryPlan plan;
  plan.storage_id.assign(num_entries, -1);
  plan.inplace_input.assign(num_entries, -1);
  plan.unused.assign(num_entries, false);

  std::vector<uint32_t> refs(num_entries, 0);
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    if (req.ignore_inputs[nid]) continue;
    for (uint32_t eid : g.input_entries(nid)) ++refs[eid];
  }
  for (uint32_t eid : g.output_entries()) ++refs[eid];
  auto bytes_of = [&](uint32_t eid) { return EntryBytes(shapes[eid], dtypes[eid]); };
  for (uint32_t eid = 0; eid < num_entries; ++eid) {
    if (req.external[eid]) {
      plan.storage_id[eid] = MemoryPlan::kExternal;
    } else {
      plan.unplanned_bytes += bytes_of(eid);
    }
  }

  StorageAllocator allocator(&plan, req.match_range);
  std::vector<uint32_t> storage_refs;
  auto release_if_done = [&](int sid) {
    if (storage_refs[sid] == 0) allocator.Release(sid);
  };
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    const Node& node = *g.node(nid);
    if (node.is_variable()) continue;
    const uint32_t nout = node.num_outputs();
    const auto& inputs = g.input_entries(nid);
    if (req.inplace && node.attrs.op->inplace_options() && !req.ignore_inputs[nid]) {
      std::vector<bool> taken(inputs.size(), false);
      for (auto [i, j] : node.attrs.op->inplace_options()(node.attrs)) {
        if (i < 0 || static_cast<size_t>(i) >= inputs.size() || j < 0 ||
            static_cast<uint32_t>(j) >= nout || taken[i]) {
          continue;
        }
        const uint32_t in = inputs[i], out = g.entry_id(nid, j);
        const int sid = plan.storage_id[in];
        if (plan.storage_id[out] != -1 || sid < 0 || storage_refs[sid] != 1 || refs[out] == 0 ||
            plan.storage_device[sid] != req.device[nid] || dtypes[in] != dtypes[out] ||
            bytes_of(in) != bytes_of(out)) {
          continue;
        }
        plan.storage_id[out] = sid;
        plan.inplace_input[out] = i;
        storage_refs[sid] += refs[out];
        taken[i] = true;
        ++plan.num_inplace;
      }
    }
    std::vector<uint32_t> outs(nout);
    std::iota(outs.begin(), outs.end(), g.entry_id(nid, 0));
    std::stable_sort(outs.begin(), outs.end(),
                     [&](uint32_t a, uint32_t b) { return bytes_of(a) > bytes_of(b); });
    for (uint32_t out : outs) {
      if (plan.storage_id[out] != -1) continue;
      const int sid = allocator.Request(req.device[nid], bytes_of(out));
      if (static_cast<size_t>(sid) >= storage_refs.size()) storage_refs.resize(sid + 1, 0);
      plan.storage_id[out] = sid;
      storage_refs[sid] = refs[out];
    }
    if (!req.ignore_inputs[nid]) {
      for (uint32_t in : inputs) {
        const int sid = plan.storage_id[in];
        if (sid < 0) continue;
        --storage_refs[sid];
        release_if_done(sid);
      }
    }
    for (uint32_t j = 0; j < nout; ++j) {
      const uint32_t out = g.entry_id(nid, j);
      if (refs[out] != 0) continue;
      plan.unused[out] = true;
      const int sid = plan.storage_id[out];
      if (sid >= 0 && plan.inplace_input[out] < 0) release_if_done(sid);
    }
  }
  plan.planned_bytes =
      std::accumulate(plan.storage_bytes.begin(), plan.storage_bytes.end(), size_t{0});
  return plan;
}

}  // namespace loom::detail
