// GPU kernels of RNN and _backward_RNN on cuDNN's RNN v8 API (cudnnRNNForward,
// cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8): rnn_relu, rnn_tanh, lstm and gru, several
// layers, bidirectional, state outputs; float16 (float math), float32 (FMA math, no TF32) and
// float64.
//
// Loom's flat parameter vector (see operators/cpu/rnn.h: every weight, layer by layer and
// direction by direction, i2h (G*H, in) then h2h (G*H, H); then every bias the same way) is
// copied, one gate matrix or bias at a time, to where cudnnGetRNNWeightParams places it in
// cuDNN's weight space; the gates are in the same order (LSTM i, f, g, o; GRU r, z, n, with
// GRU's candidate n = tanh(W x + b + r (R h + b_R)) in both). Weight gradients come back the
// same way. As on the CPU, the backward recomputes the training forward (cuDNN's reserve space)
// before it runs. Dropout between layers while training (p > 0, num_layers > 1) is not
// supported here: its masks could not be recomputed to match the forward pass.
#include <cstring>
#include <vector>

#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cpu/rnn.h"
#include "operators/cuda/gpu_util.h"
#include "operators/cuda/nn_kernels.h"
#include "operators/src/rnn_param.h"

namespace loom::gpu {
namespace {

using ops::RNNParam;

constexpr const char* kOp = "RNN";

int Dim(int64_t v) { return Int32(v, kOp, "cuDNN"); }

const RNNParam& SupportedParams(const NodeAttrs& attrs, bool training) {
  const auto& p = attrs.param<RNNParam>();
  LOOM_CHECK_TYPED(NotSupportedError, !p.projection_size, kOp,
                   ": the GPU kernel does not support projection_size (LSTMP)");
  LOOM_CHECK_TYPED(NotSupportedError, !p.use_sequence_length, kOp,
                   ": the GPU kernel does not support use_sequence_length=True");
  LOOM_CHECK_TYPED(NotSupportedError, !p.lstm_state_clip_min && !p.lstm_state_clip_max, kOp,
                   ": the GPU kernel does not support LSTM state clipping");
  LOOM_CHECK_TYPED(NotSupportedError, !(training && p.p > 0 && p.num_layers > 1), kOp,
                   ": the GPU kernel does not support dropout between layers while training "
                   "(p > 0 with num_layers > 1)");
  return p;
}

// Sizes of one call: x (T, N, I), states (L*D, N, H), y (T, N, D*H); G gates; params laid out
// as the CPU kernel's.
struct RnnDims : cpu::RnnParamLayout {
  int64_t T = 0, N = 0;
  bool lstm = false;
  int64_t StateSize() const { return L * D * N * H; }
};

RnnDims CheckShapes(const RNNParam& p, const TensorView& x, const TensorView& params,
                    const TensorView& hx, const TensorView* cx) {
  LOOM_CHECK_TYPED(ShapeError, x.shape.ndim() == 3, kOp, ": expected data (T, N, I) but got ",
                   x.shape.ToString());
  RnnDims d;
  d.T = x.shape[0], d.N = x.shape[1], d.I = x.shape[2];
  d.H = p.state_size, d.L = p.num_layers, d.D = p.directions(), d.G = p.gates();
  d.lstm = p.mode == RNNParam::Mode::kLstm;
  cpu::CheckSize(params, d.ParamSize(), kOp, "parameters");
  const Shape state{d.L * d.D, d.N, d.H};
  LOOM_CHECK_TYPED(ShapeError, hx.shape == state, kOp, ": expected state ", state.ToString(),
                   " but got ", hx.shape.ToString());
  cpu::CheckSameDType(x, params, kOp, "data", "parameters");
  cpu::CheckSameDType(x, hx, kOp, "data", "state");
  if (d.lstm) {
    LOOM_CHECK_TYPED(ShapeError, cx != nullptr && cx->shape == state, kOp, ": expected state_cell ",
                     state.ToString());
    cpu::CheckSameDType(x, *cx, kOp, "data", "state_cell");
  }
  return d;
}

// Scratch regions carved from one gpu::Workspace allocation, 256-byte aligned.
class Carver {
 public:
  size_t Add(size_t bytes) {
    const size_t at = total_;
    total_ += (bytes + 255) / 256 * 256;
    return at;
  }
  void Allocate(const OpContext& ctx) { base_ = static_cast<char*>(Workspace(ctx, total_)); }
  void* At(size_t offset) const { return base_ + offset; }

 private:
  size_t total_ = 0;
  char* base_ = nullptr;
};

// The cuDNN descriptors of one call.
class RnnSetup {
 public:
  RnnSetup(const OpContext& ctx, const RNNParam& p, const RnnDims& d, DType t) : d_(d) {
    h_ = Cudnn(ctx);
    const cudnnDataType_t type = CudnnType(t, kOp);
    const cudnnDataType_t prec = t == DType::kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    const cudnnMathType_t math = t == DType::kFloat16   ? CUDNN_TENSOR_OP_MATH
                                 : t == DType::kFloat32 ? CUDNN_FMA_MATH
                                                        : CUDNN_DEFAULT_MATH;
    cudnnRNNMode_t mode = CUDNN_LSTM;
    switch (p.mode) {
      case RNNParam::Mode::kRnnRelu:
        mode = CUDNN_RNN_RELU;
        break;
      case RNNParam::Mode::kRnnTanh:
        mode = CUDNN_RNN_TANH;
        break;
      case RNNParam::Mode::kLstm:
        mode = CUDNN_LSTM;
        break;
      case RNNParam::Mode::kGru:
        mode = CUDNN_GRU;
        break;
    }
    LOOM_CUDNN_CHECK(cudnnCreateDropoutDescriptor(&dropout_));
    LOOM_CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout_, h_, 0.0f, nullptr, 0, 0));
    LOOM_CUDNN_CHECK(cudnnCreateRNNDescriptor(&rnn_));
    LOOM_CUDNN_CHECK(cudnnSetRNNDescriptor_v8(
        rnn_, CUDNN_RNN_ALGO_STANDARD, mode, CUDNN_RNN_DOUBLE_BIAS,
        d.D == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, type, prec, math,
        Dim(d.I), Dim(d.H), Dim(d.H), Dim(d.L), dropout_, CUDNN_RNN_PADDED_IO_DISABLED));
    const std::vector<int> lengths(static_cast<size_t>(d.N), Dim(d.T));
    LOOM_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&x_));
    LOOM_CUDNN_CHECK(cudnnSetRNNDataDescriptor(x_, type, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED,
                                               Dim(d.T), Dim(d.N), Dim(d.I), lengths.data(),
                                               nullptr));
    LOOM_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&y_));
    LOOM_CUDNN_CHECK(cudnnSetRNNDataDescriptor(y_, type, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED,
                                               Dim(d.T), Dim(d.N), Dim(d.D * d.H), lengths.data(),
                                               nullptr));
    const int dims[3] = {Dim(d.L * d.D), Dim(d.N), Dim(d.H)};
    const int strides[3] = {Dim(d.N * d.H), Dim(d.H), 1};
    LOOM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&state_));
    LOOM_CUDNN_CHECK(cudnnSetTensorNdDescriptor(state_, type, 3, dims, strides));
    LOOM_CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(h_, rnn_, &weight_bytes_));
    LOOM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&matrix_));
    LOOM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias_));
  }
  ~RnnSetup() {
    cudnnDestroyTensorDescriptor(bias_);
    cudnnDestroyTensorDescriptor(matrix_);
    cudnnDestroyTensorDescriptor(state_);
    cudnnDestroyRNNDataDescriptor(y_);
    cudnnDestroyRNNDataDescriptor(x_);
    cudnnDestroyRNNDescriptor(rnn_);
    cudnnDestroyDropoutDescriptor(dropout_);
  }
  RnnSetup(const RnnSetup&) = delete;
  RnnSetup& operator=(const RnnSetup&) = delete;

  void TempSizes(cudnnForwardMode_t mode, size_t* work, size_t* reserve) const {
    LOOM_CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(h_, rnn_, mode, x_, work, reserve));
  }

  // Calls f(loom_offset, cudnn_pointer, elements) for every gate matrix and bias: Loom's offset
  // in the flat parameters, the place cuDNN's weight space at `space` gives it.
  template <typename F>
  void ForEachBlock(void* space, F&& f) const {
    for (int64_t l = 0; l < d_.L; ++l) {
      for (int64_t dir = 0; dir < d_.D; ++dir) {
        const int pseudo = static_cast<int>(l * d_.D + dir);
        for (int64_t id = 0; id < 2 * d_.G; ++id) {
          void* m = nullptr;
          void* b = nullptr;
          LOOM_CUDNN_CHECK(cudnnGetRNNWeightParams(h_, rnn_, pseudo, weight_bytes_, space,
                                                   static_cast<int>(id), matrix_, &m, bias_, &b));
          const bool input = id < d_.G;
          const int64_t gate = input ? id : id - d_.G;
          const int64_t cols = input ? d_.In(l) : d_.H;
          const int64_t m_off = (input ? d_.Wi2h(l, dir) : d_.Wh2h(l, dir)) + gate * d_.H * cols;
          const int64_t b_off = (input ? d_.Bi2h(l, dir) : d_.Bh2h(l, dir)) + gate * d_.H;
          CheckElements(matrix_, d_.H * cols);
          CheckElements(bias_, d_.H);
          f(m_off, m, d_.H * cols);
          f(b_off, b, d_.H);
        }
      }
    }
  }

  cudnnHandle_t handle() const { return h_; }
  cudnnRNNDescriptor_t rnn() const { return rnn_; }
  cudnnRNNDataDescriptor_t x() const { return x_; }
  cudnnRNNDataDescriptor_t y() const { return y_; }
  cudnnTensorDescriptor_t state() const { return state_; }
  size_t weight_bytes() const { return weight_bytes_; }

 private:
  static void CheckElements(cudnnTensorDescriptor_t t, int64_t expected) {
    cudnnDataType_t type;
    int nd = 0, dims[8], strides[8];
    LOOM_CUDNN_CHECK(cudnnGetTensorNdDescriptor(t, 8, &type, &nd, dims, strides));
    int64_t n = 1;
    for (int i = 0; i < nd; ++i) n *= dims[i];
    LOOM_INTERNAL_ASSERT(n == expected, "RNN: cuDNN's weight block has ", n,
                         " elements but Loom's layout has ", expected);
  }

  RnnDims d_;
  cudnnHandle_t h_ = nullptr;
  cudnnDropoutDescriptor_t dropout_ = nullptr;
  cudnnRNNDescriptor_t rnn_ = nullptr;
  cudnnRNNDataDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnTensorDescriptor_t state_ = nullptr, matrix_ = nullptr, bias_ = nullptr;
  size_t weight_bytes_ = 0;
};

// Copies Loom's flat parameters into cuDNN's weight space.
void CopyParamsIn(const OpContext& ctx, const RnnSetup& s, const TensorView& params, void* space) {
  const size_t elem = DTypeSize(params.dtype);
  const char* src = static_cast<const char*>(params.ptr);
  s.ForEachBlock(space, [&](int64_t offset, void* dst, int64_t n) {
    LOOM_CUDA_CHECK(cudaMemcpyAsync(dst, src + offset * elem, static_cast<size_t>(n) * elem,
                                    cudaMemcpyDeviceToDevice, Stream(ctx)));
  });
}

// dparams (req) = the gradients in cuDNN's weight space, in Loom's layout.
void CopyGradientsOut(const OpContext& ctx, const RnnSetup& s, void* space,
                      const TensorView& dparams, OpReq req) {
  const size_t elem = DTypeSize(dparams.dtype);
  char* dst = static_cast<char*>(dparams.ptr);
  s.ForEachBlock(space, [&](int64_t offset, void* src, int64_t n) {
    if (req == OpReq::kAddTo) {
      MultiplyGpu(dparams.dtype, src, nullptr, dst + offset * elem, n, static_cast<int>(req),
                  ctx.run.stream);
    } else {
      LOOM_CUDA_CHECK(cudaMemcpyAsync(dst + offset * elem, src, static_cast<size_t>(n) * elem,
                                      cudaMemcpyDeviceToDevice, Stream(ctx)));
    }
  });
}

// out (req) = src (n elements); src may be null: zeros.
void StoreFrom(const OpContext& ctx, const TensorView& out, const void* src, OpReq req) {
  if (req == OpReq::kNull || out.size() == 0) return;
  if (src == nullptr) {
    if (req != OpReq::kAddTo)
      LOOM_CUDA_CHECK(cudaMemsetAsync(out.ptr, 0, out.bytes(), Stream(ctx)));
    return;
  }
  if (src == out.ptr) return;
  MultiplyGpu(out.dtype, src, nullptr, out.ptr, out.size(), static_cast<int>(req), ctx.run.stream);
}

bool Writes(OpReq req) { return req == OpReq::kWriteTo || req == OpReq::kWriteInplace; }

uint32_t NumVisible(const RNNParam& p) {
  if (!p.state_outputs) return 1;
  return p.mode == RNNParam::Mode::kLstm ? 3 : 2;
}

// Device copy of the sequence lengths (all T), which cuDNN's v8 calls read.
void* DeviceLengths(const OpContext& ctx, const RnnDims& d, void* at) {
  const std::vector<int32_t> lengths(static_cast<size_t>(d.N), static_cast<int32_t>(d.T));
  // From pageable memory: the call returns once the data is staged, so `lengths` may go.
  LOOM_CUDA_CHECK(cudaMemcpyAsync(at, lengths.data(), lengths.size() * sizeof(int32_t),
                                  cudaMemcpyHostToDevice, Stream(ctx)));
  return at;
}

// (data, parameters, state[, state_cell]) -> (output[, state_output[, statecell_output]])
void RNNGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const RNNParam& p = SupportedParams(attrs, ctx.is_train);
  const RnnDims d =
      CheckShapes(p, in[0], in[1], in[2], p.mode == RNNParam::Mode::kLstm ? &in[3] : nullptr);
  const uint32_t visible = NumVisible(p);
  bool states = false;
  for (uint32_t j = 1; j < visible; ++j) states = states || req[j] != OpReq::kNull;
  const TensorView* hy = p.state_outputs && states ? &out[1] : nullptr;
  const TensorView* cy = p.state_outputs && states && d.lstm ? &out[2] : nullptr;
  if (d.T == 0 || d.N == 0) {  // no steps: the final states are the initial ones
    if (hy) StoreFrom(ctx, *hy, in[2].ptr, OpReq::kWriteTo);
    if (cy) StoreFrom(ctx, *cy, in[3].ptr, OpReq::kWriteTo);
    return;
  }
  const RnnSetup s(ctx, p, d, in[0].dtype);
  const cudnnForwardMode_t mode = CUDNN_FWD_MODE_INFERENCE;
  size_t work_bytes = 0, reserve_bytes = 0;
  s.TempSizes(mode, &work_bytes, &reserve_bytes);
  const size_t y_bytes = out[0].bytes();
  Carver c;
  const size_t w_at = c.Add(s.weight_bytes()), work_at = c.Add(work_bytes),
               len_at = c.Add(static_cast<size_t>(d.N) * sizeof(int32_t));
  const size_t y_at = Writes(req[0]) ? 0 : c.Add(y_bytes);
  c.Allocate(ctx);
  void* weights = c.At(w_at);
  CopyParamsIn(ctx, s, in[1], weights);
  void* y = Writes(req[0]) ? out[0].ptr : c.At(y_at);
  const auto* lengths = static_cast<const int32_t*>(DeviceLengths(ctx, d, c.At(len_at)));
  LOOM_CUDNN_CHECK(cudnnRNNForward(
      s.handle(), s.rnn(), mode, lengths, s.x(), in[0].ptr, s.y(), y, s.state(), in[2].ptr,
      hy ? hy->ptr : nullptr, s.state(), d.lstm ? in[3].ptr : nullptr, cy ? cy->ptr : nullptr,
      s.weight_bytes(), weights, work_bytes, c.At(work_at), 0, nullptr));
  if (!Writes(req[0])) StoreFrom(ctx, out[0], y, req[0]);
}

// (data, parameters, state[, state_cell], out_grad[, state_output_grad[,
// statecell_output_grad]]) -> (data_grad, parameters_grad, state_grad[, state_cell_grad])
void RNNGradGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const RNNParam& p = SupportedParams(attrs, true);
  const bool lstm = p.mode == RNNParam::Mode::kLstm;
  const RnnDims d = CheckShapes(p, in[0], in[1], in[2], lstm ? &in[3] : nullptr);
  const size_t dy_at = lstm ? 4 : 3;
  const TensorView& dy = in[dy_at];
  const void* dhy = p.state_outputs ? in[dy_at + 1].ptr : nullptr;
  const void* dcy = p.state_outputs && lstm ? in[dy_at + 2].ptr : nullptr;
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(in[0], out[0], kOp, "data", "data_grad");
  if (req[1] != OpReq::kNull)
    cpu::CheckSameShape(in[1], out[1], kOp, "parameters", "parameters_grad");
  if (d.T == 0 || d.N == 0) {  // no steps: the state gradients pass through
    StoreFrom(ctx, out[0], nullptr, req[0]);
    StoreFrom(ctx, out[1], nullptr, req[1]);
    StoreFrom(ctx, out[2], dhy, req[2]);
    if (lstm) StoreFrom(ctx, out[3], dcy, req[3]);
    return;
  }
  const RnnSetup s(ctx, p, d, in[0].dtype);
  const cudnnForwardMode_t mode = CUDNN_FWD_MODE_TRAINING;
  size_t work_bytes = 0, reserve_bytes = 0;
  s.TempSizes(mode, &work_bytes, &reserve_bytes);
  const size_t elem = DTypeSize(in[0].dtype);
  const size_t state_bytes = static_cast<size_t>(d.StateSize()) * elem;
  Carver c;
  const size_t w_at = c.Add(s.weight_bytes()), dw_at = c.Add(s.weight_bytes()),
               work_at = c.Add(work_bytes), reserve_at = c.Add(reserve_bytes),
               len_at = c.Add(static_cast<size_t>(d.N) * sizeof(int32_t)), y_at = c.Add(dy.bytes());
  const size_t dx_at = Writes(req[0]) ? 0 : c.Add(in[0].bytes());
  const size_t dhx_at = Writes(req[2]) ? 0 : c.Add(state_bytes);
  const size_t dcx_at = !lstm || Writes(req[3]) ? 0 : c.Add(state_bytes);
  c.Allocate(ctx);
  void* weights = c.At(w_at);
  void* dweights = c.At(dw_at);
  void* work = c.At(work_at);
  void* reserve = c.At(reserve_at);
  void* y = c.At(y_at);
  CopyParamsIn(ctx, s, in[1], weights);
  const auto* lengths = static_cast<const int32_t*>(DeviceLengths(ctx, d, c.At(len_at)));
  const void* cx = lstm ? in[3].ptr : nullptr;
  // The training forward again: cuDNN's reserve space and the output y.
  LOOM_CUDNN_CHECK(cudnnRNNForward(
      s.handle(), s.rnn(), mode, lengths, s.x(), in[0].ptr, s.y(), y, s.state(), in[2].ptr, nullptr,
      s.state(), cx, nullptr, s.weight_bytes(), weights, work_bytes, work, reserve_bytes, reserve));
  void* dx = Writes(req[0]) ? out[0].ptr : c.At(dx_at);
  void* dhx = Writes(req[2]) ? out[2].ptr : c.At(dhx_at);
  void* dcx = lstm ? (Writes(req[3]) ? out[3].ptr : c.At(dcx_at)) : nullptr;
  LOOM_CUDNN_CHECK(cudnnRNNBackwardData_v8(s.handle(), s.rnn(), lengths, s.y(), y, dy.ptr, s.x(),
                                           dx, s.state(), in[2].ptr, dhy, dhx, s.state(), cx, dcy,
                                           dcx, s.weight_bytes(), weights, work_bytes, work,
                                           reserve_bytes, reserve));
  if (req[1] != OpReq::kNull) {
    // cuDNN only accumulates weight gradients: start from zeros.
    LOOM_CUDA_CHECK(cudaMemsetAsync(dweights, 0, s.weight_bytes(), Stream(ctx)));
    LOOM_CUDNN_CHECK(cudnnRNNBackwardWeights_v8(
        s.handle(), s.rnn(), CUDNN_WGRAD_MODE_ADD, lengths, s.x(), in[0].ptr, s.state(), in[2].ptr,
        s.y(), y, s.weight_bytes(), dweights, work_bytes, work, reserve_bytes, reserve));
    CopyGradientsOut(ctx, s, dweights, out[1], req[1]);
  }
  if (!Writes(req[0])) StoreFrom(ctx, out[0], dx, req[0]);
  if (!Writes(req[2])) StoreFrom(ctx, out[2], dhx, req[2]);
  if (lstm && !Writes(req[3])) StoreFrom(ctx, out[3], dcx, req[3]);
}

}  // namespace

LOOM_REGISTER_KERNEL("RNN", kGPU, FCompute(RNNGpu));
LOOM_REGISTER_KERNEL("_backward_RNN", kGPU, FCompute(RNNGradGpu));

}  // namespace loom::gpu
