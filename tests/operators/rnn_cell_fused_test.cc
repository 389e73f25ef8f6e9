// Unrolled RNN cells (loom/operators/rnn_cell.h) against the fused RNN operator: with the same
// weights packed in the fused layout, both give the same outputs and the same gradients with
// respect to the data, the weights and the begin states (float64). LSTM, GRU and vanilla tanh;
// one and two layers; bidirectional as two unrolled directions. Also the unrolled LSTM's
// gradients against central finite differences.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gradient_check.h"
#include "loom/core/executor.h"
#include "loom/core/name_manager.h"
#include "loom/operators/rnn_cell.h"
#include "loom/operators/symbol_ops.h"

namespace loom {
namespace {

using test::ExpectAllNear;
using test::RandomVector;

struct Case {
  std::string mode;  // lstm, gru, rnn_tanh
  int64_t layers = 1;
  bool bidirectional = false;
  int64_t T = 3, N = 2, I = 3, H = 4;
  int64_t D() const { return bidirectional ? 2 : 1; }
  int64_t G() const { return mode == "lstm" ? 4 : mode == "gru" ? 3 : 1; }
  int64_t In(int64_t layer) const { return layer == 0 ? I : D() * H; }
};

std::string Prefix(int64_t layer, int64_t dir) {
  return "l" + std::to_string(layer) + (dir == 1 ? "r_" : "_");
}
std::string StepName(int64_t t) { return "t" + std::to_string(t) + "_data"; }

std::unique_ptr<rnn::RNNCellBase> MakeCell(const Case& c, const std::string& prefix) {
  if (c.mode == "lstm") return std::make_unique<rnn::LSTMCell>(c.H, prefix);
  if (c.mode == "gru") return std::make_unique<rnn::GRUCell>(c.H, prefix);
  return std::make_unique<rnn::RNNCell>(c.H, "tanh", prefix);
}

// The unrolled network: per layer and direction one cell with begin states <prefix>h0 (and
// <prefix>c0); the reverse direction reads the steps backwards; layer outputs of both
// directions are concatenated per step. Outputs: one (N, D*H) per step.
Symbol BuildUnrolled(const Case& c) {
  std::vector<Symbol> inputs;
  for (int64_t t = 0; t < c.T; ++t) inputs.push_back(Symbol::Variable(StepName(t)));
  for (int64_t l = 0; l < c.layers; ++l) {
    std::vector<std::vector<Symbol>> per_dir;
    for (int64_t d = 0; d < c.D(); ++d) {
      const std::string prefix = Prefix(l, d);
      auto cell = MakeCell(c, prefix);
      std::vector<Symbol> begin{Symbol::Variable(prefix + "h0")};
      if (c.mode == "lstm") begin.push_back(Symbol::Variable(prefix + "c0"));
      std::vector<Symbol> seq = inputs;
      if (d == 1) std::reverse(seq.begin(), seq.end());
      std::vector<Symbol> outs = cell->Unroll(static_cast<int>(c.T), seq, begin).first;
      if (d == 1) std::reverse(outs.begin(), outs.end());
      per_dir.push_back(std::move(outs));
    }
    for (int64_t t = 0; t < c.T; ++t) {
      inputs[t] = c.D() == 1 ? per_dir[0][t] : op::Concat({per_dir[0][t], per_dir[1][t]}, 1);
    }
  }
  return Symbol::Group(inputs);
}

// Offsets of one (layer, direction)'s four blocks in the fused parameter vector.
struct Blocks {
  int64_t i2h_w, h2h_w, i2h_b, h2h_b;
};
Blocks FusedBlocks(const Case& c, int64_t layer, int64_t dir) {
  const int64_t gh = c.G() * c.H;
  int64_t weights = 0, bias_start = 0;
  Blocks b{};
  for (int64_t l = 0; l < c.layers; ++l) {
    for (int64_t d = 0; d < c.D(); ++d) {
      if (l == layer && d == dir) b.i2h_w = weights, b.h2h_w = weights + gh * c.In(l);
      weights += gh * (c.In(l) + c.H);
    }
  }
  bias_start = weights;
  const int64_t index = layer * c.D() + dir;
  b.i2h_b = bias_start + index * 2 * gh;
  b.h2h_b = b.i2h_b + gh;
  return b;
}

std::vector<double> Slice(const std::vector<double>& v, int64_t begin, int64_t size) {
  return std::vector<double>(v.begin() + begin, v.begin() + begin + size);
}

NDArray Array(const std::vector<double>& v, const Shape& shape) {
  return NDArray::FromHost(v, shape);
}

void CompareWithFused(const Case& c) {
  SCOPED_TRACE(c.mode + " layers=" + std::to_string(c.layers) +
               (c.bidirectional ? " bidirectional" : ""));
  NameScope names;
  std::mt19937_64 rng(11 + c.layers * 3 + c.D());
  const int64_t gh = c.G() * c.H, LD = c.layers * c.D();
  int64_t psize = 0;
  for (int64_t l = 0; l < c.layers; ++l) psize += c.D() * gh * (c.In(l) + c.H + 2);
  std::vector<double> x = RandomVector(c.T * c.N * c.I, rng);
  std::vector<double> params = RandomVector(psize, rng, -0.5, 0.5);
  std::vector<double> hx = RandomVector(LD * c.N * c.H, rng);
  std::vector<double> cx = RandomVector(LD * c.N * c.H, rng);
  std::vector<double> dy = RandomVector(c.T * c.N * c.D() * c.H, rng);

  // Fused.
  Symbol data = Symbol::Variable("data"), p = Symbol::Variable("parameters"),
         state = Symbol::Variable("state"), state_cell = Symbol::Variable("state_cell");
  OpCall call = Symbol::Op("RNN");
  call.Input("data", data).Input("parameters", p).Input("state", state);
  if (c.mode == "lstm") call.Input("state_cell", state_cell);
  Symbol fused = call.Param("state_size", c.H)
                     .Param("num_layers", c.layers)
                     .Param("bidirectional", c.bidirectional)
                     .Param("mode", c.mode)
                     .Name("rnn")
                     .Build();
  NDArrayMap fargs{{"data", Array(x, Shape{c.T, c.N, c.I})},
                   {"parameters", Array(params, Shape{psize})},
                   {"state", Array(hx, Shape{LD, c.N, c.H})}};
  if (c.mode == "lstm") fargs["state_cell"] = Array(cx, Shape{LD, c.N, c.H});
  NDArrayMap fgrads;
  for (const auto& [name, a] : fargs) fgrads[name] = NDArray::Zeros(a.shape(), a.ctx(), a.dtype());
  Executor fexe = Executor::Bind(fused, Context::CPU(), fargs, fgrads);
  fexe.Forward(true);
  fexe.Backward({Array(dy, Shape{c.T, c.N, c.D() * c.H})});
  const std::vector<double> fy = fexe.outputs()[0].ToVector<double>();

  // Unrolled, with the same weights and states.
  Symbol net = BuildUnrolled(c);
  NDArrayMap uargs;
  const int64_t step = c.N * c.I, row = c.N * c.H;
  for (int64_t t = 0; t < c.T; ++t)
    uargs[StepName(t)] = Array(Slice(x, t * step, step), {c.N, c.I});
  for (int64_t l = 0; l < c.layers; ++l) {
    for (int64_t d = 0; d < c.D(); ++d) {
      const std::string prefix = Prefix(l, d);
      const Blocks b = FusedBlocks(c, l, d);
      uargs[prefix + "i2h_weight"] = Array(Slice(params, b.i2h_w, gh * c.In(l)), {gh, c.In(l)});
      uargs[prefix + "h2h_weight"] = Array(Slice(params, b.h2h_w, gh * c.H), {gh, c.H});
      uargs[prefix + "i2h_bias"] = Array(Slice(params, b.i2h_b, gh), {gh});
      uargs[prefix + "h2h_bias"] = Array(Slice(params, b.h2h_b, gh), {gh});
      const int64_t s = (l * c.D() + d) * row;
      uargs[prefix + "h0"] = Array(Slice(hx, s, row), {c.N, c.H});
      if (c.mode == "lstm") uargs[prefix + "c0"] = Array(Slice(cx, s, row), {c.N, c.H});
    }
  }
  ASSERT_EQ(uargs.size(), net.ListArguments().size());
  NDArrayMap ugrads;
  for (const auto& [name, a] : uargs) ugrads[name] = NDArray::Zeros(a.shape(), a.ctx(), a.dtype());
  Executor uexe = Executor::Bind(net, Context::CPU(), uargs, ugrads);
  uexe.Forward(true);
  const int64_t out_step = c.N * c.D() * c.H;
  std::vector<NDArray> heads;
  for (int64_t t = 0; t < c.T; ++t)
    heads.push_back(Array(Slice(dy, t * out_step, out_step), {c.N, c.D() * c.H}));
  uexe.Backward(heads);

  // Outputs and data gradients, step by step.
  std::vector<double> uy, udx;
  for (int64_t t = 0; t < c.T; ++t) {
    auto y = uexe.outputs()[t].ToVector<double>();
    uy.insert(uy.end(), y.begin(), y.end());
    auto g = ugrads.at(StepName(t)).ToVector<double>();
    udx.insert(udx.end(), g.begin(), g.end());
  }
  constexpr double kRtol = 1e-10, kAtol = 1e-12;
  ExpectAllNear(uy, fy, kRtol, kAtol, "output");
  ExpectAllNear(udx, fgrads.at("data").ToVector<double>(), kRtol, kAtol, "d data");

  // Weight and state gradients, packed back into the fused layout.
  std::vector<double> udp(psize), udh(hx.size()), udc(cx.size());
  auto put = [](std::vector<double>& dst, int64_t at, const NDArray& a) {
    auto v = a.ToVector<double>();
    std::copy(v.begin(), v.end(), dst.begin() + at);
  };
  for (int64_t l = 0; l < c.layers; ++l) {
    for (int64_t d = 0; d < c.D(); ++d) {
      const std::string prefix = Prefix(l, d);
      const Blocks b = FusedBlocks(c, l, d);
      put(udp, b.i2h_w, ugrads.at(prefix + "i2h_weight"));
      put(udp, b.h2h_w, ugrads.at(prefix + "h2h_weight"));
      put(udp, b.i2h_b, ugrads.at(prefix + "i2h_bias"));
      put(udp, b.h2h_b, ugrads.at(prefix + "h2h_bias"));
      const int64_t s = (l * c.D() + d) * row;
      put(udh, s, ugrads.at(prefix + "h0"));
      if (c.mode == "lstm") put(udc, s, ugrads.at(prefix + "c0"));
    }
  }
  ExpectAllNear(udp, fgrads.at("parameters").ToVector<double>(), kRtol, kAtol, "d parameters");
  ExpectAllNear(udh, fgrads.at("state").ToVector<double>(), kRtol, kAtol, "d state");
  if (c.mode == "lstm") {
    ExpectAllNear(udc, fgrads.at("state_cell").ToVector<double>(), kRtol, kAtol, "d state_cell");
  }
}

TEST(RNNCellVsFused, LSTM) {
  CompareWithFused({.mode = "lstm", .layers = 1});
  CompareWithFused({.mode = "lstm", .layers = 2});
}

TEST(RNNCellVsFused, GRU) {
  CompareWithFused({.mode = "gru", .layers = 1});
  CompareWithFused({.mode = "gru", .layers = 2});
}

TEST(RNNCellVsFused, RNNTanh) {
  CompareWithFused({.mode = "rnn_tanh", .layers = 1});
  CompareWithFused({.mode = "rnn_tanh", .layers = 2});
}

TEST(RNNCellVsFused, BidirectionalAsTwoUnrolledDirections) {
  CompareWithFused({.mode = "lstm", .layers = 1, .bidirectional = true});
  CompareWithFused({.mode = "lstm", .layers = 2, .bidirectional = true});
  CompareWithFused({.mode = "gru", .layers = 2, .bidirectional = true});
  CompareWithFused({.mode = "rnn_tanh", .layers = 1, .bidirectional = true});
}

// The unrolled LSTM's gradients (executor backward through FullyConnected, SliceChannel,
// Activation and the elementwise ops) against central finite differences of
// L = sum(head * outputs), for the data, every weight and both begin states.
TEST(RNNCellGradient, UnrolledLSTMMatchesFiniteDifferences) {
  NameScope names;
  const int64_t T = 3, N = 2, I = 3, H = 2;
  rnn::LSTMCell cell(H, "lstm_");
  std::vector<Symbol> inputs;
  for (int64_t t = 0; t < T; ++t) inputs.push_back(Symbol::Variable(StepName(t)));
  std::vector<Symbol> begin{Symbol::Variable("h0"), Symbol::Variable("c0")};
  auto [outputs, states] = cell.Unroll(static_cast<int>(T), inputs, begin);
  outputs.push_back(states[1]);  // the last cell state too
  Symbol net = Symbol::Group(outputs);
  const std::vector<std::string> names_list = net.ListArguments();
  auto shapes = net.InferShape({{"t0_data", {N, I}},
                                {"t1_data", {N, I}},
                                {"t2_data", {N, I}},
                                {"h0", {N, H}},
                                {"c0", {N, H}}});
  ASSERT_TRUE(shapes.has_value());

  std::mt19937_64 rng(5);
  std::vector<std::vector<double>> values;
  NDArrayMap args, grads;
  for (size_t i = 0; i < names_list.size(); ++i) {
    values.push_back(RandomVector(shapes->arguments[i].Size(), rng));
    args[names_list[i]] = Array(values.back(), shapes->arguments[i]);
    grads[names_list[i]] = NDArray::Zeros(shapes->arguments[i], Context::CPU(), DType::kFloat64);
  }
  Executor exe = Executor::Bind(net, Context::CPU(), args, grads);
  std::vector<double> head;
  std::vector<NDArray> heads;
  for (const Shape& s : shapes->outputs) {
    std::vector<double> h = RandomVector(s.Size(), rng);
    heads.push_back(Array(h, s));
    head.insert(head.end(), h.begin(), h.end());
  }
  exe.Forward(true);
  exe.Backward(heads);
  for (size_t i = 0; i < names_list.size(); ++i) {
    const std::vector<double> analytic = grads.at(names_list[i]).ToVector<double>();
    auto forward = [&] {
      for (size_t j = 0; j < names_list.size(); ++j) {
        args.at(names_list[j]).CopyFromHost(values[j].data(), values[j].size());
      }
      exe.Forward(false);
      std::vector<double> y;
      for (const NDArray& o : exe.outputs()) {
        auto v = o.ToVector<double>();
        y.insert(y.end(), v.begin(), v.end());
      }
      return y;
    };
    test::ExpectGradientNear(names_list[i], forward, values[i], head, analytic, 1e-6, 1e-6, 1e-8);
  }
}

}  // namespace
}  // namespace loom
