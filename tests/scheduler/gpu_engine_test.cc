// GPU paths of the engine: stream pools and cross-stream ordering through CUDA events. Skipped,
// with a message, when this build has no CUDA or the machine has no GPU.
#include <gtest/gtest.h>

#include <vector>

#include "loom/build_config.h"
#include "loom/scheduler/engine.h"
#include "loom/scheduler/error.h"

#if LOOM_USE_CUDA
#include <cuda_runtime.h>
constexpr bool kBuiltWithCuda = true;
#else
constexpr bool kBuiltWithCuda = false;
#endif

namespace loom {
namespace {

TEST(GpuEngine, ComputeThenCopyStreamOrderedByEvents) {
  auto engine = Engine::Create();
  if (engine->num_gpus() == 0) {
    GTEST_SKIP() << "no GPU: this test needs a CUDA device (build has CUDA: "
                 << (kBuiltWithCuda ? "yes" : "no") << ")";
  }
#if LOOM_USE_CUDA
  constexpr size_t kBytes = 64 << 20;
  void* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, kBytes), cudaSuccess);
  std::vector<unsigned char> host(kBytes, 0);
  VarHandle dev_var = engine->NewVariable(), host_var = engine->NewVariable();
  for (int round = 1; round <= 3; ++round) {
    // Compute stream writes the buffer; the copy stream reads it into host memory.
    engine->Push(
        [=](RunContext rctx) {
          cudaMemsetAsync(device, round, kBytes, static_cast<cudaStream_t>(rctx.stream));
        },
        Context::GPU(0), {}, {dev_var}, 0, "memset");
    engine->Push(
        [&, device](RunContext rctx) {
          cudaMemcpyAsync(host.data(), device, kBytes, cudaMemcpyDeviceToHost,
                          static_cast<cudaStream_t>(rctx.stream));
        },
        Context::GPU(0), {dev_var}, {host_var}, 0, "copy_to_host", FnProperty::kCopyFromGPU);
    engine->WaitForVar(host_var);
    EXPECT_EQ(host.front(), round);
    EXPECT_EQ(host.back(), round);
  }
  engine->WaitForAll();
  cudaFree(device);
#endif
}

}  // namespace
}  // namespace loom
