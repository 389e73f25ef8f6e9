// Fusion of many arrays into a few flat buckets, shared by GradientBucketer and the KVStore's
// list calls: arrays are taken in production order and packed into one bucket per (context,
// dtype) until the next would overflow bucket_bytes; the first bucket of each (context, dtype)
// closes at first_bucket_bytes already (PyTorch DDP's rule: the last layers' gradients, ready
// first, go out while backward is still far from done).
#pragma once

#include <cstddef>
#include <vector>

#include "loom/core/ndarray.h"

namespace loom::comm::detail {

struct Bucket {
  /// Positions in the planned list, in packing order.
  std::vector<int> members;
  /// Element offset of each member in the buffer.
  std::vector<size_t> offsets;
  size_t elements = 0;
  Context ctx;
  DType dtype = DType::kFloat32;
  /// max of the members' priorities.
  int priority = 0;
  /// Flat buffer of `elements` (allocated by PlanBuckets for buckets of several members).
  NDArray buffer;

  /// The view of member i's part of the buffer, with that member's shape.
  NDArray Part(size_t i, const Shape& shape) const;
};

/// Buckets for arrays (in production order) with their priorities, numbered in the order they
/// fill up (the launch order). A bucket with one member gets no buffer.
std::vector<Bucket> PlanBuckets(const std::vector<NDArray>& arrays,
                                const std::vector<int>& priorities, size_t bucket_bytes,
                                size_t first_bucket_bytes);

}  // namespace loom::comm::detail
