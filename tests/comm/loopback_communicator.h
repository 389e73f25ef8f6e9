// A test communicator that plays `size` ranks in one process: every other rank is assumed to
// hold exactly this rank's data, so an allreduce multiplies by size. It records what it was
// asked to do (sequence number, collective, elements), so tests can check bucket layouts and
// issue order without MPI.
#pragma once

#include <algorithm>
#include <cstring>
#include <mutex>
#include <tuple>
#include <vector>

#include "loom/comm/communicator.h"

namespace loom::comm::testing {

class LoopbackCommunicator final : public Communicator {
 public:
  struct Call {
    uint64_t seq;
    CollectiveOp op;
    int64_t elements;
    friend bool operator<(const Call& a, const Call& b) { return a.seq < b.seq; }
  };

  explicit LoopbackCommunicator(int size)
      : Communicator(0, size, std::chrono::milliseconds(60'000)) {}
  ~LoopbackCommunicator() override { WaitOutstanding(); }

  std::string_view backend() const override { return "loopback"; }
  bool SupportsContext(Context ctx) const override { return ctx.is_host(); }

  /// The calls so far, in sequence order.
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Call> sorted = calls_;
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }

 protected:
  void Start(Request req) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back({req.seq, req.op, req.out.is_none() ? 0 : req.out.size()});
    }
    if (req.op == CollectiveOp::kAllReduce) {
      const auto n = static_cast<size_t>(req.out.size());
      if (req.out.dtype() == DType::kFloat64) {
        Scale(static_cast<const double*>(req.in.data()), static_cast<double*>(req.out.data()), n);
      } else {
        Scale(static_cast<const float*>(req.in.data()), static_cast<float*>(req.out.data()), n);
      }
    }
    Finish(req, nullptr);
  }

 private:
  template <typename T>
  void Scale(const T* in, T* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = in[i] * static_cast<T>(size());
  }

  std::mutex mu_;
  std::vector<Call> calls_;
};

}  // namespace loom::comm::testing
