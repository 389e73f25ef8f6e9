// Engine construction from options and the environment, and the process-wide instance.
#include <array>
#include <cstdlib>
#include <thread>

#include "engine_impl.h"
#include "loom/scheduler/engine.h"
#include "loom/scheduler/env.h"
#include "loom/scheduler/error.h"

namespace loom {
namespace detail {
std::unique_ptr<Engine> CreateThreadedEngine(const EngineOptions& options);
std::unique_ptr<Engine> CreateNaiveEngine(const EngineOptions& options);
}  // namespace detail

namespace {
constexpr std::array<const char*, static_cast<size_t>(FnProperty::kCount)> kFnPropertyNames = {
    "normal", "copy_from_gpu", "copy_to_gpu", "cpu_prioritized",
    "async",  "delete_var",    "gpu_prioritized", "no_skip"};
static_assert(static_cast<int>(FnProperty::kCount) == 8, "update kFnPropertyNames");

EngineOptions Resolve(EngineOptions o) {
  if (o.kind.empty()) o.kind = env::GetString(env::kEngine, "threaded");
  LOOM_CHECK(o.kind == "threaded" || o.kind == "naive", "expected ", env::kEngine,
             " to be 'threaded' or 'naive' but got '", o.kind, "'");
  const long cores = std::max(1u, std::thread::hardware_concurrency());
  if (o.cpu_worker_threads <= 0) {
    o.cpu_worker_threads =
        static_cast<int>(env::GetInt(env::kCpuWorkerThreads, std::min<long>(cores, 8)));
  }
  if (o.cpu_priority_threads <= 0) {
    o.cpu_priority_threads = static_cast<int>(env::GetInt(env::kCpuPriorityThreads, 2));
  }
  if (o.gpu_compute_streams <= 0) {
    o.gpu_compute_streams = static_cast<int>(env::GetInt(env::kGpuComputeStreams, 2));
  }
  LOOM_CHECK(o.cpu_worker_threads >= 1 && o.cpu_worker_threads <= 256,
             "expected 1 to 256 CPU worker threads but got ", o.cpu_worker_threads);
  LOOM_CHECK(o.cpu_priority_threads >= 1 && o.cpu_priority_threads <= 256,
             "expected 1 to 256 prioritised CPU threads but got ", o.cpu_priority_threads);
  LOOM_CHECK(o.gpu_compute_streams >= 1 && o.gpu_compute_streams <= 64,
             "expected 1 to 64 GPU compute streams but got ", o.gpu_compute_streams);
  if (o.profile_path.empty()) o.profile_path = env::GetString(env::kProfile, "");
  return o;
}
}  // namespace

const char* ToString(FnProperty prop) { return kFnPropertyNames.at(static_cast<size_t>(prop)); }

std::unique_ptr<Engine> Engine::Create(const EngineOptions& options) {
  EngineOptions resolved = Resolve(options);
  if (resolved.kind == "naive") return detail::CreateNaiveEngine(resolved);
  return detail::CreateThreadedEngine(resolved);
}

Engine& Engine::Get() {
  // Never destroyed: arrays in static storage may still release variables during exit. Pending
  // work is finished and the trace written by an exit handler instead.
  static Engine* engine = [] {
    Engine* e = Create().release();
    std::atexit([] {
      try {
        Engine::Get().WaitForAll();
      } catch (...) {
        // Exiting: an error nobody waited for has no one left to report to.
      }
      std::string path = env::GetString(env::kProfile, "");
      if (!path.empty()) Engine::Get().DumpProfile(path);
    });
    return e;
  }();
  return *engine;
}

}  // namespace loom
