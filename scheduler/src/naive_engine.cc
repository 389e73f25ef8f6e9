// The naive engine (LOOM_ENGINE=naive): every operation runs synchronously in the pushing thread,
// so a debugger's stack trace points at the cause. Errors still surface at the next wait, exactly
// as with the threaded engine, so programs behave the same under both.
#include "engine_impl.h"
#include "gpu_backend.h"

namespace loom::detail {
namespace {

class NaiveEngine final : public EngineImpl {
 public:
  explicit NaiveEngine(const EngineOptions& options) : EngineImpl(options) {
    cpu_worker_threads_ = 1;
    SetGpuBackend(CreateGpuBackend(this, 1));
  }
  ~NaiveEngine() override {
    WaitForPendingZero();
    Quiesce();
  }
  std::string_view kind() const override { return "naive"; }

 protected:
  void Dispatch(OprBlock* block, bool /*from_pusher*/) override {
    ++depth_;
    if (block->ctx.type == DeviceType::kGPU) {
      DispatchGpu(block);
    } else {
      Execute(block, RunContext{block->ctx}, -1);
    }
    --depth_;
  }
  // An asynchronous operation may complete on another thread: the outermost push waits for it.
  // Pushes made from inside a running operation do not wait (that would wait for the caller).
  void AfterPush() override {
    if (depth_ == 0) WaitForPendingZero();
  }

 private:
  static thread_local int depth_;
};

thread_local int NaiveEngine::depth_ = 0;

}  // namespace

std::unique_ptr<Engine> CreateNaiveEngine(const EngineOptions& options) {
  return std::make_unique<NaiveEngine>(options);
}

}  // namespace loom::detail
