// The GPU side of kvstore sums over devices: out = srcs[0] + ... + srcs[n-1], on a stream.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "gpu_sum.h"
#include "loom/scheduler/error.h"

namespace loom::comm::detail {
namespace {

// Sources per kernel launch; more are summed in several passes into out.
constexpr int kMaxSources = 8;

struct Sources {
  const void* p[kMaxSources];
};

template <typename T>
__global__ void SumKernel(Sources srcs, int n, bool accumulate, T* out, size_t count) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    T sum = accumulate ? out[i] : static_cast<const T*>(srcs.p[0])[i];
    for (int k = accumulate ? 0 : 1; k < n; ++k) sum += static_cast<const T*>(srcs.p[k])[i];
    out[i] = sum;
  }
}

template <typename T>
void Launch(const void* const* srcs, int n, void* out, size_t count, cudaStream_t stream) {
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<size_t>((count + threads - 1) / threads, 4096));
  for (int first = 0; first < n; first += kMaxSources) {
    Sources s{};
    const int m = std::min(kMaxSources, n - first);
    for (int k = 0; k < m; ++k) s.p[k] = srcs[first + k];
    SumKernel<T>
        <<<std::max(blocks, 1), threads, 0, stream>>>(s, m, first > 0, static_cast<T*>(out), count);
  }
  const cudaError_t error = cudaGetLastError();
  LOOM_CHECK(error == cudaSuccess, "kvstore GPU sum failed: ", cudaGetErrorString(error));
}

}  // namespace

void GpuSum(DType dtype, const void* const* srcs, int n, void* out, size_t count, void* stream) {
  if (count == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == DType::kFloat64) {
    Launch<double>(srcs, n, out, count, s);
  } else {
    Launch<float>(srcs, n, out, count, s);
  }
}

}  // namespace loom::comm::detail
