// Static memory planning of a bound graph (MXNet's MXPlanMemory): every entry the executor
// allocates gets a storage id; entries whose lifetimes do not overlap share one storage, an output
// may take over an input's storage in place, and outputs nobody reads are written with kNull.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/graph.h"
#include "loom/core/shape.h"

namespace loom::detail {

/// What the planner needs to know about a graph.
struct MemoryPlanRequest {
  const IndexedGraph* graph = nullptr;
  const std::vector<Shape>* shapes = nullptr;  ///< per entry
  const std::vector<DType>* dtypes = nullptr;  ///< per entry
  /// Device index per node (storage is never shared across devices).
  std::vector<int> device;
  /// Per entry: memory provided from outside (arguments, auxiliary states, gradients written
  /// into the user's arrays): never planned, never shared.
  std::vector<bool> external;
  /// Per node: inputs it does not read (their storage may be reused before it runs).
  std::vector<bool> ignore_inputs;
  /// Reuse an input's storage where the operator allows it and this is the input's last reader.
  bool inplace = true;
  /// Share freed storage with entries of size within [bytes / match_range, bytes * match_range);
  /// 0 disables sharing.
  int match_range = 16;
};

struct MemoryPlan {
  static constexpr int kExternal = -2;
  /// Per entry: a storage id >= 0, or kExternal.
  std::vector<int> storage_id;
  /// Per entry: the input index whose storage the output took over, or -1.
  std::vector<int> inplace_input;
  /// Per entry: true when nothing reads it (its node writes it with OpReq::kNull).
  std::vector<bool> unused;
  /// Per storage id: bytes (the largest entry placed in it) and device index.
  std::vector<size_t> storage_bytes;
  std::vector<int> storage_device;
  /// Sum of storage_bytes.
  size_t planned_bytes = 0;
  /// What the same entries would take with one buffer each.
  size_t unplanned_bytes = 0;
  /// Entries written in place of an input.
  size_t num_inplace = 0;
};

/// Plans nodes in id order (topological). Every non-external entry must have a known shape
/// and dtype.
MemoryPlan PlanMemory(const MemoryPlanRequest& request);

/// Bytes of an entry of this shape and dtype.
size_t EntryBytes(const Shape& shape, DType dtype);

}  // namespace loom::detail
