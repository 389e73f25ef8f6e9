// Fused RNN CPU kernels (MXNet's RNN operator): LSTM, GRU, vanilla tanh/relu; several layers;
// bidirectional; dropout between layers; training forward (saving what backward needs in a
// reserve buffer), inference forward, and backward wrt data, parameters and initial states.
//
//   RnnParams p{.mode = RnnMode::kLstm, .state_size = 100, .num_layers = 2};
//   std::vector<float> reserve(RnnReserveSize(p, T, N, I));
//   RnnForward(p, ctx, x, params, hx, &cx, y, OpReq::kWriteTo, &hy, &cy, OpReq::kWriteTo,
//              View(reserve));
//   RnnBackward(p, x, params, hx, &cx, dy, &dhy, &dcy, View(reserve), dx, OpReq::kWriteTo,
//               dparams, OpReq::kWriteTo, dhx, OpReq::kWriteTo, &dcx);
//
// Shapes (time major): x (T, N, I); hx, hy (L*D, N, H); cx, cy (L*D, N, H) for LSTM; y (T, N, D*H).
// params is MXNet's flat layout: every weight first, layer by layer and direction by direction,
// i2h (G*H, in) then h2h (G*H, H), in = I for layer 0 and D*H above; then every bias the same
// way, i2h (G*H) then h2h (G*H). Gates: LSTM i, f, g, o; GRU r, z, n with
// n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) and h' = (1 - z) n + z h. The reverse direction
// reads time backwards. float32 and float64. Thread-safe (reserve belongs to the caller).
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"

namespace loom::cpu {

enum class RnnMode : uint8_t { kRnnRelu, kRnnTanh, kLstm, kGru };

struct RnnParams {
  RnnMode mode = RnnMode::kLstm;
  int64_t state_size = 0;  ///< H
  int64_t num_layers = 1;  ///< L
  bool bidirectional = false;
  double p = 0;  ///< dropout on the outputs of every layer but the last, while training
};

/// Gates per cell: 1 (vanilla), 4 (LSTM), 3 (GRU).
int64_t RnnGates(RnnMode mode);

/// Offsets (in elements) into the flat `params` layout described above, for I inputs, H units,
/// L layers, D directions and G gates. Shared with the GPU kernels (operators/cuda/rnn_gpu.cc).
struct RnnParamLayout {
  int64_t I = 0, H = 0, L = 0, D = 1, G = 1;
  int64_t GH() const { return G * H; }
  /// Inputs of layer l.
  int64_t In(int64_t l) const { return l == 0 ? I : D * H; }
  int64_t WeightsSize() const {
    int64_t n = 0;
    for (int64_t l = 0; l < L; ++l) n += D * GH() * (In(l) + H);
    return n;
  }
  int64_t ParamSize() const { return WeightsSize() + L * D * 2 * GH(); }
  /// Where layer l direction d's i2h weight, h2h weight, i2h bias and h2h bias start.
  int64_t Wi2h(int64_t l, int64_t d) const {
    int64_t off = 0;
    for (int64_t k = 0; k < l; ++k) off += D * GH() * (In(k) + H);
    return off + d * GH() * (In(l) + H);
  }
  int64_t Wh2h(int64_t l, int64_t d) const { return Wi2h(l, d) + GH() * In(l); }
  int64_t Bi2h(int64_t l, int64_t d) const { return WeightsSize() + (l * D + d) * 2 * GH(); }
  int64_t Bh2h(int64_t l, int64_t d) const { return Bi2h(l, d) + GH(); }
};
/// Number of elements of `params` for input size I.
int64_t RnnParamSize(const RnnParams& p, int64_t input_size);
/// Elements of the reserve buffer RnnForward fills and RnnBackward reads.
int64_t RnnReserveSize(const RnnParams& p, int64_t seq_len, int64_t batch);

/// Forward. hy/cy may be null (no state outputs); cx must be given for LSTM. reserve (x's
/// dtype, RnnReserveSize elements) receives the activations; with ctx.is_train and p.p > 0 the
/// dropout masks are drawn from ctx.rng.
void RnnForward(const RnnParams& p, const OpContext& ctx, const TensorView& x,
                const TensorView& params, const TensorView& hx, const TensorView* cx,
                const TensorView& y, OpReq y_req, const TensorView* hy, const TensorView* cy,
                OpReq state_req, const TensorView& reserve);

/// Backward from a training forward's reserve. dhy/dcy may be null (zero gradients); dcx is
/// written for LSTM when not null.
void RnnBackward(const RnnParams& p, const TensorView& x, const TensorView& params,
                 const TensorView& hx, const TensorView* cx, const TensorView& dy,
                 const TensorView* dhy, const TensorView* dcy, const TensorView& reserve,
                 const TensorView& dx, OpReq dx_req, const TensorView& dparams, OpReq dparams_req,
                 const TensorView& dhx, OpReq dhx_req, const TensorView* dcx);

}  // namespace loom::cpu
