// RNN: fused multi-layer (bidirectional) vanilla RNN, LSTM or GRU over a time-major sequence. The
// kernels keep the activations in a reserve buffer: temp space (the backward pass runs the
// forward pass again to fill it), or, when dropout acts between layers, a hidden `reserve` output
// that the training forward pass fills and the gradient reads (its masks cannot be drawn again).
#include "operators/cpu/rnn.h"

#include "nn_util.h"
#include "operators/cpu/common.h"
#include "rnn_param.h"

namespace loom::ops {
namespace {

std::vector<std::string> RNNInputs(const NodeAttrs& attrs) {
  const auto& p = attrs.param<RNNParam>();
  std::vector<std::string> names{"data", "parameters", "state"};
  if (p.mode == RNNParam::Mode::kLstm) names.push_back("state_cell");
  if (p.use_sequence_length) names.push_back("sequence_length");
  return names;
}

cpu::RnnParams KernelParams(const RNNParam& p) {
  cpu::RnnParams k{.state_size = p.state_size,
                   .num_layers = p.num_layers,
                   .bidirectional = p.bidirectional,
                   .p = p.p};
  switch (p.mode) {
    case RNNParam::Mode::kRnnRelu:
      k.mode = cpu::RnnMode::kRnnRelu;
      break;
    case RNNParam::Mode::kRnnTanh:
      k.mode = cpu::RnnMode::kRnnTanh;
      break;
    case RNNParam::Mode::kGru:
      k.mode = cpu::RnnMode::kGru;
      break;
    default:
      k.mode = cpu::RnnMode::kLstm;
  }
  return k;
}

// Visible outputs: output, and with state_outputs state_output (and statecell_output for LSTM).
uint32_t NumVisible(const RNNParam& p) {
  if (!p.state_outputs) return 1;
  return p.mode == RNNParam::Mode::kLstm ? 3 : 2;
}

// Whether the reserve is a hidden output (dropout between layers: p > 0 and several layers).
// Otherwise the node has MXNet's outputs, and the reserve lives in temp space.
bool ReserveOutput(const RNNParam& p) { return p.p > 0 && p.num_layers > 1; }

// Bytes of the reserve for data (T, N, I) of dtype `type`.
size_t ReserveBytes(const RNNParam& p, const Shape& data, DType type) {
  if (data.ndim() != 3) return 0;
  return static_cast<size_t>(cpu::RnnReserveSize(KernelParams(p), data[0], data[1])) *
         DTypeSize(type);
}

// The reserve in temp space, typed like the data.
TensorView TempReserve(const RNNParam& p, const OpContext& ctx, const TensorView& data) {
  TensorView t;
  t.ptr = ctx.temp_space.data();
  t.shape = Shape{cpu::RnnReserveSize(KernelParams(p), data.shape[0], data.shape[1])};
  t.dtype = data.dtype;
  t.ctx = data.ctx;
  LOOM_INTERNAL_ASSERT(ctx.temp_space.size() >= t.bytes(), "RNN: temp space of ",
                       ctx.temp_space.size(), " bytes for a reserve of ", t.bytes());
  return t;
}

std::vector<ResourceKind> RNNResources(const NodeAttrs& attrs) {
  const auto& p = attrs.param<RNNParam>();
  std::vector<ResourceKind> r;
  if (!ReserveOutput(p)) r.push_back(ResourceKind::kTempSpace);
  if (p.p > 0) r.push_back(ResourceKind::kRandom);
  return r;
}

size_t RNNTempSpace(const NodeAttrs& attrs, std::span<const Shape> in_shapes,
                    std::span<const DType> in_types, std::span<const Shape>) {
  const auto& p = attrs.param<RNNParam>();
  return ReserveOutput(p) ? 0 : ReserveBytes(p, in_shapes[0], in_types[0]);
}

void RNNShape(ShapeContext& ctx) {
  const auto& p = ctx.param<RNNParam>();
  const bool lstm = p.mode == RNNParam::Mode::kLstm;
  const size_t state = 2, cell = 3, seq_len = lstm ? 4 : 3;
  const int64_t layers = p.num_layers * p.directions();
  Shape data = ctx.in(0);
  if (data.ndim() != 0 && data.ndim() != 3) {
    ctx.Fail(ctx.DescribeInput(0) + " has shape " + Str(data) +
             " but expected 3 dimensions (sequence length, batch size, input size)");
  }
  if (data.ndim() == 0) data = UnknownShape(3);
  // Gather what the other inputs and the outputs say about the sequence length and batch.
  auto take = [&](int axis, const Shape& s, int from) {
    if (data[axis] == 0 && s.ndim() > from) data[axis] = s[from];
  };
  take(1, ctx.in(state), 1);
  if (lstm) take(1, ctx.in(cell), 1);
  if (p.use_sequence_length) take(1, ctx.in(seq_len), 0);
  take(0, ctx.out(0), 0);
  take(1, ctx.out(0), 1);
  const Shape& params = ctx.in(1);
  if (data[2] == 0 && params.ndim() == 1 && params[0] != 0) {
    // ParamSize is linear in the input size: solve for it.
    const int64_t base = p.ParamSize(0), per_input = p.ParamSize(1) - base;
    if ((params[0] - base) % per_input != 0 || params[0] <= base) {
      ctx.Fail(ctx.DescribeInput(1) + " has shape " + Str(params) +
               " but no input size gives "
               "that many parameters for this RNN (" +
               std::to_string(base) + " + k*" + std::to_string(per_input) + ")");
    }
    data[2] = (params[0] - base) / per_input;
  }
  if (data[0] == 0 && data[1] == 0 && data[2] == 0 && ctx.in(0).ndim() == 0) return;
  ctx.SetIn(0, data, "the RNN's states and outputs");
  const int64_t batch = data[1], h = p.hidden_size();
  const std::string why = "data " + Str(data) + ", num_layers=" + std::to_string(p.num_layers) +
                          ", state_size=" + std::to_string(p.state_size);
  ctx.SetIn(state, Shape{layers, batch, h}, why);
  if (lstm) ctx.SetIn(cell, Shape{layers, batch, p.state_size}, why);
  if (p.use_sequence_length) ctx.SetIn(seq_len, Shape{batch}, why);
  if (data[2] != 0) ctx.SetIn(1, Shape{p.ParamSize(data[2])}, why);
  ctx.SetOut(0, Shape{data[0], batch, p.directions() * h}, why);
  if (p.state_outputs) {
    ctx.SetOut(1, Shape{layers, batch, h}, why);
    if (lstm) ctx.SetOut(2, Shape{layers, batch, p.state_size}, why);
  }
  if (ReserveOutput(p) && data[0] != 0 && batch != 0) {
    ctx.SetOut(NumVisible(p), Shape{cpu::RnnReserveSize(KernelParams(p), data[0], batch)}, why);
  }
}

// The CPU kernel's limits, checked before it runs.
const RNNParam& SupportedParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<RNNParam>();
  LOOM_CHECK_TYPED(NotSupportedError, !p.projection_size,
                   "RNN: the CPU kernel does not support "
                   "projection_size (LSTMP)");
  LOOM_CHECK_TYPED(NotSupportedError, !p.use_sequence_length,
                   "RNN: the CPU kernel does not "
                   "support use_sequence_length=True");
  LOOM_CHECK_TYPED(NotSupportedError, !p.lstm_state_clip_min && !p.lstm_state_clip_max,
                   "RNN: the CPU kernel does not support LSTM state clipping "
                   "(lstm_state_clip_min/max)");
  return p;
}

// (data, parameters, state[, state_cell]) -> (output[, state_output[, statecell_output]]
// [, reserve])
void RNNCompute(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const RNNParam& p = SupportedParams(attrs);
  const bool lstm = p.mode == RNNParam::Mode::kLstm;
  const uint32_t visible = NumVisible(p);
  OpReq state_req = OpReq::kNull;
  for (uint32_t j = 1; j < visible; ++j) {
    if (req[j] != OpReq::kNull) state_req = OpReq::kWriteTo;
  }
  cpu::RnnForward(KernelParams(p), ctx, in[0], in[1], in[2], lstm ? &in[3] : nullptr, out[0],
                  req[0], p.state_outputs ? &out[1] : nullptr,
                  p.state_outputs && lstm ? &out[2] : nullptr, state_req,
                  ReserveOutput(p) ? out[visible] : TempReserve(p, ctx, in[0]));
}

// (data, parameters, state[, state_cell], out_grad[, state grads][, reserve]) ->
// (data_grad, parameters_grad, state_grad[, state_cell_grad]). Without a reserve input the
// forward pass runs again into temp space (no dropout acts then, so it is the same pass).
void RNNBackwardCompute(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                        Views out) {
  const RNNParam& p = SupportedParams(attrs);
  const bool lstm = p.mode == RNNParam::Mode::kLstm;
  const size_t dy = lstm ? 4 : 3;
  const TensorView* dhy = p.state_outputs ? &in[dy + 1] : nullptr;
  const TensorView* dcy = p.state_outputs && lstm ? &in[dy + 2] : nullptr;
  const cpu::RnnParams k = KernelParams(p);
  const TensorView* cx = lstm ? &in[3] : nullptr;
  TensorView reserve;
  if (ReserveOutput(p)) {
    reserve = in[in.size() - 1];
  } else {
    reserve = TempReserve(p, ctx, in[0]);
    TensorView y = in[dy];  // the output's shape; not written (kNull)
    y.ptr = nullptr;
    OpContext train = ctx;
    train.is_train = true;
    cpu::RnnForward(k, train, in[0], in[1], in[2], cx, y, OpReq::kNull, nullptr, nullptr,
                    OpReq::kNull, reserve);
  }
  if (!lstm || req[2] == req[3]) {
    cpu::RnnBackward(k, in[0], in[1], in[2], cx, in[dy], dhy, dcy, reserve, out[0], req[0], out[1],
                     req[1], out[2], req[2], lstm ? &out[3] : nullptr);
    return;
  }
  // The kernel writes both state gradients with one request: compute them apart, then store each
  // as its own request says.
  cpu::DispatchFloat(in[2].dtype, "RNN", [&]<typename T>(cpu::Tag<T>) {
    std::vector<T> dhx(static_cast<size_t>(out[2].size())), dcx(static_cast<size_t>(out[3].size()));
    TensorView dhx_view = out[2], dcx_view = out[3];
    dhx_view.ptr = dhx.data();
    dcx_view.ptr = dcx.data();
    cpu::RnnBackward(k, in[0], in[1], in[2], cx, in[dy], dhy, dcy, reserve, out[0], req[0], out[1],
                     req[1], dhx_view, OpReq::kWriteTo, &dcx_view);
    cpu::StoreN(req[2], out[2].data<T>(), dhx.data(), out[2].size());
    cpu::StoreN(req[3], out[3].data<T>(), dcx.data(), out[3].size());
  });
}

// One dtype for everything but sequence_length, which may be an integer type (MXNet gives it
// the data's dtype only when it is unknown).
void RNNType(TypeContext& ctx) {
  const auto& p = ctx.param<RNNParam>();
  const size_t seq_len = p.use_sequence_length ? ctx.num_inputs() - 1 : ctx.num_inputs();
  DType t = DType::kUnknown;
  for (size_t i = 0; i < seq_len; ++i) {
    if (!MergeType(&t, ctx.in(i))) {
      ctx.Fail(ctx.DescribeInput(i) + " has dtype " + ToString(ctx.in(i)) +
               " but the other inputs have " + ToString(t));
    }
  }
  for (size_t i = 0; i < ctx.num_outputs(); ++i) MergeType(&t, ctx.out(i));
  if (t == DType::kUnknown) return;
  for (size_t i = 0; i < seq_len; ++i) ctx.SetIn(i, t);
  if (p.use_sequence_length && ctx.in(seq_len) == DType::kUnknown) ctx.SetIn(seq_len, t);
  for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.SetOut(i, t);
}

LOOM_REGISTER_OP(RNN)
    .Describe(R"(A fused stack of num_layers recurrent layers (bidirectional: D = 2 directions)
over time-major data (T, N, I): vanilla RNN (relu/tanh), LSTM or GRU. Inputs: parameters, a
flat vector of all weights and biases (its length follows from I, state_size, the mode's gate
count G (1, 4, 3), num_layers L and D: (I+H+2)*S + (L-1)*(H*D+H+2)*S with S = state_size*G*D
and H = state_size, or projection_size with the projection weights added), state (L*D, N, H),
state_cell (L*D, N, state_size) for LSTM, and sequence_length (N,) with use_sequence_length.
Outputs output (T, N, D*H), and with state_outputs state_output (L*D, N, H) and, for LSTM,
statecell_output (L*D, N, state_size).)")
    .Params<RNNParam>()
    .Inputs(RNNInputs)
    .Outputs([](const NodeAttrs& attrs) {
      const auto& p = attrs.param<RNNParam>();
      std::vector<std::string> names{"output"};
      if (p.state_outputs) {
        names.push_back("state_output");
        if (p.mode == RNNParam::Mode::kLstm) names.push_back("statecell_output");
      }
      if (ReserveOutput(p)) names.push_back("reserve");
      return names;
    })
    .NumVisibleOutputs([](const NodeAttrs& attrs) { return NumVisible(attrs.param<RNNParam>()); })
    .InferShape(RNNShape)
    .InferType(RNNType)
    .Resources(RNNResources)
    .TempSpace(RNNTempSpace)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      const auto& p = n->attrs.param<RNNParam>();
      const bool lstm = p.mode == RNNParam::Mode::kLstm;
      const uint32_t visible = NumVisible(p);
      std::vector<NodeEntry> in(n->inputs.begin(), n->inputs.begin() + (lstm ? 4 : 3));
      in.insert(in.end(), g.begin(), g.begin() + visible);
      if (ReserveOutput(p)) in.push_back(Out(n, visible));
      NodePtr bw = MakeBackwardNode("_backward_RNN", n, std::move(in));
      std::vector<NodeEntry> grads = BackwardOutputs(bw, lstm ? 4 : 3);
      if (p.use_sequence_length) grads.push_back(NodeEntry{});
      return grads;
    })
    .Kernel(DeviceType::kCPU, FCompute(RNNCompute));

LOOM_REGISTER_OP(_backward_RNN)
    .Describe(R"(Gradients of RNN with respect to data, parameters and the initial states, by
backpropagation through time from the forward pass's reserve (the hidden output when dropout
acts between layers, otherwise recomputed into temp space).)")
    .Inputs([](const NodeAttrs& attrs) {
      const auto& p = attrs.param<RNNParam>();
      const bool lstm = p.mode == RNNParam::Mode::kLstm;
      std::vector<std::string> names{"data", "parameters", "state"};
      if (lstm) names.push_back("state_cell");
      names.push_back("out_grad");
      if (p.state_outputs) {
        names.push_back("state_output_grad");
        if (lstm) names.push_back("statecell_output_grad");
      }
      if (ReserveOutput(p)) names.push_back("reserve");
      return names;
    })
    .NumOutputs([](const NodeAttrs& attrs) -> uint32_t {
      return attrs.param<RNNParam>().mode == RNNParam::Mode::kLstm ? 4 : 3;
    })
    .Resources([](const NodeAttrs& attrs) {
      if (ReserveOutput(attrs.param<RNNParam>())) return std::vector<ResourceKind>{};
      return std::vector<ResourceKind>{ResourceKind::kTempSpace};
    })
    .TempSpace(RNNTempSpace)
    .Kernel(DeviceType::kCPU, FCompute(RNNBackwardCompute));

}  // namespace
}  // namespace loom::ops
