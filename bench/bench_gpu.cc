// GPU benchmarks (issue 8), each against a reference measured in the same run on the same GPU:
//   fc_vs_cublas      Loom's FullyConnected forward (executor on gpu(0)) over one cublasSgemm of
//                     the same shapes (batch 128, 4096 -> 4096, no bias); >= 0.95 is the target
//   conv_vs_cudnn     Loom's Convolution forward over cudnnConvolutionForward with the fastest
//                     algorithm cudnnFind picks (batch 128, 64 -> 64 channels, 56x56, 3x3, pad 1),
//                     both in full float32 (CUDNN_FMA_MATH: no TF32)
//   lenet_samples_per_s, resnet50_samples_per_s
//                     training steps (forward, backward, SGD with momentum) at batch 128 on data
//                     resident on the GPU, and the same networks in PyTorch on this machine
//                     (bench/gpu_peers.py); the *_vs_torch ratios are Loom over PyTorch
//   engine_overhead_us_per_op
//                     a chain of empty operations pushed on gpu(0) through the engine, per
//                     operation (dependency tracking, stream dispatch, event recording)
// Usage: bench_gpu [--repeats R] [--torch-python PYTHON|none]. Every figure is the median of R
// runs (default 3). Without a GPU it says so and prints {"skipped": "..."}. Last line: one JSON
// object.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/models.h"
#include "loom/core/executor.h"
#include "loom/core/storage.h"
#include "loom/scheduler/engine.h"
#include "loom/train/optimizer.h"

namespace {

using Clock = std::chrono::steady_clock;
using loom::Context;
using loom::Executor;
using loom::NDArray;
using loom::Shape;

constexpr int64_t kBatch = 128;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bench_gpu: %s failed\n", what);
    std::exit(1);
  }
}
#define CUDA_OK(call) Check((call) == cudaSuccess, #call)
#define CUBLAS_OK(call) Check((call) == CUBLAS_STATUS_SUCCESS, #call)
#define CUDNN_OK(call) Check((call) == CUDNN_STATUS_SUCCESS, #call)

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds per call of fn, timed over `iters` calls after `warmup` (fn must leave its work done:
// it synchronises itself).
double SecondsPerCall(int warmup, int iters, const std::function<void(int)>& fn) {
  fn(warmup);
  const auto start = Clock::now();
  fn(iters);
  return std::chrono::duration<double>(Clock::now() - start).count() / iters;
}

NDArray RandomOnGpu(const Shape& shape, std::mt19937_64& rng, float scale = 0.05f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(static_cast<size_t>(shape.Size()));
  for (float& x : v) x = u(rng);
  return NDArray::FromHost<float>(v, shape).CopyTo(Context::GPU(0));
}

// Loom's forward pass of a one-operator symbol, `n` times, then waits for the output.
double LoomForwardSeconds(const loom::Symbol& net, const loom::ShapeDict& shapes) {
  Executor exe = Executor::SimpleBind(net, Context::GPU(0), shapes, {}, "null");
  std::mt19937_64 rng(1);
  for (const auto& [name, a] : exe.arg_dict()) NDArray(a).CopyFrom(RandomOnGpu(a.shape(), rng));
  return SecondsPerCall(5, 50, [&](int n) {
    for (int i = 0; i < n; ++i) exe.Forward(false);
    exe.outputs()[0].WaitToRead();
  });
}

double CublasSeconds(int64_t batch, int64_t in, int64_t out) {
  cublasHandle_t h;
  CUBLAS_OK(cublasCreate(&h));
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  CUBLAS_OK(cublasSetStream(h, s));
  float *x, *w, *y;
  CUDA_OK(cudaMalloc(&x, batch * in * sizeof(float)));
  CUDA_OK(cudaMalloc(&w, out * in * sizeof(float)));
  CUDA_OK(cudaMalloc(&y, batch * out * sizeof(float)));
  CUDA_OK(cudaMemset(x, 0, batch * in * sizeof(float)));
  CUDA_OK(cudaMemset(w, 0, out * in * sizeof(float)));
  const float one = 1, zero = 0;
  // Row-major y(batch, out) = x(batch, in) * w(out, in)^T, as column-major y^T = w * x^T.
  const double t = SecondsPerCall(5, 50, [&](int n) {
    for (int i = 0; i < n; ++i) {
      CUBLAS_OK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out),
                            static_cast<int>(batch), static_cast<int>(in), &one, w,
                            static_cast<int>(in), x, static_cast<int>(in), &zero, y,
                            static_cast<int>(out)));
    }
    CUDA_OK(cudaStreamSynchronize(s));
  });
  cudaFree(x), cudaFree(w), cudaFree(y);
  cudaStreamDestroy(s);
  cublasDestroy(h);
  return t;
}

double CudnnConvSeconds(int n, int c, int hw, int k) {
  cudnnHandle_t h;
  CUDNN_OK(cudnnCreate(&h));
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  CUDNN_OK(cudnnSetStream(h, s));
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  CUDNN_OK(cudnnCreateTensorDescriptor(&xd));
  CUDNN_OK(cudnnCreateTensorDescriptor(&yd));
  CUDNN_OK(cudnnCreateFilterDescriptor(&wd));
  CUDNN_OK(cudnnCreateConvolutionDescriptor(&cd));
  CUDNN_OK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, hw, hw));
  CUDNN_OK(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c, 3, 3));
  CUDNN_OK(cudnnSetConvolution2dDescriptor(cd, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                           CUDNN_DATA_FLOAT));
  // Full float32 arithmetic (no TF32), as Loom runs float32 convolutions.
  CUDNN_OK(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));
  CUDNN_OK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, k, hw, hw));
  float *x, *w, *y;
  CUDA_OK(cudaMalloc(&x, sizeof(float) * n * c * hw * hw));
  CUDA_OK(cudaMalloc(&w, sizeof(float) * k * c * 9));
  CUDA_OK(cudaMalloc(&y, sizeof(float) * n * k * hw * hw));
  CUDA_OK(cudaMemset(x, 0, sizeof(float) * n * c * hw * hw));
  CUDA_OK(cudaMemset(w, 0, sizeof(float) * k * c * 9));
  cudnnConvolutionFwdAlgoPerf_t perf[8];
  int found = 0;
  CUDNN_OK(cudnnFindConvolutionForwardAlgorithm(h, xd, wd, cd, yd, 8, &found, perf));
  int best = 0;
  while (best < found && perf[best].status != CUDNN_STATUS_SUCCESS) ++best;
  Check(best < found, "cudnnFindConvolutionForwardAlgorithm (no working algorithm)");
  void* workspace = nullptr;
  if (perf[best].memory > 0) CUDA_OK(cudaMalloc(&workspace, perf[best].memory));
  const float one = 1, zero = 0;
  const double t = SecondsPerCall(5, 50, [&](int iters) {
    for (int i = 0; i < iters; ++i) {
      CUDNN_OK(cudnnConvolutionForward(h, &one, xd, x, wd, w, cd, perf[best].algo, workspace,
                                       perf[best].memory, &zero, yd, y));
    }
    CUDA_OK(cudaStreamSynchronize(s));
  });
  cudaFree(workspace), cudaFree(x), cudaFree(w), cudaFree(y);
  cudnnDestroyTensorDescriptor(xd), cudnnDestroyTensorDescriptor(yd);
  cudnnDestroyFilterDescriptor(wd), cudnnDestroyConvolutionDescriptor(cd);
  cudaStreamDestroy(s);
  cudnnDestroy(h);
  return t;
}

// Training samples per second: forward, backward and one SGD (momentum 0.9) update per
// parameter, on a batch resident on gpu(0).
double LoomTrainSamplesPerSecond(const loom::Symbol& net, const Shape& data_shape, int steps) {
  std::map<std::string, std::string, std::less<>> req;
  for (const std::string& a : net.ListArguments()) {
    req[a] = a == "data" || a == "softmax_label" ? "null" : "write";
  }
  Executor exe = Executor::SimpleBind(net, Context::GPU(0), {{"data", data_shape}}, {}, req);
  std::mt19937_64 rng(2);
  std::vector<std::string> params;
  for (const auto& [name, a] : exe.arg_dict()) {
    if (name == "softmax_label") {
      std::vector<float> labels(static_cast<size_t>(a.size()));
      for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 10);
      NDArray(a).CopyFrom(NDArray::FromHost<float>(labels, a.shape()));
    } else {
      NDArray(a).CopyFrom(RandomOnGpu(a.shape(), rng, name == "data" ? 1.0f : 0.05f));
    }
    if (req[name] == "write") params.push_back(name);
  }
  loom::proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_lr(0.01f);
  cfg.set_momentum(0.9f);
  auto opt = loom::train::Optimizer::Create(cfg, 1.0f / static_cast<float>(data_shape[0]));
  const double seconds = SecondsPerCall(3, steps, [&](int n) {
    for (int i = 0; i < n; ++i) {
      exe.Forward(true);
      exe.Backward();
      opt->BeginStep();
      for (size_t p = 0; p < params.size(); ++p) {
        opt->Update(static_cast<int>(p), exe.arg_dict().at(params[p]),
                    exe.grad_dict().at(params[p]));
      }
    }
    for (const std::string& p : params) exe.arg_dict().at(p).WaitToRead();
  });
  return static_cast<double>(data_shape[0]) / seconds;
}

double EngineOverheadMicroseconds(int ops) {
  loom::Engine& engine = loom::Engine::Get();
  loom::VarHandle var = engine.NewVariable();
  const double seconds = SecondsPerCall(100, ops, [&](int n) {
    for (int i = 0; i < n; ++i) {
      engine.Push([](loom::RunContext) {}, Context::GPU(0), {}, {var}, 0, "empty");
    }
    engine.WaitForVar(var);
  });
  engine.DeleteVariable([](loom::RunContext) {}, Context::GPU(0), var);
  return seconds * 1e6;
}

// The PyTorch figures from bench/gpu_peers.py (its last line), or "" when it cannot run.
std::string TorchJson(const std::string& python, int repeats) {
  if (python == "none") return "";
  const std::string script = std::string(LOOM_SOURCE_DIR) + "/bench/gpu_peers.py";
  const std::string cmd = python + " " + script + " --repeats " + std::to_string(repeats);
  std::printf("running %s\n", cmd.c_str());
  std::fflush(stdout);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string last, line;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) {
    line = buf;
    std::fputs(("  torch: " + line).c_str(), stdout);
    if (!line.empty() && line[0] == '{') last = line;
  }
  const int status = pclose(pipe);
  if (status != 0) return "";
  while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
  return last;
}

// A number from a flat JSON object ({"key": 12.5, ...}); negative when absent.
double JsonNumber(const std::string& json, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  size_t at = json.find(quoted);
  if (at == std::string::npos) return -1;
  at += quoted.size();
  while (at < json.size() && json[at] == ' ') ++at;
  return std::strtod(json.c_str() + at, nullptr);
}

std::string Arg(int argc, char** argv, const char* flag, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], flag) == 0) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = std::stoi(Arg(argc, argv, "--repeats", "3"));
  const std::string torch_python = Arg(argc, argv, "--torch-python", "python3");
  if (loom::NumGpus() == 0) {
    std::printf("bench_gpu: no GPU on this machine; nothing measured\n");
    std::printf("{\"skipped\": \"no GPU\"}\n");
    return 0;
  }
  std::printf("gpu(0): %d GPU(s)\n", loom::NumGpus());
  const loom::Symbol fc =
      loom::bench::Layer("FullyConnected", loom::Symbol::Variable("data"),
                         {{"num_hidden", "4096"}, {"no_bias", "True"}}, "fc");
  const loom::Symbol conv = loom::bench::Layer(
      "Convolution", loom::Symbol::Variable("data"),
      {{"num_filter", "64"}, {"kernel", "(3,3)"}, {"pad", "(1,1)"}, {"no_bias", "True"}}, "conv");
  std::vector<double> fc_ratio, conv_ratio, lenet, resnet, overhead;
  for (int r = 0; r < repeats; ++r) {
    const double fc_loom = LoomForwardSeconds(fc, {{"data", Shape{kBatch, 4096}}});
    const double fc_ref = CublasSeconds(kBatch, 4096, 4096);
    const double conv_loom = LoomForwardSeconds(conv, {{"data", Shape{kBatch, 64, 56, 56}}});
    const double conv_ref = CudnnConvSeconds(kBatch, 64, 56, 64);
    fc_ratio.push_back(fc_ref / fc_loom);
    conv_ratio.push_back(conv_ref / conv_loom);
    lenet.push_back(LoomTrainSamplesPerSecond(loom::bench::LeNet(), Shape{kBatch, 1, 28, 28}, 50));
    resnet.push_back(
        LoomTrainSamplesPerSecond(loom::bench::ResNet50(), Shape{kBatch, 3, 224, 224}, 10));
    overhead.push_back(EngineOverheadMicroseconds(20000));
    std::printf("repeat %d: fc %.3f ms (cuBLAS %.3f), conv %.3f ms (cuDNN %.3f), lenet %.0f "
                "samples/s, resnet50 %.0f samples/s, engine %.2f us/op\n",
                r, fc_loom * 1e3, fc_ref * 1e3, conv_loom * 1e3, conv_ref * 1e3, lenet.back(),
                resnet.back(), overhead.back());
    std::fflush(stdout);
  }
  const std::string torch = TorchJson(torch_python, repeats);
  const double torch_lenet = JsonNumber(torch, "lenet_samples_per_s");
  const double torch_resnet = JsonNumber(torch, "resnet50_samples_per_s");
  const double lenet_m = Median(lenet), resnet_m = Median(resnet);
  auto ratio = [](double loom_value, double peer) {
    return peer > 0 ? std::to_string(loom_value / peer) : std::string("null");
  };
  auto value = [](double v) { return v > 0 ? std::to_string(v) : std::string("null"); };
  std::printf(
      "{\"fc_vs_cublas\": %.3f, \"conv_vs_cudnn\": %.3f, \"lenet_samples_per_s\": %.0f, "
      "\"resnet50_samples_per_s\": %.1f, \"torch_lenet_samples_per_s\": %s, "
      "\"torch_resnet50_samples_per_s\": %s, \"lenet_vs_torch\": %s, \"resnet50_vs_torch\": %s, "
      "\"engine_overhead_us_per_op\": %.2f, \"repeats\": %d}\n",
      Median(fc_ratio), Median(conv_ratio), lenet_m, resnet_m, value(torch_lenet).c_str(),
      value(torch_resnet).c_str(), ratio(lenet_m, torch_lenet).c_str(),
      ratio(resnet_m, torch_resnet).c_str(), Median(overhead), repeats);
  return 0;
}
