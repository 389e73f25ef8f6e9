// The in-process backend: one rank, so every collective is an identity (a copy when the output
// is another array). Multi-device sums within the process are the KVStore's job.
#include <cstring>

#include "backends.h"

namespace loom::comm::detail {
namespace {

class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(std::chrono::milliseconds timeout) : Communicator(0, 1, timeout) {}
  ~LocalCommunicator() override { WaitOutstanding(); }

  std::string_view backend() const override { return "local"; }
  bool SupportsContext(Context ctx) const override { return ctx.is_host(); }

 protected:
  void Start(Request req) override {
    if ((req.op == CollectiveOp::kAllReduce || req.op == CollectiveOp::kAllGather) &&
        req.in.data() != req.out.data() && req.in.nbytes() > 0) {
      std::memmove(req.out.data(), req.in.data(), req.in.nbytes());
    }
    Finish(req, nullptr);
  }
};

}  // namespace

std::shared_ptr<Communicator> CreateLocalCommunicator(std::chrono::milliseconds timeout) {
  return std::make_shared<LocalCommunicator>(timeout);
}

}  // namespace loom::comm::detail
