#include "operators/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "loom/scheduler/env.h"
#include "loom/scheduler/error.h"

namespace loom::cpu {
namespace {

int InitialThreads() {
  const long n = env::GetInt(env::kKernelThreads, 0);
  if (n == 0) return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  LOOM_CHECK(n >= 1 && n <= 4096, env::kKernelThreads, ": expected a thread count >= 1 but got ",
             n);
  return static_cast<int>(n);
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
