// The fused RNN operator through the executor: MXNet's flat parameter size, the fused LSTM against
// an LSTM unrolled step by step from MXNet's parameter layout, every mode's gradients (data,
// parameters, initial states, with and without state outputs) against finite differences in
// float64, dropout between layers only while training, and the kernel's limits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"

namespace loom {
namespace {

using nn_test::CheckGradients;
using nn_test::Get;
using nn_test::GradientCase;
using nn_test::Op;
using nn_test::Set;
using Params = std::vector<std::pair<std::string, std::string>>;

Shape BoundShape(const Symbol& s, const ShapeDict& shapes, const std::string& name) {
  Executor exe = Executor::SimpleBind(s, Context::CPU(), shapes, {}, "null");
  return exe.arg_dict().at(name).shape();
}

// MXNet's GetRnnParamSize: (I + H + 2) * S + (L - 1) * (H * D + H + 2) * S, S = H * G * D.
TEST(NnRnn, ParameterVectorHasMxnetsSize) {
  Symbol lstm = Op("RNN", {{"state_size", "100"}, {"num_layers", "1"}, {"mode", "lstm"}});
  EXPECT_EQ(BoundShape(lstm, {{"op_data", {5, 2, 50}}}, "op_parameters"), (Shape{60800}));
  struct Config {
    const char* mode;
    int64_t gates, layers;
    bool bidirectional;
  };
  for (const Config& cfg : {Config{"gru", 3, 2, true}, Config{"rnn_tanh", 1, 3, false},
                            Config{"rnn_relu", 1, 1, true}, Config{"lstm", 4, 2, true}}) {
    const int64_t I = 7, H = 5, D = cfg.bidirectional ? 2 : 1, S = H * cfg.gates * D;
    Symbol rnn = Op("RNN", {{"state_size", "5"},
                            {"num_layers", std::to_string(cfg.layers)},
                            {"mode", cfg.mode},
                            {"bidirectional", cfg.bidirectional ? "True" : "False"}});
    EXPECT_EQ(BoundShape(rnn, {{"op_data", {3, 2, I}}}, "op_parameters"),
              (Shape{(I + H + 2) * S + (cfg.layers - 1) * (H * D + H + 2) * S}))
        << cfg.mode;
  }
}

// One LSTM layer unrolled over time: MXNet's layout (W_i2h (4H, I), W_h2h (4H, H), then b_i2h,
// b_h2h), gates in the order input, forget, cell, output.
void UnrolledLstm(int64_t T, int64_t N, int64_t I, int64_t H, const std::vector<double>& x,
                  const std::vector<double>& w, const std::vector<double>& h0,
                  const std::vector<double>& c0, std::vector<double>* y, std::vector<double>* hT,
                  std::vector<double>* cT) {
  const double* wi = w.data();
  const double* wh = wi + 4 * H * I;
  const double* bi = wh + 4 * H * H;
  const double* bh = bi + 4 * H;
  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  std::vector<double> h = h0, c = c0;
  y->assign(T * N * H, 0);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> hn(N * H), cn(N * H);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t j = 0; j < H; ++j) {
        double gate[4];
        for (int64_t g = 0; g < 4; ++g) {
          const int64_t row = g * H + j;
          double s = bi[row] + bh[row];
          for (int64_t k = 0; k < I; ++k) s += wi[row * I + k] * x[(t * N + n) * I + k];
          for (int64_t k = 0; k < H; ++k) s += wh[row * H + k] * h[n * H + k];
          gate[g] = s;
        }
        const double in = sigmoid(gate[0]), forget = sigmoid(gate[1]), cell = std::tanh(gate[2]),
                     out = sigmoid(gate[3]);
        cn[n * H + j] = forget * c[n * H + j] + in * cell;
        hn[n * H + j] = out * std::tanh(cn[n * H + j]);
        (*y)[(t * N + n) * H + j] = hn[n * H + j];
      }
    }
    h = hn;
    c = cn;
  }
  *hT = h;
  *cT = c;
}

TEST(NnRnn, FusedLstmMatchesAnUnrolledLstm) {
  const int64_t T = 4, N = 3, I = 5, H = 4;
  Symbol lstm =
      Op("RNN",
         {{"state_size", "4"}, {"num_layers", "1"}, {"mode", "lstm"}, {"state_outputs", "True"}});
  GradientCase c{lstm, {{"op_data", {T, N, I}}}};
  nn_test::Bound b = nn_test::BindCase(c, "null");
  const auto out = nn_test::Outputs(b.exe, false);
  ASSERT_EQ(out.size(), 3u);
  std::vector<double> y, hT, cT;
  UnrolledLstm(T, N, I, H, b.args.at("op_data"), b.args.at("op_parameters"), b.args.at("op_state"),
               b.args.at("op_state_cell"), &y, &hT, &cT);
  test::ExpectAllNear(out[0], y, 1e-12, 1e-12, "output");
  test::ExpectAllNear(out[1], hT, 1e-12, 1e-12, "state_output");
  test::ExpectAllNear(out[2], cT, 1e-12, 1e-12, "statecell_output");
  // The training forward pass computes the same values.
  test::ExpectAllNear(nn_test::Outputs(b.exe, true)[0], y, 1e-12, 1e-12, "training output");
}

TEST(NnRnn, EveryModeMatchesFiniteDifferences) {
  const Params configs[] = {
      {{"mode", "lstm"}, {"num_layers", "1"}},
      {{"mode", "lstm"}, {"num_layers", "2"}, {"bidirectional", "True"}, {"state_outputs", "True"}},
      {{"mode", "gru"}, {"num_layers", "2"}, {"state_outputs", "True"}},
      {{"mode", "gru"}, {"num_layers", "1"}, {"bidirectional", "True"}},
      {{"mode", "rnn_tanh"}, {"num_layers", "2"}, {"state_outputs", "True"}},
      {{"mode", "rnn_relu"}, {"num_layers", "1"}, {"bidirectional", "True"}}};
  for (Params params : configs) {
    params.emplace_back("state_size", "2");
    Symbol rnn = Op("RNN", params);
    SCOPED_TRACE(rnn.ToJSON());
    GradientCase c{rnn, {{"op_data", {3, 2, 3}}}};
    c.lo = -0.8;
    c.hi = 0.8;
    c.rtol = 1e-5;
    c.atol = 1e-6;
    CheckGradients(c);
  }
}

// Dropout between layers acts while training only: inference equals the p = 0 network.
TEST(NnRnn, DropoutBetweenLayersOnlyWhileTraining) {
  Params params{{"mode", "gru"}, {"num_layers", "2"}, {"state_size", "8"}};
  GradientCase plain{Op("RNN", params), {{"op_data", {4, 2, 3}}}};
  params.emplace_back("p", "0.5");
  GradientCase dropped{Op("RNN", params), {{"op_data", {4, 2, 3}}}};
  nn_test::Bound a = nn_test::BindCase(plain, "null"), b = nn_test::BindCase(dropped, "write");
  const auto reference = nn_test::Outputs(a.exe, false)[0];
  test::ExpectAllNear(nn_test::Outputs(b.exe, false)[0], reference, 1e-14, 1e-14, "inference");
  const auto train1 = nn_test::Outputs(b.exe, true)[0];
  const auto train2 = nn_test::Outputs(b.exe, true)[0];
  EXPECT_NE(train1, reference);
  EXPECT_NE(train1, train2) << "fresh masks per training pass";
  b.exe.Backward({NDArray::Ones(b.exe.outputs()[0].shape(), Context::CPU(), DType::kFloat64)});
  for (double g : Get(b.exe.grad_dict().at("op_parameters"))) ASSERT_TRUE(std::isfinite(g));
}

TEST(NnRnn, UnsupportedVariantsAreNotSupportedErrors) {
  Symbol lstmp =
      Op("RNN",
         {{"mode", "lstm"}, {"num_layers", "1"}, {"state_size", "4"}, {"projection_size", "2"}});
  Executor exe = Executor::SimpleBind(lstmp, Context::CPU(), {{"op_data", {2, 1, 3}}}, {}, "null");
  exe.Forward(false);
  EXPECT_THAT(
      [&] { exe.outputs()[0].WaitToRead(); },
      ::testing::ThrowsMessage<NotSupportedError>(::testing::AllOf(
          ::testing::HasSubstr("projection_size"), ::testing::HasSubstr("node 'op' (RNN)"))));
}

}  // namespace
}  // namespace loom
