#include "operators/cpu/rnn.h"

#include <cmath>
#include <vector>

#include "operators/cpu/blas.h"
#include "operators/cpu/common.h"
#include "operators/cpu/math.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "RNN";

// Sizes and offsets: parameters (RnnParamLayout) and the reserve buffer.
struct RnnLayout : RnnParamLayout {
  RnnMode mode;
  int64_t T, N;
  bool dropout;  // masks between layers are kept in the reserve
  double p;      // dropout probability

  // Reserve, per layer: outputs (T, N, D*H), per direction gates (T, N, G*H) and, for LSTM the
  // cell states, for GRU W_hn h + b_hn (T, N, H); for layers below the top with dropout, the
  // mask (T, N, D*H).
  int64_t Extra() const { return mode == RnnMode::kLstm || mode == RnnMode::kGru ? T * N * H : 0; }
  int64_t LayerSize() const {
    return T * N * D * H + D * (T * N * GH() + Extra()) + (dropout ? T * N * D * H : 0);
  }
  int64_t ReserveSize() const { return L * LayerSize(); }
  int64_t Outputs(int64_t l) const { return l * LayerSize(); }
  int64_t Gates(int64_t l, int64_t d) const {
    return Outputs(l) + T * N * D * H + d * T * N * GH();
  }
  int64_t ExtraAt(int64_t l, int64_t d) const {
    return Outputs(l) + T * N * D * H + D * T * N * GH() + d * Extra();
  }
  int64_t Mask(int64_t l) const {
    return Outputs(l) + T * N * D * H + D * (T * N * GH() + Extra());
  }
};

RnnLayout MakeLayout(const RnnParams& p, int64_t seq_len, int64_t batch, int64_t input) {
  LOOM_CHECK(p.state_size >= 1 && p.num_layers >= 1, kOp,
             ": expected state_size >= 1 and num_layers >= 1 but got ", p.state_size, " and ",
             p.num_layers);
  LOOM_CHECK(p.p >= 0 && p.p < 1, kOp, ": expected dropout p in [0, 1) but got ", p.p);
  return RnnLayout{{.I = input,
                    .H = p.state_size,
                    .L = p.num_layers,
                    .D = p.bidirectional ? 2 : 1,
                    .G = RnnGates(p.mode)},
                   p.mode,
                   seq_len,
                   batch,
                   p.p > 0 && p.num_layers > 1,
                   p.p};
}

RnnLayout CheckShapes(const RnnParams& p, const TensorView& x, const TensorView& params,
                      const TensorView& hx, const TensorView* cx, const TensorView& reserve) {
  LOOM_CHECK_TYPED(ShapeError, x.shape.ndim() == 3, kOp, ": expected data (T, N, I) but got ",
                   x.shape.ToString());
  const RnnLayout g = MakeLayout(p, x.shape[0], x.shape[1], x.shape[2]);
  CheckSize(params, g.ParamSize(), kOp, "parameters");
  const Shape state{g.L * g.D, g.N, g.H};
  LOOM_CHECK_TYPED(ShapeError, hx.shape == state, kOp, ": expected state ", state.ToString(),
                   " but got ", hx.shape.ToString());
  if (p.mode == RnnMode::kLstm) {
    LOOM_CHECK(cx != nullptr, kOp, ": LSTM needs state_cell");
    LOOM_CHECK_TYPED(ShapeError, cx->shape == state, kOp, ": expected state_cell ",
                     state.ToString(), " but got ", cx->shape.ToString());
    CheckSameDType(x, *cx, kOp, "data", "state_cell");
  }
  CheckSize(reserve, g.ReserveSize(), kOp, "the reserve buffer");
  CheckSameDType(x, params, kOp, "data", "parameters");
  CheckSameDType(x, hx, kOp, "data", "state");
  CheckSameDType(x, reserve, kOp, "data", "the reserve buffer");
  return g;
}

// y (m x n, row stride ldy) (req) = x (m x n, row stride ldx).
template <typename T>
void CopyRows(const T* x, int64_t ldx, T* y, int64_t ldy, int64_t m, int64_t n, OpReq req) {
  for (int64_t r = 0; r < m; ++r) StoreN(req, y + r * ldy, x + r * ldx, n);
}

template <typename T>
void AddBias(T* rows, int64_t m, int64_t n, const T* b1, const T* b2) {
  for (int64_t r = 0; r < m; ++r) {
    T* row = rows + r * n;
    for (int64_t j = 0; j < n; ++j) row[j] += b1[j] + (b2 ? b2[j] : T(0));
  }
}

// One direction of one layer, forward. gates holds the i2h pre-activations on entry and the
// activated gates on exit; out is the layer output (row stride D*H) at this direction's columns.
template <typename T>
LOOM_SIMD_CLONES void ForwardDirection(const RnnLayout& g, int64_t d, const T* w_h2h,
                                       const T* b_h2h, const T* h0, const T* c0, T* gates, T* extra,
                                       T* out, T* h_last, T* c_last) {
  const int64_t H = g.H, GH = g.GH(), N = g.N, ld = g.D * H;
  std::vector<T> hh(g.mode == RnnMode::kGru ? N * GH : 0);
  const T* h_prev = h0;
  int64_t ld_prev = H;
  const T* c_prev = c0;
  for (int64_t s = 0; s < g.T; ++s) {
    const int64_t t = d == 0 ? s : g.T - 1 - s;
    T* gt = gates + t * N * GH;
    T* ht = out + t * N * ld;
    if (g.mode == RnnMode::kGru) {
      GemmSerial<T>(false, true, N, GH, H, T(1), h_prev, ld_prev, w_h2h, H, T(0), hh.data(), GH);
      for (int64_t n = 0; n < N; ++n) {
        T* gr = gt + n * GH;
        const T* hr = hh.data() + n * GH;
        const T* hp = h_prev + n * ld_prev;
        T* hn = extra + (t * N + n) * H;
        for (int64_t j = 0; j < H; ++j) {
          const T r = Sigmoid(gr[j] + hr[j] + b_h2h[j]);
          const T z = Sigmoid(gr[H + j] + hr[H + j] + b_h2h[H + j]);
          hn[j] = hr[2 * H + j] + b_h2h[2 * H + j];
          const T nv = Tanh(gr[2 * H + j] + r * hn[j]);
          gr[j] = r;
          gr[H + j] = z;
          gr[2 * H + j] = nv;
          ht[n * ld + j] = (T(1) - z) * nv + z * hp[j];
        }
      }
    } else {
      GemmSerial<T>(false, true, N, GH, H, T(1), h_prev, ld_prev, w_h2h, H, T(1), gt, GH);
      for (int64_t n = 0; n < N; ++n) {
        T* gr = gt + n * GH;
        T* hrow = ht + n * ld;
        if (g.mode == RnnMode::kLstm) {
          const T* cp = c_prev + n * H;
          T* ct = extra + (t * N + n) * H;
          for (int64_t j = 0; j < H; ++j) {
            const T i = Sigmoid(gr[j]), f = Sigmoid(gr[H + j]), gg = Tanh(gr[2 * H + j]),
                    o = Sigmoid(gr[3 * H + j]);
            gr[j] = i;
            gr[H + j] = f;
            gr[2 * H + j] = gg;
            gr[3 * H + j] = o;
            ct[j] = f * cp[j] + i * gg;
            hrow[j] = o * Tanh(ct[j]);
          }
        } else {
          for (int64_t j = 0; j < H; ++j) {
            const T v = g.mode == RnnMode::kRnnTanh ? Tanh(gr[j]) : (gr[j] > T(0) ? gr[j] : T(0));
            gr[j] = v;
            hrow[j] = v;
          }
        }
      }
      if (g.mode == RnnMode::kLstm) c_prev = extra + t * N * H;
    }
    h_prev = ht;
    ld_prev = ld;
  }
  if (h_last) CopyRows(h_prev, ld_prev, h_last, H, N, H, OpReq::kWriteTo);
  if (c_last && g.mode == RnnMode::kLstm) CopyRows(c_prev, H, c_last, H, N, H, OpReq::kWriteTo);
}

template <typename T>
void Forward(const RnnLayout& g, const OpContext& ctx, bool train, const T* x, const T* w,
             const T* hx, const T* cx, T* y, OpReq y_req, T* hy, T* cy, OpReq state_req,
             T* reserve) {
  const int64_t GH = g.GH(), TN = g.T * g.N, DH = g.D * g.H;
  const bool dropout = train && g.dropout;
  std::vector<T> dropped(dropout ? TN * DH : 0);
  std::vector<T> h_last(g.N * g.H), c_last(g.N * g.H);
  const T* input = x;
  for (int64_t l = 0; l < g.L; ++l) {
    T* out = reserve + g.Outputs(l);
    for (int64_t d = 0; d < g.D; ++d) {
      T* gates = reserve + g.Gates(l, d);
      // All time steps' input projections in one GEMM.
      Gemm<T>(false, true, TN, GH, g.In(l), T(1), input, g.In(l), w + g.Wi2h(l, d), g.In(l), T(0),
              gates, GH);
      AddBias(gates, TN, GH, w + g.Bi2h(l, d),
              g.mode == RnnMode::kGru ? nullptr : w + g.Bh2h(l, d));
      const int64_t s = (l * g.D + d) * g.N * g.H;
      ForwardDirection(g, d, w + g.Wh2h(l, d), w + g.Bh2h(l, d), hx + s, cx ? cx + s : nullptr,
                       gates, reserve + g.ExtraAt(l, d), out + d * g.H, h_last.data(),
                       c_last.data());
      if (hy) StoreN(state_req, hy + s, h_last.data(), g.N * g.H);
      if (cy && g.mode == RnnMode::kLstm) StoreN(state_req, cy + s, c_last.data(), g.N * g.H);
    }
    input = out;
    if (l + 1 < g.L && dropout) {
      // Inverted dropout between layers: keep with probability 1 - p, scaled by 1 / (1 - p).
      T* mask = reserve + g.Mask(l);
      const uint64_t threshold = static_cast<uint64_t>(g.p * 4294967296.0);
      const T keep = static_cast<T>(1.0 / (1.0 - g.p));
      for (int64_t i = 0; i < TN * DH; i += 2) {
        const uint64_t bits = (*ctx.rng)();
        mask[i] = (bits & 0xffffffffu) >= threshold ? keep : T(0);
        if (i + 1 < TN * DH) mask[i + 1] = (bits >> 32) >= threshold ? keep : T(0);
      }
      for (int64_t i = 0; i < TN * DH; ++i) dropped[i] = out[i] * mask[i];
      input = dropped.data();
    }
  }
  StoreN(y_req, y, input, TN * DH);
}

// Column sums of m (rows x n) added to out.
template <typename T>
void AddColumnSums(const T* m, int64_t rows, int64_t n, T* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = m + r * n;
    for (int64_t j = 0; j < n; ++j) out[j] += row[j];
  }
}

// One direction of one layer, backward through time. dH is the gradient of this layer's
// output (row stride D*H, this direction's columns). Fills dG (i2h pre-activation gradients)
// and dGh (h2h ones; the same buffer except for GRU), and leaves the initial states' gradients
// in dh / dc.
template <typename T>
LOOM_SIMD_CLONES void BackwardDirection(const RnnLayout& g, int64_t d, const T* w_h2h, const T* h0,
                                        const T* c0, const T* gates, const T* extra, const T* out,
                                        const T* dH, T* dG, T* dGh, T* dh, T* dc) {
  const int64_t H = g.H, GH = g.GH(), N = g.N, ld = g.D * H;
  for (int64_t s = g.T - 1; s >= 0; --s) {
    const int64_t t = d == 0 ? s : g.T - 1 - s;
    const int64_t tp = d == 0 ? t - 1 : t + 1;  // the step before, in this direction's order
    const bool first = s == 0;
    const T* gt = gates + t * N * GH;
    T* dgt = dG + t * N * GH;
    T* dght = dGh + t * N * GH;
    for (int64_t n = 0; n < N; ++n) {
      const T* gr = gt + n * GH;
      const T* dyr = dH + (t * N + n) * ld;
      T* dgr = dgt + n * GH;
      T* dhr = dh + n * H;
      switch (g.mode) {
        case RnnMode::kLstm: {
          const T* ct = extra + (t * N + n) * H;
          const T* cp = first ? c0 + n * H : extra + (tp * N + n) * H;
          T* dcr = dc + n * H;
          for (int64_t j = 0; j < H; ++j) {
            const T i = gr[j], f = gr[H + j], gg = gr[2 * H + j], o = gr[3 * H + j];
            const T tc = Tanh(ct[j]);
            const T dhv = dyr[j] + dhr[j];
            const T dcv = dcr[j] + dhv * o * (T(1) - tc * tc);
            dgr[j] = dcv * gg * i * (T(1) - i);
            dgr[H + j] = dcv * cp[j] * f * (T(1) - f);
            dgr[2 * H + j] = dcv * i * (T(1) - gg * gg);
            dgr[3 * H + j] = dhv * tc * o * (T(1) - o);
            dcr[j] = dcv * f;
          }
          break;
        }
        case RnnMode::kGru: {
          const T* hn = extra + (t * N + n) * H;
          const T* hp = first ? h0 + n * H : out + (tp * N + n) * ld;
          T* dghr = dght + n * GH;
          for (int64_t j = 0; j < H; ++j) {
            const T r = gr[j], z = gr[H + j], nv = gr[2 * H + j];
            const T dhv = dyr[j] + dhr[j];
            const T dan = dhv * (T(1) - z) * (T(1) - nv * nv);
            const T dar = dan * hn[j] * r * (T(1) - r);
            const T daz = dhv * (hp[j] - nv) * z * (T(1) - z);
            dgr[j] = dghr[j] = dar;
            dgr[H + j] = dghr[H + j] = daz;
            dgr[2 * H + j] = dan;
            dghr[2 * H + j] = dan * r;
            dhr[j] = dhv * z;  // the direct path; the h2h product is added below
          }
          break;
        }
        default:
          for (int64_t j = 0; j < H; ++j) {
            const T h = gr[j];
            const T dhv = dyr[j] + dhr[j];
            dgr[j] = g.mode == RnnMode::kRnnTanh ? dhv * (T(1) - h * h) : (h > T(0) ? dhv : T(0));
          }
      }
    }
    GemmSerial<T>(false, false, N, H, GH, T(1), dght, GH, w_h2h, H,
                  g.mode == RnnMode::kGru ? T(1) : T(0), dh, H);
  }
}

template <typename T>
void Backward(const RnnLayout& g, const T* x, const T* w, const T* hx, const T* cx, const T* dy,
              const T* dhy, const T* dcy, const T* reserve, T* dx, OpReq dx_req, T* dw_out,
              OpReq dw_req, T* dhx, T* dcx, OpReq dhx_req) {
  const int64_t H = g.H, GH = g.GH(), N = g.N, TN = g.T * N, DH = g.D * H;
  std::vector<T> dw(static_cast<size_t>(g.ParamSize()), T(0));
  std::vector<T> dH(dy, dy + TN * DH), dX, dG(TN * GH), dGh(g.mode == RnnMode::kGru ? TN * GH : 0);
  std::vector<T> input_buffer, dh(N * H), dc(N * H);
  std::vector<T> dhx_all(g.L * g.D * N * H), dcx_all(g.L * g.D * N * H);
  for (int64_t l = g.L - 1; l >= 0; --l) {
    // This layer's input as the forward saw it (after dropout).
    const T* input = x;
    if (l > 0) {
      const T* below = reserve + g.Outputs(l - 1);
      if (g.dropout) {
        input_buffer.resize(TN * DH);
        const T* mask = reserve + g.Mask(l - 1);
        for (int64_t i = 0; i < TN * DH; ++i) input_buffer[i] = below[i] * mask[i];
        input = input_buffer.data();
      } else {
        input = below;
      }
    }
    const int64_t in = g.In(l);
    dX.assign(TN * in, T(0));
    for (int64_t d = 0; d < g.D; ++d) {
      const int64_t s = (l * g.D + d) * N * H;
      const T* out = reserve + g.Outputs(l) + d * H;
      for (int64_t i = 0; i < N * H; ++i) {
        dh[i] = dhy ? dhy[s + i] : T(0);
        dc[i] = dcy ? dcy[s + i] : T(0);
      }
      T* dgh = g.mode == RnnMode::kGru ? dGh.data() : dG.data();
      BackwardDirection(g, d, w + g.Wh2h(l, d), hx + s, cx ? cx + s : nullptr,
                        reserve + g.Gates(l, d), reserve + g.ExtraAt(l, d), out, dH.data() + d * H,
                        dG.data(), dgh, dh.data(), dc.data());
      std::copy(dh.begin(), dh.end(), dhx_all.begin() + s);
      std::copy(dc.begin(), dc.end(), dcx_all.begin() + s);
      // Weight gradients over all steps at once.
      Gemm<T>(true, false, GH, in, TN, T(1), dG.data(), GH, input, in, T(1),
              dw.data() + g.Wi2h(l, d), in);
      const int64_t rest = (g.T - 1) * N;  // steps whose previous state is a layer output
      T* dwh = dw.data() + g.Wh2h(l, d);
      const T* dgh_first = d == 0 ? dgh : dgh + rest * GH;  // the step that read h0
      const T* dgh_rest = d == 0 ? dgh + N * GH : dgh;
      const T* h_rest = d == 0 ? out : out + N * DH;
      Gemm<T>(true, false, GH, H, rest, T(1), dgh_rest, GH, h_rest, DH, T(1), dwh, H);
      Gemm<T>(true, false, GH, H, N, T(1), dgh_first, GH, hx + s, H, T(1), dwh, H);
      AddColumnSums(dG.data(), TN, GH, dw.data() + g.Bi2h(l, d));
      AddColumnSums(dgh, TN, GH, dw.data() + g.Bh2h(l, d));
      Gemm<T>(false, false, TN, in, GH, T(1), dG.data(), GH, w + g.Wi2h(l, d), in, T(1), dX.data(),
              in);
    }
    if (l > 0) {
      // Through the dropout between layer l - 1 and l.
      const T* mask = g.dropout ? reserve + g.Mask(l - 1) : nullptr;
      for (int64_t i = 0; i < TN * DH; ++i) dH[i] = mask ? dX[i] * mask[i] : dX[i];
    }
  }
  if (dx) StoreN(dx_req, dx, dX.data(), TN * g.I);
  if (dw_out) StoreN(dw_req, dw_out, dw.data(), g.ParamSize());
  if (dhx) StoreN(dhx_req, dhx, dhx_all.data(), g.L * g.D * N * H);
  if (dcx) StoreN(dhx_req, dcx, dcx_all.data(), g.L * g.D * N * H);
}

}  // namespace

int64_t RnnGates(RnnMode mode) {
  switch (mode) {
    case RnnMode::kLstm:
      return 4;
    case RnnMode::kGru:
      return 3;
    default:
      return 1;
  }
}

int64_t RnnParamSize(const RnnParams& p, int64_t input_size) {
  return MakeLayout(p, 1, 1, input_size).ParamSize();
}

int64_t RnnReserveSize(const RnnParams& p, int64_t seq_len, int64_t batch) {
  return MakeLayout(p, seq_len, batch, 1).ReserveSize();
}

void RnnForward(const RnnParams& p, const OpContext& ctx, const TensorView& x,
                const TensorView& params, const TensorView& hx, const TensorView* cx,
                const TensorView& y, OpReq y_req, const TensorView* hy, const TensorView* cy,
                OpReq state_req, const TensorView& reserve) {
  const RnnLayout g = CheckShapes(p, x, params, hx, cx, reserve);
  const Shape out{g.T, g.N, g.D * g.H}, state{g.L * g.D, g.N, g.H};
  LOOM_CHECK_TYPED(ShapeError, y.shape == out, kOp, ": expected out ", out.ToString(), " but got ",
                   y.shape.ToString());
  if (hy)
    LOOM_CHECK_TYPED(ShapeError, hy->shape == state, kOp, ": expected state_output ",
                     state.ToString());
  if (cy && p.mode == RnnMode::kLstm) {
    LOOM_CHECK_TYPED(ShapeError, cy->shape == state, kOp, ": expected statecell_output ",
                     state.ToString());
  }
  const bool train = ctx.is_train;
  LOOM_CHECK(!(train && g.dropout) || ctx.rng != nullptr, kOp,
             ": dropout between layers needs a random generator (kRandom resource)");
  DispatchFloat(x.dtype, kOp, [&]<typename T>(Tag<T>) {
    Forward<T>(
        g, ctx, train, x.data<T>(), params.data<T>(), hx.data<T>(),
        p.mode == RnnMode::kLstm ? cx->data<T>() : nullptr, y.data<T>(), y_req,
        hy && state_req != OpReq::kNull ? hy->data<T>() : nullptr,
        cy && state_req != OpReq::kNull && p.mode == RnnMode::kLstm ? cy->data<T>() : nullptr,
        state_req, reserve.data<T>());
  });
}

void RnnBackward(const RnnParams& p, const TensorView& x, const TensorView& params,
                 const TensorView& hx, const TensorView* cx, const TensorView& dy,
                 const TensorView* dhy, const TensorView* dcy, const TensorView& reserve,
                 const TensorView& dx, OpReq dx_req, const TensorView& dparams, OpReq dparams_req,
                 const TensorView& dhx, OpReq dhx_req, const TensorView* dcx) {
  const RnnLayout g = CheckShapes(p, x, params, hx, cx, reserve);
  const Shape out{g.T, g.N, g.D * g.H}, state{g.L * g.D, g.N, g.H};
  LOOM_CHECK_TYPED(ShapeError, dy.shape == out, kOp, ": expected out_grad ", out.ToString(),
                   " but got ", dy.shape.ToString());
  for (const TensorView* t : {dhy, dcy}) {
    if (t)
      LOOM_CHECK_TYPED(ShapeError, t->shape == state, kOp, ": expected state gradients ",
                       state.ToString(), " but got ", t->shape.ToString());
  }
  if (dx_req != OpReq::kNull) CheckSameShape(x, dx, kOp, "data", "data_grad");
  if (dparams_req != OpReq::kNull) CheckSize(dparams, g.ParamSize(), kOp, "parameters_grad");
  if (dhx_req != OpReq::kNull) CheckSameShape(hx, dhx, kOp, "state", "state_grad");
  const bool lstm = p.mode == RnnMode::kLstm;
  if (dhx_req != OpReq::kNull && lstm && dcx)
    CheckSameShape(hx, *dcx, kOp, "state", "state_cell_grad");
  DispatchFloat(x.dtype, kOp, [&]<typename T>(Tag<T>) {
    auto ptr = [](const TensorView* t) { return t ? t->data<T>() : nullptr; };
    Backward<T>(g, x.data<T>(), params.data<T>(), hx.data<T>(), lstm ? cx->data<T>() : nullptr,
                dy.data<T>(), ptr(dhy), lstm ? ptr(dcy) : nullptr, reserve.data<T>(),
                dx_req == OpReq::kNull ? nullptr : dx.data<T>(), dx_req,
                dparams_req == OpReq::kNull ? nullptr : dparams.data<T>(), dparams_req,
                dhx_req == OpReq::kNull ? nullptr : dhx.data<T>(),
                dhx_req == OpReq::kNull || !lstm ? nullptr : ptr(dcx), dhx_req);
  });
}

}  // namespace loom::cpu
