#include "loom/comm/bucketer.h"

#include <algorithm>

#include "array_ops.h"
#include "bucket_plan.h"
#include "loom/scheduler/error.h"

namespace loom::comm {

struct GradientBucketer::Plan {
  std::vector<detail::Bucket> buckets;
  /// members of the buckets as parameter indices.
  std::vector<std::vector<int>> params;
  /// bucket of each parameter index (-1: no gradient).
  std::vector<int> bucket_of;
  // Step state.
  std::vector<char> ready;
  std::vector<int> remaining;
  size_t next = 0;
  std::vector<Work> works;
  std::vector<int> launched;  // buckets of the current (or last finished) step
};

GradientBucketer::GradientBucketer(std::shared_ptr<Communicator> comm, std::vector<NDArray> grads,
                                   std::vector<int> order, BucketOptions options)
    : comm_(std::move(comm)), grads_(std::move(grads)), plan_(std::make_unique<Plan>()) {
  LOOM_CHECK(comm_ != nullptr, "GradientBucketer: expected a communicator but got nullptr");
  LOOM_CHECK(options.bucket_bytes > 0, "GradientBucketer: expected bucket_bytes > 0");
  const int n = static_cast<int>(grads_.size());
  if (order.empty()) {
    for (int i = n - 1; i >= 0; --i) {
      if (!grads_[i].is_none()) order.push_back(i);
    }
  }
  std::vector<char> seen(n, 0);
  for (int index : order) {
    LOOM_CHECK(index >= 0 && index < n, "GradientBucketer: expected parameter indices from 0 to ",
               n - 1, " in the order but got ", index);
    LOOM_CHECK(!grads_[index].is_none(), "GradientBucketer: parameter ", index,
               " is in the order but has no gradient array");
    LOOM_CHECK(!seen[index], "GradientBucketer: parameter ", index, " is twice in the order");
    seen[index] = 1;
  }
  for (int i = 0; i < n; ++i) {
    LOOM_CHECK(grads_[i].is_none() || seen[i], "GradientBucketer: parameter ", i,
               " has a gradient but is missing from the order");
  }
  std::vector<NDArray> arrays;
  std::vector<int> priorities;
  for (int index : order) {
    const NDArray& g = grads_[index];
    LOOM_CHECK_TYPED(DTypeError, g.dtype() == DType::kFloat32 || g.dtype() == DType::kFloat64,
                     "GradientBucketer: expected float32 or float64 gradients but parameter ",
                     index, " has ", ToString(g.dtype()));
    LOOM_CHECK(comm_->SupportsContext(g.ctx()), "GradientBucketer: the ", comm_->backend(),
               " communicator cannot reduce arrays on ", g.ctx().ToString(), " (parameter ", index,
               ")");
    arrays.push_back(g);
    priorities.push_back(-index);
  }
  Plan& p = *plan_;
  p.bucket_of.assign(n, -1);
  if (comm_->size() > 1)
    p.buckets =
        detail::PlanBuckets(arrays, priorities, options.bucket_bytes, options.first_bucket_bytes);
  for (size_t b = 0; b < p.buckets.size(); ++b) {
    std::vector<int> params;
    for (int m : p.buckets[b].members) {
      params.push_back(order[m]);
      p.bucket_of[order[m]] = static_cast<int>(b);
    }
    p.params.push_back(std::move(params));
    p.remaining.push_back(static_cast<int>(p.buckets[b].members.size()));
  }
  if (comm_->size() == 1) {
    // One rank: nothing to reduce; a single bucket keeps the bookkeeping of Ready uniform.
    for (int index : order) p.bucket_of[index] = 0;
    p.params.push_back(order);
    p.remaining.push_back(static_cast<int>(order.size()));
  }
  p.ready.assign(n, 0);
}

GradientBucketer::~GradientBucketer() = default;

void GradientBucketer::Ready(int index) {
  Plan& p = *plan_;
  LOOM_CHECK(index >= 0 && index < static_cast<int>(grads_.size()),
             "GradientBucketer::Ready: expected a parameter index from 0 to ",
             static_cast<int>(grads_.size()) - 1, " but got ", index);
  LOOM_CHECK(p.bucket_of[index] >= 0, "GradientBucketer::Ready: parameter ", index,
             " has no gradient");
  LOOM_CHECK(!p.ready[index], "GradientBucketer::Ready: parameter ", index,
             " was already handed over in this step");
  if (p.next == 0 && std::all_of(p.ready.begin(), p.ready.end(), [](char r) { return !r; })) {
    // First gradient of a step: the previous step's handles are no longer needed.
    p.works.clear();
    p.launched.clear();
  }
  p.ready[index] = 1;
  --p.remaining[p.bucket_of[index]];
  LaunchReady();
}

void GradientBucketer::Flush() {
  for (int i = 0; i < static_cast<int>(grads_.size()); ++i) {
    if (plan_->bucket_of[i] >= 0 && !plan_->ready[i]) Ready(i);
  }
}

void GradientBucketer::LaunchReady() {
  Plan& p = *plan_;
  const size_t count = p.remaining.size();
  while (p.next < count && p.remaining[p.next] == 0) {
    const size_t b = p.next++;
    if (comm_->size() > 1) {
      detail::Bucket& bucket = p.buckets[b];
      std::vector<NDArray> members;
      for (int index : p.params[b]) members.push_back(grads_[index]);
      if (members.size() == 1) {
        p.works.push_back(comm_->AllReduce(members[0], members[0], bucket.priority));
      } else {
        detail::PushPack(members, bucket.offsets, bucket.buffer, bucket.priority);
        p.works.push_back(comm_->AllReduce(bucket.buffer, bucket.buffer, bucket.priority));
        detail::PushUnpack(bucket.buffer, bucket.offsets, members, bucket.priority);
      }
    }
    p.launched.push_back(static_cast<int>(b));
  }
  if (p.next == count) {
    // Step complete: the next Ready starts a new one.
    p.next = 0;
    std::fill(p.ready.begin(), p.ready.end(), 0);
    for (size_t b = 0; b < count; ++b) p.remaining[b] = static_cast<int>(p.params[b].size());
  }
}

void GradientBucketer::Wait() {
  Plan& p = *plan_;
  for (const Work& w : p.works) w.Wait();
  for (int b : p.launched) {
    for (int index : p.params[b]) grads_[index].WaitToRead();
  }
}

std::vector<std::vector<int>> GradientBucketer::buckets() const {
  return comm_->size() > 1 ? plan_->params : std::vector<std::vector<int>>();
}

}  // namespace loom::comm
