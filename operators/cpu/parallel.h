// Intra-operator parallelism of the CPU kernels: how many threads one kernel may use, and a
// parallel loop that stays serial when the work is too small to pay for waking a thread.
//
//   loom::cpu::ParallelFor(rows, /*grain=*/64, [&](int64_t begin, int64_t end) {
//     for (int64_t r = begin; r < end; ++r) Normalise(r);
//   });
//
// ParallelFor runs on the caller's oneTBB arena (the engine's worker pool when called from a
// kernel) inside tbb::this_task_arena::isolate, so a kernel waiting for its chunks never picks up
// an unrelated engine operation. Thread-safe; KernelThreads() is a process-wide setting (see
// docs/kernels.md for how it relates to OpenBLAS and oneDNN).
#pragma once

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstdint>

namespace loom::cpu {

/// Threads one kernel may use: LOOM_KERNEL_THREADS when set, else the hardware's core count.
int KernelThreads();
/// Sets KernelThreads() (n >= 1) for every kernel started afterwards.
void SetKernelThreads(int n);

/// Threads a kernel started now may use: KernelThreads() capped by the current arena.
inline int AvailableThreads() {
  return std::max(1, std::min(KernelThreads(), tbb::this_task_arena::max_concurrency()));
}

/// Calls fn(begin, end) over disjoint ranges covering [0, n). Serial when n <= grain or one
/// thread is available; otherwise at most AvailableThreads() equal chunks of at least `grain`
/// items. Choose grain as the item count worth tens of microseconds of work.
template <typename F>
void ParallelFor(int64_t n, int64_t grain, F&& fn) {
  if (n <= 0) return;
  const int threads = n > grain ? AvailableThreads() : 1;
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / std::max<int64_t>(grain, 1));
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_for(
        int64_t{0}, chunks,
        [&](int64_t c) {
          const int64_t begin = n * c / chunks;
          const int64_t end = n * (c + 1) / chunks;
          if (begin < end) fn(begin, end);
        },
        tbb::static_partitioner());
  });
}

}  // namespace loom::cpu
