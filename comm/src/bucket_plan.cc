#include "bucket_plan.h"

#include <algorithm>
#include <map>
#include <utility>

namespace loom::comm::detail {

NDArray Bucket::Part(size_t i, const Shape& shape) const {
  return buffer.View(shape, dtype, buffer.byte_offset() + offsets[i] * DTypeSize(dtype));
}

std::vector<Bucket> PlanBuckets(const std::vector<NDArray>& arrays,
                                const std::vector<int>& priorities, size_t bucket_bytes,
                                size_t first_bucket_bytes) {
  std::vector<Bucket> closed;
  // Buckets closed so far per (context, dtype): the first one is capped at first_bucket_bytes.
  std::map<std::pair<Context, DType>, int> closed_count;
  // Open bucket per (context, dtype), and the position of its first member (to close the last
  // ones in production order).
  std::map<std::pair<Context, DType>, Bucket> open;
  auto close = [&](Bucket& b) {
    if (b.members.size() > 1)
      b.buffer = NDArray::Empty({static_cast<int64_t>(b.elements)}, b.ctx, b.dtype);
    closed.push_back(std::move(b));
    b = Bucket();
  };
  for (size_t i = 0; i < arrays.size(); ++i) {
    const NDArray& a = arrays[i];
    const std::pair<Context, DType> key{a.ctx(), a.dtype()};
    Bucket& b = open[key];
    const size_t elem = DTypeSize(a.dtype());
    const size_t cap =
        closed_count[key] == 0 ? std::min(bucket_bytes, first_bucket_bytes) : bucket_bytes;
    if (!b.members.empty() && (b.elements + a.size()) * elem > cap) {
      close(b);
      ++closed_count[key];
    }
    if (b.members.empty()) {
      b.ctx = a.ctx();
      b.dtype = a.dtype();
      b.priority = priorities[i];
    }
    b.members.push_back(static_cast<int>(i));
    b.offsets.push_back(b.elements);
    b.elements += a.size();
    b.priority = std::max(b.priority, priorities[i]);
    if (b.elements * elem >= cap) {
      close(b);
      ++closed_count[key];
    }
  }
  std::vector<Bucket*> rest;
  for (auto& [key, b] : open) {
    if (!b.members.empty()) rest.push_back(&b);
  }
  std::sort(rest.begin(), rest.end(),
            [](const Bucket* x, const Bucket* y) { return x->members[0] < y->members[0]; });
  for (Bucket* b : rest) close(*b);
  return closed;
}

}  // namespace loom::comm::detail
