// Error reporting and per-thread library handles for the GPU kernels.
#include "operators/cuda/gpu_util.h"

#include <map>
#include <memory>
#include <string>

namespace loom::gpu {

namespace {

std::string Where(const char* file, int line) {
  std::string f(file);
  const size_t slash = f.rfind("operators/");
  return (slash == std::string::npos ? f : f.substr(slash)) + ":" + std::to_string(line);
}

// One handle per (thread, GPU): the engine's GPU workers are threads with a stream each, and a
// handle must not be used by two threads at once.
template <typename Handle, typename Create, typename Destroy>
class HandleCache {
 public:
  HandleCache(Create create, Destroy destroy) : create_(create), destroy_(destroy) {}
  ~HandleCache() {
    for (auto& [device, h] : handles_) destroy_(h);
  }
  Handle Get(int device) {
    auto it = handles_.find(device);
    if (it != handles_.end()) return it->second;
    LOOM_CUDA_CHECK(cudaSetDevice(device));
    Handle h{};
    create_(&h);
    handles_.emplace(device, h);
    return h;
  }

 private:
  Create create_;
  Destroy destroy_;
  std::map<int, Handle> handles_;
};

}  // namespace

void ThrowCudaError(const char* call, cudaError_t status, const char* file, int line) {
  cudaGetLastError();  // clear a sticky launch error so that the next operation starts clean
  throw Error(StrCat(call, " failed: ", cudaGetErrorName(status), " (",
                     cudaGetErrorString(status), ") at ", Where(file, line)));
}

void ThrowCublasError(const char* call, cublasStatus_t status, const char* file, int line) {
  throw Error(StrCat(call, " failed: ", cublasGetStatusName(status), " (",
                     cublasGetStatusString(status), ") at ", Where(file, line)));
}

void ThrowCudnnError(const char* call, cudnnStatus_t status, const char* file, int line) {
  char detail[512] = "";
  cudnnGetLastErrorString(detail, sizeof detail);
  throw Error(StrCat(call, " failed: ", cudnnGetErrorString(status),
                     detail[0] ? std::string(" (") + detail + ")" : std::string(), " at ",
                     Where(file, line)));
}

cublasHandle_t Cublas(const OpContext& ctx) {
  thread_local HandleCache<cublasHandle_t, void (*)(cublasHandle_t*), void (*)(cublasHandle_t)>
      cache([](cublasHandle_t* h) { LOOM_CUBLAS_CHECK(cublasCreate(h)); },
            [](cublasHandle_t h) { cublasDestroy(h); });
  cublasHandle_t h = cache.Get(ctx.run.ctx.id);
  LOOM_CUBLAS_CHECK(cublasSetStream(h, Stream(ctx)));
  return h;
}

cudnnHandle_t Cudnn(const OpContext& ctx) {
  thread_local HandleCache<cudnnHandle_t, void (*)(cudnnHandle_t*), void (*)(cudnnHandle_t)>
      cache([](cudnnHandle_t* h) { LOOM_CUDNN_CHECK(cudnnCreate(h)); },
            [](cudnnHandle_t h) { cudnnDestroy(h); });
  cudnnHandle_t h = cache.Get(ctx.run.ctx.id);
  LOOM_CUDNN_CHECK(cudnnSetStream(h, Stream(ctx)));
  return h;
}

void* Workspace(const OpContext& ctx, size_t bytes) {
  struct Buffer {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  thread_local std::map<int, Buffer> buffers;
  if (bytes == 0) return nullptr;
  Buffer& b = buffers[ctx.run.ctx.id];
  if (b.bytes >= bytes) return b.ptr;
  if (b.ptr != nullptr) LOOM_CUDA_CHECK(cudaFreeAsync(b.ptr, Stream(ctx)));
  b = Buffer{};
  const size_t grown = bytes + bytes / 4;
  if (cudaMallocAsync(&b.ptr, grown, Stream(ctx)) != cudaSuccess) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    throw OutOfMemoryError(StrCat("out of memory on ", ctx.run.ctx.ToString(), ": a kernel ",
                                  "workspace of ", grown, " bytes was requested but ", free_bytes,
                                  " bytes are free"));
  }
  b.bytes = grown;
  return b.ptr;
}

cudnnDataType_t CudnnType(DType dtype, const char* op) {
  switch (dtype) {
    case DType::kFloat32: return CUDNN_DATA_FLOAT;
    case DType::kFloat64: return CUDNN_DATA_DOUBLE;
    case DType::kFloat16: return CUDNN_DATA_HALF;
    default:
      throw NotSupportedError(StrCat(op, " on GPU supports float32, float64 and float16 but got ",
                                     ToString(dtype)));
  }
}

cudaDataType_t CublasType(DType dtype, const char* op) {
  switch (dtype) {
    case DType::kFloat32: return CUDA_R_32F;
    case DType::kFloat64: return CUDA_R_64F;
    case DType::kFloat16: return CUDA_R_16F;
    default:
      throw NotSupportedError(StrCat(op, " on GPU supports float32, float64 and float16 but got ",
                                     ToString(dtype)));
  }
}

CudnnScale::CudnnScale(DType dtype, OpReq req) : is_double_(dtype == DType::kFloat64) {
  if (req == OpReq::kAddTo) beta_f_ = 1, beta_d_ = 1;
}

}  // namespace loom::gpu
