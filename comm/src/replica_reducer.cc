#include "loom/comm/replica_reducer.h"

#include <cstring>
#include <mutex>

#include "loom/scheduler/error.h"

namespace loom::comm {
namespace {

class CommReplicaReducer final : public ReplicaReducer {
 public:
  explicit CommReplicaReducer(std::shared_ptr<Communicator> comm) : comm_(std::move(comm)) {}

  int num_replicas() const override { return comm_->size(); }

  void SumInPlace(double* data, size_t n) override {
    if (comm_->size() == 1 || n == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (buffer_.is_none() || static_cast<size_t>(buffer_.size()) < n) {
      buffer_ = NDArray::Empty(Shape{static_cast<int64_t>(n)}, Context::CPU(), DType::kFloat64);
    }
    const NDArray sum = buffer_.View(Shape{static_cast<int64_t>(n)}, DType::kFloat64, 0);
    std::memcpy(sum.data(), data, n * sizeof(double));
    try {
      comm_->AllReduceUnscheduled(sum).Wait();
    } catch (...) {
      // An abandoned transfer may still write into the buffer: never reuse it.
      buffer_ = NDArray();
      throw;
    }
    std::memcpy(data, sum.data(), n * sizeof(double));
  }

 private:
  std::shared_ptr<Communicator> comm_;
  std::mutex mu_;
  NDArray buffer_;  // guarded by mu_; float64, grown to the largest sum
};

}  // namespace

std::shared_ptr<ReplicaReducer> MakeReplicaReducer(const CommOptions& options) {
  CommOptions o = options;
  if (o.backend == "nccl") o.backend = "mpi";
  return MakeReplicaReducer(Communicator::Create(o));
}

std::shared_ptr<ReplicaReducer> MakeReplicaReducer(std::shared_ptr<Communicator> comm) {
  LOOM_CHECK(comm != nullptr, "MakeReplicaReducer: expected a communicator but got null");
  LOOM_CHECK(comm->SupportsContext(Context::CPU()), "MakeReplicaReducer: expected a communicator ",
             "of host memory (local or mpi) but got a ", comm->backend(), " one");
  return std::make_shared<CommReplicaReducer>(std::move(comm));
}

}  // namespace loom::comm
