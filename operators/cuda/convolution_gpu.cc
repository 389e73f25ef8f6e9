// GPU kernels of Convolution and Deconvolution (and their gradients) on cuDNN: 1-D (as 2-D with
// a unit height), 2-D and 3-D, groups, dilation, channel-first and channel-last layouts, bias.
// Deconvolution is the transpose of a convolution whose input is the deconvolution's output:
// its forward is cuDNN's backward-data, its data gradient cuDNN's forward.
//
// Algorithms: cudnn_tune 'fastest' (the default) times the candidates once with
// cudnnFind*AlgorithmEx; 'limited_workspace' and 'off' take cudnnGet*Algorithm_v7's heuristic
// order. Either way the first algorithm whose workspace fits the `workspace` parameter (MB) is
// chosen and cached per (direction, shapes, parameters, dtype, device) for the process.
// float32 runs in FMA math (no TF32, so results match the CPU kernel's float32), float16 on
// tensor cores with float accumulation, float64 in double.
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cpu/convolution.h"
#include "operators/cuda/gpu_util.h"
#include "operators/src/convolution_param.h"
#include "operators/src/deconvolution_param.h"

namespace loom::gpu {
namespace {

using ops::CudnnTune;

enum class Direction { kForward, kBackwardData, kBackwardFilter };

// One convolution in cuDNN's terms: x (N, C, *in) convolved with w (K, C/groups, *kernel) gives
// y (N, K, *out), dims listed channel-first whatever the memory layout; 1-D padded to 2-D.
struct ConvGeometry {
  const char* op = "";
  DType dtype = DType::kFloat32;
  bool channel_last = false;
  std::vector<int> x, w, y;
  std::vector<int> pad, stride, dilate;
  int groups = 1;
  CudnnTune tune = CudnnTune::kFastest;
  size_t workspace_limit = 0;
  int device = 0;

  std::string Key(Direction d) const {
    std::string k = std::to_string(static_cast<int>(d)) + "|" + std::to_string(device) + "|" +
                    std::to_string(static_cast<int>(dtype)) + "|" + std::to_string(channel_last) +
                    "|" + std::to_string(groups) + "|" + std::to_string(static_cast<int>(tune)) +
                    "|" + std::to_string(workspace_limit);
    for (const auto* v : {&x, &w, &y, &pad, &stride, &dilate}) {
      k += "|";
      for (int e : *v) k += std::to_string(e) + ",";
    }
    return k;
  }
};

int Dim(int64_t v, const char* op) { return Int32(v, op, "cuDNN"); }

// Channel-first dims (N, C, *spatial) of a tensor stored in `layout`, 1-D padded to 2-D.
std::vector<int> CudnnDims(const Shape& s, bool channel_last, const char* op) {
  const int nsp = s.ndim() - 2;
  std::vector<int> d{Dim(s[0], op), Dim(s[channel_last ? s.ndim() - 1 : 1], op)};
  if (nsp == 1) d.push_back(1);
  for (int i = 0; i < nsp; ++i) d.push_back(Dim(s[channel_last ? 1 + i : 2 + i], op));
  return d;
}

// The cuDNN convolution for tensors x (input), w, y (output) as stored.
ConvGeometry MakeGeometry(const char* op, const cpu::ConvolutionParams& p, const OpContext& ctx,
                          const TensorView& x, const TensorView& w, const TensorView& y,
                          std::optional<CudnnTune> tune, int64_t workspace_mb) {
  const int nsp = static_cast<int>(p.kernel.size());
  for (const TensorView* t : {&x, &w, &y}) {
    LOOM_CHECK_TYPED(ShapeError, t->shape.ndim() == nsp + 2, op, ": expected ", nsp + 2,
                     "-D data, weight and output for a ", nsp, "-D kernel but got ",
                     t->shape.ToString());
  }
  cpu::CheckSameDType(x, w, op, "data", "weight");
  cpu::CheckSameDType(x, y, op, "data", "output");
  ConvGeometry g;
  g.op = op;
  g.dtype = x.dtype;
  g.channel_last = p.channel_last;
  g.x = CudnnDims(x.shape, p.channel_last, op);
  g.w = CudnnDims(w.shape, p.channel_last, op);
  g.y = CudnnDims(y.shape, p.channel_last, op);
  if (nsp == 1) {
    g.pad.push_back(0), g.stride.push_back(1), g.dilate.push_back(1);
  }
  for (int i = 0; i < nsp; ++i) {
    g.pad.push_back(Dim(p.pad.empty() ? 0 : p.pad[i], op));
    g.stride.push_back(Dim(p.stride.empty() ? 1 : p.stride[i], op));
    g.dilate.push_back(Dim(p.dilate.empty() ? 1 : p.dilate[i], op));
  }
  g.groups = Dim(p.num_group, op);
  g.tune = tune.value_or(CudnnTune::kFastest);
  g.workspace_limit = static_cast<size_t>(workspace_mb) << 20;
  g.device = ctx.run.ctx.id;
  // cuDNN's output size must be the tensor's: the shapes agree with the parameters.
  for (size_t i = 2; i < g.x.size(); ++i) {
    const size_t s = i - 2;
    const int64_t expected =
        cpu::ConvOutputSize(g.x[i], g.w[i], g.stride[s], g.dilate[s], g.pad[s]);
    LOOM_CHECK_TYPED(ShapeError, expected == g.y[i], op, ": the input ", x.shape.ToString(),
                     " gives an output of size ", expected, " along a spatial axis but the ",
                     "output is ", y.shape.ToString());
  }
  return g;
}

// cuDNN descriptors of one geometry, destroyed with it.
class Descriptors {
 public:
  explicit Descriptors(const ConvGeometry& g) {
    const cudnnDataType_t type = CudnnType(g.dtype, g.op);
    const cudnnTensorFormat_t format = g.channel_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    const int nd = static_cast<int>(g.x.size());
    LOOM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    LOOM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    LOOM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias));
    LOOM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    LOOM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    LOOM_CUDNN_CHECK(cudnnSetTensorNdDescriptorEx(x, format, type, nd, g.x.data()));
    LOOM_CUDNN_CHECK(cudnnSetTensorNdDescriptorEx(y, format, type, nd, g.y.data()));
    std::vector<int> b(static_cast<size_t>(nd), 1);
    b[1] = g.y[1];
    // The bias: per-channel values in the output's dtype (float for half outputs is not asked).
    LOOM_CUDNN_CHECK(cudnnSetTensorNdDescriptorEx(bias, format, type, nd, b.data()));
    LOOM_CUDNN_CHECK(cudnnSetFilterNdDescriptor(w, type, format, nd, g.w.data()));
    const cudnnDataType_t compute =
        g.dtype == DType::kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    LOOM_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(conv, nd - 2, g.pad.data(), g.stride.data(),
                                                     g.dilate.data(), CUDNN_CROSS_CORRELATION,
                                                     compute));
    LOOM_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, g.groups));
    LOOM_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, DefaultMath(g.dtype)));
  }
  ~Descriptors() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;

  static cudnnMathType_t DefaultMath(DType t) {
    if (t == DType::kFloat16) return CUDNN_TENSOR_OP_MATH;
    if (t == DType::kFloat32) return CUDNN_FMA_MATH;
    return CUDNN_DEFAULT_MATH;
  }

  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
};

struct AlgoChoice {
  int algo = 0;
  size_t workspace = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

// The process-wide cache of chosen algorithms.
class AlgoCache {
 public:
  static AlgoCache& Global() {
    static AlgoCache cache;
    return cache;
  }
  bool Get(const std::string& key, AlgoChoice* choice) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = choices_.find(key);
    if (it == choices_.end()) return false;
    *choice = it->second;
    return true;
  }
  void Put(const std::string& key, const AlgoChoice& choice) {
    std::lock_guard<std::mutex> lock(mutex_);
    choices_[key] = choice;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, AlgoChoice> choices_;
};

// The first result (in cuDNN's order: fastest first) that succeeded within the limit, keeping
// FMA math for float32 (no TF32).
template <typename Perf>
AlgoChoice FirstFitting(const ConvGeometry& g, const Perf* results, int count, const char* what) {
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > g.workspace_limit) continue;
    if (g.dtype == DType::kFloat32 && r.mathType != CUDNN_FMA_MATH &&
        r.mathType != CUDNN_DEFAULT_MATH) {
      continue;
    }
    // float32 keeps FMA math: CUDNN_DEFAULT_MATH would allow TF32 on Ampere and later.
    return {static_cast<int>(r.algo), r.memory,
            g.dtype == DType::kFloat32 ? CUDNN_FMA_MATH : r.mathType};
  }
  throw NotSupportedError(StrCat(g.op, " on GPU: cuDNN has no ", what, " algorithm for this ",
                                 "convolution within the workspace limit of ",
                                 g.workspace_limit >> 20, " MB (parameter 'workspace')"));
}

// The largest workspace any heuristic candidate within the limit needs: what Find is given.
template <typename Perf>
size_t CandidateWorkspace(const ConvGeometry& g, const Perf* results, int count) {
  size_t most = 0;
  for (int i = 0; i < count; ++i) {
    if (results[i].status == CUDNN_STATUS_SUCCESS && results[i].memory <= g.workspace_limit) {
      most = std::max(most, results[i].memory);
    }
  }
  return most;
}

constexpr int kMaxAlgos = 16;

// One direction's search: cuDNN's heuristic ranking from get(results, &count); with tune
// 'fastest', find(work, ws, out, results, &count) re-ranks the candidates by timing them on
// scratch memory (workspace ws, then a scratch output of out_bytes, never the caller's output,
// which kAddTo must keep). Then the first that fits.
template <typename Perf, typename Get, typename Find>
AlgoChoice Search(const OpContext& ctx, const ConvGeometry& g, size_t out_bytes, const char* what,
                  Get get, Find find) {
  Perf r[kMaxAlgos];
  int count = 0;
  get(r, &count);
  if (g.tune == CudnnTune::kFastest) {
    const size_t ws = CandidateWorkspace(g, r, count);
    const size_t offset = (ws + 255) / 256 * 256;  // the scratch output, aligned to 256 bytes
    char* base = static_cast<char*>(Workspace(ctx, offset + out_bytes));
    find(static_cast<void*>(base), ws, static_cast<void*>(base + offset), r, &count);
  }
  return FirstFitting(g, r, count, what);
}

// Chooses (once per geometry) the algorithm for direction d. Find waits for the kernels it
// times: the only synchronisation, on a geometry's first call with tune 'fastest'.
AlgoChoice Choose(const OpContext& ctx, const ConvGeometry& g, const Descriptors& desc, Direction d,
                  const void* a, const void* b, size_t out_bytes) {
  const std::string key = g.Key(d);
  AlgoChoice choice;
  if (AlgoCache::Global().Get(key, &choice)) return choice;
  cudnnHandle_t h = Cudnn(ctx);
  switch (d) {
    case Direction::kForward:
      choice = Search<cudnnConvolutionFwdAlgoPerf_t>(
          ctx, g, out_bytes, "forward",
          [&](auto* r, int* n) {
            LOOM_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, desc.x, desc.w, desc.conv,
                                                                    desc.y, kMaxAlgos, n, r));
          },
          [&](void* work, size_t ws, void* out, auto* r, int* n) {
            LOOM_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
                h, desc.x, a, desc.w, b, desc.conv, desc.y, out, kMaxAlgos, n, r, work, ws));
          });
      break;
    case Direction::kBackwardData:
      choice = Search<cudnnConvolutionBwdDataAlgoPerf_t>(
          ctx, g, out_bytes, "backward-data",
          [&](auto* r, int* n) {
            LOOM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                h, desc.w, desc.y, desc.conv, desc.x, kMaxAlgos, n, r));
          },
          [&](void* work, size_t ws, void* out, auto* r, int* n) {
            LOOM_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
                h, desc.w, a, desc.y, b, desc.conv, desc.x, out, kMaxAlgos, n, r, work, ws));
          });
      break;
    case Direction::kBackwardFilter:
      choice = Search<cudnnConvolutionBwdFilterAlgoPerf_t>(
          ctx, g, out_bytes, "backward-filter",
          [&](auto* r, int* n) {
            LOOM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                h, desc.x, desc.y, desc.conv, desc.w, kMaxAlgos, n, r));
          },
          [&](void* work, size_t ws, void* out, auto* r, int* n) {
            LOOM_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                h, desc.x, a, desc.y, b, desc.conv, desc.w, out, kMaxAlgos, n, r, work, ws));
          });
      break;
  }
  AlgoCache::Global().Put(key, choice);
  return choice;
}

size_t Bytes(const std::vector<int>& dims, DType t) {
  size_t n = DTypeSize(t);
  for (int d : dims) n *= static_cast<size_t>(d);
  return n;
}

bool Empty(const std::vector<int>& dims) {
  for (int d : dims) {
    if (d == 0) return true;
  }
  return false;
}

// Zeroes an output that a write request asks for when there is nothing to sum.
void ZeroIfWrite(const OpContext& ctx, OpReq req, void* ptr, size_t bytes) {
  if (req == OpReq::kWriteTo || req == OpReq::kWriteInplace) {
    LOOM_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, Stream(ctx)));
  }
}

// y (req) = conv(x, w)
void RunForward(const OpContext& ctx, const ConvGeometry& g, const void* x, const void* w, void* y,
                OpReq req) {
  if (req == OpReq::kNull || Empty(g.y)) return;
  if (Empty(g.x)) return ZeroIfWrite(ctx, req, y, Bytes(g.y, g.dtype));
  const Descriptors desc(g);
  const AlgoChoice c = Choose(ctx, g, desc, Direction::kForward, x, w, Bytes(g.y, g.dtype));
  LOOM_CUDNN_CHECK(cudnnSetConvolutionMathType(desc.conv, c.math));
  const CudnnScale s(g.dtype, req);
  LOOM_CUDNN_CHECK(cudnnConvolutionForward(Cudnn(ctx), s.alpha(), desc.x, x, desc.w, w, desc.conv,
                                           static_cast<cudnnConvolutionFwdAlgo_t>(c.algo),
                                           Workspace(ctx, c.workspace), c.workspace, s.beta(),
                                           desc.y, y));
}

// dx (req) = the gradient of conv(x, w) with respect to x, from dy
void RunBackwardData(const OpContext& ctx, const ConvGeometry& g, const void* w, const void* dy,
                     void* dx, OpReq req) {
  if (req == OpReq::kNull || Empty(g.x)) return;
  if (Empty(g.y)) return ZeroIfWrite(ctx, req, dx, Bytes(g.x, g.dtype));
  const Descriptors desc(g);
  const AlgoChoice c = Choose(ctx, g, desc, Direction::kBackwardData, w, dy, Bytes(g.x, g.dtype));
  LOOM_CUDNN_CHECK(cudnnSetConvolutionMathType(desc.conv, c.math));
  const CudnnScale s(g.dtype, req);
  LOOM_CUDNN_CHECK(
      cudnnConvolutionBackwardData(Cudnn(ctx), s.alpha(), desc.w, w, desc.y, dy, desc.conv,
                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo),
                                   Workspace(ctx, c.workspace), c.workspace, s.beta(), desc.x, dx));
}

// dw (req) = the gradient of conv(x, w) with respect to w, from x and dy
void RunBackwardFilter(const OpContext& ctx, const ConvGeometry& g, const void* x, const void* dy,
                       void* dw, OpReq req) {
  if (req == OpReq::kNull || Empty(g.w)) return;
  if (Empty(g.x) || Empty(g.y)) return ZeroIfWrite(ctx, req, dw, Bytes(g.w, g.dtype));
  const Descriptors desc(g);
  const AlgoChoice c = Choose(ctx, g, desc, Direction::kBackwardFilter, x, dy, Bytes(g.w, g.dtype));
  LOOM_CUDNN_CHECK(cudnnSetConvolutionMathType(desc.conv, c.math));
  const CudnnScale s(g.dtype, req);
  LOOM_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      Cudnn(ctx), s.alpha(), desc.x, x, desc.y, dy, desc.conv,
      static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), Workspace(ctx, c.workspace),
      c.workspace, s.beta(), desc.w, dw));
}

// out += bias per output channel (out is the convolution's y for Convolution, its x for
// Deconvolution: `dims` are its cuDNN dims).
void AddBias(const OpContext& ctx, const ConvGeometry& g, const std::vector<int>& dims,
             const TensorView& bias, void* out) {
  if (Empty(dims)) return;
  cpu::CheckSize(bias, dims[1], g.op, "bias");
  LOOM_CHECK_TYPED(DTypeError, bias.dtype == g.dtype, g.op, ": expected a bias of dtype ",
                   ToString(g.dtype), " but got ", ToString(bias.dtype));
  ConvGeometry bg = g;
  bg.y = dims;
  const Descriptors desc(bg);
  const CudnnScale s(g.dtype, OpReq::kAddTo);
  LOOM_CUDNN_CHECK(
      cudnnAddTensor(Cudnn(ctx), s.alpha(), desc.bias, bias.ptr, s.beta(), desc.y, out));
}

// bias_grad (req) = the sums of dy over all but the channel axis (`dims`: dy's cuDNN dims).
void BiasGradient(const OpContext& ctx, const ConvGeometry& g, const std::vector<int>& dims,
                  const void* dy, const TensorView& bias_grad, OpReq req) {
  if (req == OpReq::kNull) return;
  cpu::CheckSize(bias_grad, dims[1], g.op, "bias_grad");
  if (Empty(dims)) return ZeroIfWrite(ctx, req, bias_grad.ptr, bias_grad.bytes());
  ConvGeometry bg = g;
  bg.y = dims;
  const Descriptors desc(bg);
  const CudnnScale s(g.dtype, req);
  LOOM_CUDNN_CHECK(cudnnConvolutionBackwardBias(Cudnn(ctx), s.alpha(), desc.y, dy, s.beta(),
                                                desc.bias, bias_grad.ptr));
}

// ---- Convolution ------------------------------------------------------------------------------

// (data, weight[, bias]) -> out
void ConvolutionGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const auto& p = attrs.param<ops::ConvolutionParam>();
  const ConvGeometry g = MakeGeometry("Convolution", p.kernel_params(), ctx, in[0], in[1], out[0],
                                      p.cudnn_tune, p.workspace);
  RunForward(ctx, g, in[0].ptr, in[1].ptr, out[0].ptr, req[0]);
  if (!p.no_bias) AddBias(ctx, g, g.y, in[2], out[0].ptr);
}

// (out_grad, data, weight) -> (data_grad, weight_grad[, bias_grad])
void ConvolutionGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                        Views out) {
  const auto& p = attrs.param<ops::ConvolutionParam>();
  const ConvGeometry g = MakeGeometry("Convolution", p.kernel_params(), ctx, in[1], in[2], in[0],
                                      p.cudnn_tune, p.workspace);
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(in[1], out[0], g.op, "data", "data_grad");
  if (req[1] != OpReq::kNull) cpu::CheckSameShape(in[2], out[1], g.op, "weight", "weight_grad");
  RunBackwardData(ctx, g, in[2].ptr, in[0].ptr, out[0].ptr, req[0]);
  RunBackwardFilter(ctx, g, in[1].ptr, in[0].ptr, out[1].ptr, req[1]);
  if (!p.no_bias) BiasGradient(ctx, g, g.y, in[0].ptr, out[2], req[2]);
}

// ---- Deconvolution: the convolution from its output (cuDNN's x) to its data (cuDNN's y) ------

// (data, weight[, bias]) -> out
void DeconvolutionGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  const auto& p = attrs.param<ops::DeconvolutionParam>();
  const ConvGeometry g = MakeGeometry("Deconvolution", p.kernel_params(in[0].shape), ctx, out[0],
                                      in[1], in[0], p.cudnn_tune, p.workspace);
  RunBackwardData(ctx, g, in[1].ptr, in[0].ptr, out[0].ptr, req[0]);
  if (!p.no_bias) AddBias(ctx, g, g.x, in[2], out[0].ptr);
}

// (out_grad, data, weight) -> (data_grad, weight_grad[, bias_grad])
void DeconvolutionGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                          Views out) {
  const auto& p = attrs.param<ops::DeconvolutionParam>();
  const ConvGeometry g = MakeGeometry("Deconvolution", p.kernel_params(in[1].shape), ctx, in[0],
                                      in[2], in[1], p.cudnn_tune, p.workspace);
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(in[1], out[0], g.op, "data", "data_grad");
  if (req[1] != OpReq::kNull) cpu::CheckSameShape(in[2], out[1], g.op, "weight", "weight_grad");
  RunForward(ctx, g, in[0].ptr, in[2].ptr, out[0].ptr, req[0]);
  // The filter gradient of the convolution x = out_grad -> y = data is the weight's gradient.
  RunBackwardFilter(ctx, g, in[0].ptr, in[1].ptr, out[1].ptr, req[1]);
  if (!p.no_bias) BiasGradient(ctx, g, g.x, in[0].ptr, out[2], req[2]);
}

}  // namespace

LOOM_REGISTER_KERNEL("Convolution", kGPU, FCompute(ConvolutionGpu));
LOOM_REGISTER_KERNEL("_backward_Convolution", kGPU, FCompute(ConvolutionGradGpu));
LOOM_REGISTER_KERNEL("Deconvolution", kGPU, FCompute(DeconvolutionGpu));
LOOM_REGISTER_KERNEL("_backward_Deconvolution", kGPU, FCompute(DeconvolutionGradGpu));

}  // namespace loom::gpu
