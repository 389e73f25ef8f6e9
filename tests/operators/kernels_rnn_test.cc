// Fused RNN CPU kernels: every mode, one and two layers, one and two directions, against the
// naive reference; gradients wrt data, parameters and initial states against finite
// differences; the parameter count MXNet documents; dropout between layers; kAddTo.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "operators/cpu/reference/rnn.h"
#include "operators/cpu/rnn.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

RnnParams Params(RnnMode mode, int64_t h, int64_t layers, bool bidirectional, double p = 0) {
  RnnParams r;
  r.mode = mode;
  r.state_size = h;
  r.num_layers = layers;
  r.bidirectional = bidirectional;
  r.p = p;
  return r;
}

const char* Name(RnnMode m) {
  switch (m) {
    case RnnMode::kLstm:
      return "lstm";
    case RnnMode::kGru:
      return "gru";
    case RnnMode::kRnnTanh:
      return "rnn_tanh";
    default:
      return "rnn_relu";
  }
}

TEST(KernelsRnn, ParameterCountMatchesMXNet) {
  // mxnet-facts: LSTM, L=1, D=1, I=50, state_size=100 => P = 60800.
  EXPECT_EQ(RnnParamSize(Params(RnnMode::kLstm, 100, 1, false), 50), 60800);
  // P = (I + H + 2) G H D + (L - 1)(D H + H + 2) G H D
  const int64_t I = 7, H = 5, L = 3, D = 2, G = 3;
  EXPECT_EQ(RnnParamSize(Params(RnnMode::kGru, H, L, true), I),
            (I + H + 2) * G * H * D + (L - 1) * (D * H + H + 2) * G * H * D);
}

struct Outputs {
  std::vector<double> y, hy, cy;
};

// Runs the fast forward in T (training, so the reserve is filled) on copies of the inputs.
template <typename T>
Outputs FastForward(const RnnParams& p, int64_t t, int64_t n, int64_t i,
                    const std::vector<double>& x, const std::vector<double>& w,
                    const std::vector<double>& hx, const std::vector<double>& cx,
                    std::vector<T>& reserve) {
  const int64_t d = p.bidirectional ? 2 : 1, h = p.state_size;
  auto xt = test::Convert<T>(x), wt = test::Convert<T>(w), hxt = test::Convert<T>(hx),
       cxt = test::Convert<T>(cx);
  std::vector<T> y(t * n * d * h), hy(hx.size()), cy(hx.size());
  reserve.assign(RnnReserveSize(p, t, n), T(0));
  const Shape state{p.num_layers * d, n, h};
  const TensorView cxv = View(cxt, state), hyv = View(hy, state), cyv = View(cy, state);
  OpContext ctx;
  ctx.is_train = true;
  RnnForward(p, ctx, View(xt, Shape{t, n, i}), View(wt, Shape{int64_t(w.size())}), View(hxt, state),
             &cxv, View(y, Shape{t, n, d * h}), OpReq::kWriteTo, &hyv, &cyv, OpReq::kWriteTo,
             View(reserve, Shape{int64_t(reserve.size())}));
  Outputs r{test::Convert<double>(y), test::Convert<double>(hy), test::Convert<double>(cy)};
  if (p.mode != RnnMode::kLstm) r.cy.clear();
  return r;
}

TEST(KernelsRnn, EveryModeMatchesReferenceAndFiniteDifferences) {
  const int64_t T = 3, N = 2, I = 3, H = 4;
  for (RnnMode mode : {RnnMode::kLstm, RnnMode::kGru, RnnMode::kRnnTanh, RnnMode::kRnnRelu}) {
    for (int64_t layers : {1, 2}) {
      for (bool bi : {false, true}) {
        const RnnParams p = Params(mode, H, layers, bi);
        SCOPED_TRACE(std::string(Name(mode)) + " layers " + std::to_string(layers) +
                     (bi ? " bidirectional" : ""));
        const int64_t D = bi ? 2 : 1;
        std::mt19937_64 rng(static_cast<int>(mode) * 10 + layers * 2 + bi);
        auto x = RandomVector(T * N * I, rng), w = RandomVector(RnnParamSize(p, I), rng, -0.5, 0.5),
             hx = RandomVector(layers * D * N * H, rng), cx = RandomVector(hx.size(), rng);
        std::vector<double> y_ref(T * N * D * H), hy_ref(hx.size()), cy_ref(hx.size());
        reference::RnnForward(p, T, N, I, x.data(), w.data(), hx.data(), cx.data(), y_ref.data(),
                              hy_ref.data(), cy_ref.data());
        std::vector<double> reserve;
        Outputs fast = FastForward(p, T, N, I, x, w, hx, cx, reserve);
        ExpectAllNear(fast.y, y_ref, 1e-12, 1e-12, "out");
        ExpectAllNear(fast.hy, hy_ref, 1e-12, 1e-12, "state_output");
        if (mode == RnnMode::kLstm)
          ExpectAllNear(fast.cy, cy_ref, 1e-12, 1e-12, "statecell_output");
        std::vector<float> reserve32;
        Outputs fast32 = FastForward(p, T, N, I, x, w, hx, cx, reserve32);
        ExpectAllNear(fast32.y, y_ref, 2e-5, 2e-5, "float32 out");
        ExpectAllNear(fast32.hy, hy_ref, 2e-5, 2e-5, "float32 state_output");

        // Loss over every output: y, hy and (LSTM) cy.
        const size_t ny = fast.y.size(), nh = fast.hy.size();
        auto head = RandomVector(ny + nh + fast.cy.size(), rng);
        auto forward = [&] {
          std::vector<double> r;
          Outputs o = FastForward(p, T, N, I, x, w, hx, cx, reserve);
          r.insert(r.end(), o.y.begin(), o.y.end());
          r.insert(r.end(), o.hy.begin(), o.hy.end());
          r.insert(r.end(), o.cy.begin(), o.cy.end());
          return r;
        };
        forward();  // fills the reserve at the unperturbed point
        std::vector<double> dy(head.begin(), head.begin() + ny),
            dhy(head.begin() + ny, head.begin() + ny + nh), dcy(head.begin() + ny + nh, head.end());
        std::vector<double> dx(x.size()), dw(w.size()), dhx(hx.size()), dcx(hx.size());
        const Shape state{layers * D, N, H};
        const TensorView cxv = View(cx, state), dhyv = View(dhy, state), dcyv = View(dcy, state),
                         dcxv = View(dcx, state);
        RnnBackward(p, View(x, Shape{T, N, I}), View(w, Shape{int64_t(w.size())}), View(hx, state),
                    &cxv, View(dy, Shape{T, N, D * H}), &dhyv,
                    mode == RnnMode::kLstm ? &dcyv : nullptr,
                    View(reserve, Shape{int64_t(reserve.size())}), View(dx, Shape{T, N, I}),
                    OpReq::kWriteTo, View(dw, Shape{int64_t(w.size())}), OpReq::kWriteTo,
                    View(dhx, state), OpReq::kWriteTo, &dcxv);
        test::ExpectGradientNear("data", forward, x, head, dx);
        test::ExpectGradientNear("parameters", forward, w, head, dw);
        test::ExpectGradientNear("state", forward, hx, head, dhx);
        if (mode == RnnMode::kLstm) test::ExpectGradientNear("state_cell", forward, cx, head, dcx);
      }
    }
  }
}

TEST(KernelsRnn, DropoutBetweenLayersIsReproducibleAndDifferentiable) {
  const int64_t T = 2, N = 3, I = 2, H = 3;
  const RnnParams p = Params(RnnMode::kLstm, H, 2, false, 0.4);
  std::mt19937_64 rng(3);
  auto x = RandomVector(T * N * I, rng), w = RandomVector(RnnParamSize(p, I), rng, -0.5, 0.5),
       hx = RandomVector(2 * N * H, rng), cx = RandomVector(2 * N * H, rng),
       head = RandomVector(T * N * H, rng);
  const Shape state{2, N, H};
  std::vector<double> reserve(RnnReserveSize(p, T, N));
  auto forward = [&] {
    std::mt19937_64 gen(99);  // the same masks on every call
    OpContext ctx;
    ctx.is_train = true;
    ctx.rng = &gen;
    std::vector<double> y(T * N * H);
    const TensorView cxv = View(cx, state);
    RnnForward(p, ctx, View(x, Shape{T, N, I}), View(w, Shape{int64_t(w.size())}), View(hx, state),
               &cxv, View(y, Shape{T, N, H}), OpReq::kWriteTo, nullptr, nullptr, OpReq::kNull,
               View(reserve, Shape{int64_t(reserve.size())}));
    return y;
  };
  std::vector<double> y = forward();
  // Inference (no dropout) gives a different answer.
  std::vector<double> y_inference(y.size());
  {
    const TensorView cxv = View(cx, state);
    RnnForward(p, OpContext{}, View(x, Shape{T, N, I}), View(w, Shape{int64_t(w.size())}),
               View(hx, state), &cxv, View(y_inference, Shape{T, N, H}), OpReq::kWriteTo, nullptr,
               nullptr, OpReq::kNull, View(reserve, Shape{int64_t(reserve.size())}));
  }
  EXPECT_NE(y, y_inference);
  forward();
  std::vector<double> dx(x.size()), dw(w.size()), dhx(hx.size());
  const TensorView cxv = View(cx, state);
  RnnBackward(p, View(x, Shape{T, N, I}), View(w, Shape{int64_t(w.size())}), View(hx, state), &cxv,
              View(head, Shape{T, N, H}), nullptr, nullptr,
              View(reserve, Shape{int64_t(reserve.size())}), View(dx, Shape{T, N, I}),
              OpReq::kWriteTo, View(dw, Shape{int64_t(w.size())}), OpReq::kWriteTo,
              View(dhx, state), OpReq::kWriteTo, nullptr);
  test::ExpectGradientNear("data", forward, x, head, dx);
  test::ExpectGradientNear("parameters", forward, w, head, dw);
}

TEST(KernelsRnn, AddToAccumulatesAndShapesAreChecked) {
  const int64_t T = 2, N = 2, I = 3, H = 2;
  const RnnParams p = Params(RnnMode::kGru, H, 1, true);
  std::mt19937_64 rng(5);
  auto x = RandomVector(T * N * I, rng), w = RandomVector(RnnParamSize(p, I), rng),
       hx = RandomVector(2 * N * H, rng), dy = RandomVector(T * N * 2 * H, rng);
  const Shape state{2, N, H};
  std::vector<double> reserve(RnnReserveSize(p, T, N));
  OpContext ctx;
  ctx.is_train = true;
  test::ExpectAddToAccumulates<double>(
      [&](OpReq req, std::vector<std::vector<double>>& o) {
        RnnForward(p, ctx, View(x, Shape{T, N, I}), View(w, Shape{int64_t(w.size())}),
                   View(hx, state), nullptr, View(o[0], Shape{T, N, 2 * H}), req, nullptr, nullptr,
                   OpReq::kNull, View(reserve, Shape{int64_t(reserve.size())}));
        RnnBackward(p, View(x, Shape{T, N, I}), View(w, Shape{int64_t(w.size())}), View(hx, state),
                    nullptr, View(dy, Shape{T, N, 2 * H}), nullptr, nullptr,
                    View(reserve, Shape{int64_t(reserve.size())}), View(o[1], Shape{T, N, I}), req,
                    View(o[2], Shape{int64_t(w.size())}), req, View(o[3], state), req, nullptr);
      },
      {size_t(T * N * 2 * H), x.size(), w.size(), hx.size()});
  std::vector<double> short_params(w.size() - 1), y(T * N * 2 * H);
  EXPECT_THROW(
      RnnForward(p, ctx, View(x, Shape{T, N, I}), View(short_params, Shape{int64_t(w.size()) - 1}),
                 View(hx, state), nullptr, View(y, Shape{T, N, 2 * H}), OpReq::kWriteTo, nullptr,
                 nullptr, OpReq::kNull, View(reserve, Shape{int64_t(reserve.size())})),
      ShapeError);
  EXPECT_THROW(RnnForward(Params(RnnMode::kLstm, H, 1, true), ctx, View(x, Shape{T, N, I}),
                          View(w, Shape{int64_t(w.size())}), View(hx, state), nullptr,
                          View(y, Shape{T, N, 2 * H}), OpReq::kWriteTo, nullptr, nullptr,
                          OpReq::kNull, View(reserve, Shape{int64_t(reserve.size())})),
               Error);
}

}  // namespace
}  // namespace loom::cpu
