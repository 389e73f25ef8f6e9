#include "bucket_plan.h"

#include <algorithm>
#include <map>
#include <utility>

namespace loom::comm::detail {

NDArray Bucket::Part(size_t i, const Shape& shape) const {
  return buffer.View(shape, dtype, buffer.byte_offset() + offsets[i] * DTypeSize(dtype));
}

std::vector<Bucket> PlanBuckets(const std::vector<NDArray>& arrays,
                                const std::vector<int>& priorities, size_t bucket_bytes) {
  std::vector<Bucket> closed;
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
    Bucket& b = open[{a.ctx(), a.dtype()}];
    const size_t elem = DTypeSize(a.dtype());
    if (!b.members.empty() && (b.elements + a.size()) * elem > bucket_bytes) close(b);
    if (b.members.empty()) {
      b.ctx = a.ctx();
      b.dtype = a.dtype();
      b.priority = priorities[i];
    }
    b.members.push_back(static_cast<int>(i));
    b.offsets.push_back(b.elements);
    b.elements += a.size();
    b.priority = std::max(b.priority, priorities[i]);
    if (b.elements * elem >= bucket_bytes) close(b);
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
