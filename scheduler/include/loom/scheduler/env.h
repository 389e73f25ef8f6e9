// Every environment variable Loom reads, as named constants, with helpers to read them.
// docs/environment.md documents each one; the engine logs the ones that are set at start-up.
//
//   int n = loom::env::GetInt(loom::env::kCpuWorkerThreads, 0);
//   std::string engine = loom::env::GetString(loom::env::kEngine, "threaded");
#pragma once

#include <string>

namespace loom::env {

/// "threaded" (default) or "naive": run every operation synchronously in the caller.
inline constexpr const char* kEngine = "LOOM_ENGINE";
/// Worker threads for each cpu(i) device pool (default: the machine's cores, at most 8).
inline constexpr const char* kCpuWorkerThreads = "LOOM_CPU_WORKER_NTHREADS";
/// Worker threads for the prioritised CPU pool (default 2).
inline constexpr const char* kCpuPriorityThreads = "LOOM_CPU_PRIORITY_NTHREADS";
/// Threads one CPU kernel may use for its own parallel loops and GEMM/convolution splits (default
/// or 0: the machine's cores; operators/cpu/parallel.h).
inline constexpr const char* kKernelThreads = "LOOM_KERNEL_THREADS";
/// Compute streams per GPU (default 2).
inline constexpr const char* kGpuComputeStreams = "LOOM_GPU_WORKER_NSTREAMS";
/// GPU memory pools: "caching" (default: freed blocks are kept for reuse) or "none".
inline constexpr const char* kGpuMemPool = "LOOM_GPU_MEM_POOL";
/// Percent of each GPU's memory the pool leaves free for others, releasing its cached blocks
/// when an allocation would eat into it (default 5).
inline constexpr const char* kGpuMemPoolReserve = "LOOM_GPU_MEM_POOL_RESERVE";
/// Path of a Chrome trace (chrome://tracing, Perfetto) written when the engine shuts down.
inline constexpr const char* kProfile = "LOOM_PROFILE";
/// Nodes per bulk segment of a bound executor (default 15; 0 or 1 = one engine operation per node).
inline constexpr const char* kExecBulkSize = "LOOM_EXEC_BULK_SIZE";
/// "1": executors check every float output for NaN/Inf and fail naming the first node that
/// produces one.
inline constexpr const char* kCheckNan = "LOOM_CHECK_NAN";

/// Seconds a started collective may wait for the other ranks before it fails with CommError
/// naming the missing ranks (default 300; fractions allowed, e.g. 0.5).
inline constexpr const char* kCommTimeout = "LOOM_COMM_TIMEOUT";
/// This process's rank and the number of processes, for launchers that set no MPI, Slurm or
/// torchrun variables (read first; see comm/include/loom/comm/launch.h).
inline constexpr const char* kRank = "LOOM_RANK";
inline constexpr const char* kWorldSize = "LOOM_WORLD_SIZE";

/// The variable's value, or fallback when unset or empty.
std::string GetString(const char* name, const std::string& fallback);
/// The variable parsed as an integer, or fallback when unset; throws loom::Error naming the
/// variable when it is set but not an integer.
long GetInt(const char* name, long fallback);

}  // namespace loom::env
