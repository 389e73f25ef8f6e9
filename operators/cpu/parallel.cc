#include "operators/cpu/parallel.h"

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "loom/scheduler/error.h"

namespace loom::cpu {
namespace {

int InitialThreads() {
  if (const char* env = std::getenv("LOOM_KERNEL_THREADS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    LOOM_CHECK(end != env && *end == '\0' && n >= 1 && n <= 4096,
               "LOOM_KERNEL_THREADS: expected a thread count >= 1 but got '", env, "'");
    return static_cast<int>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::atomic<int>& ThreadSetting() {
  static std::atomic<int> threads{InitialThreads()};
  return threads;
}

}  // namespace

int KernelThreads() { return ThreadSetting().load(std::memory_order_relaxed); }

void SetKernelThreads(int n) {
  LOOM_CHECK(n >= 1, "SetKernelThreads: expected a thread count >= 1 but got ", n);
  ThreadSetting().store(n, std::memory_order_relaxed);
}

}  // namespace loom::cpu
