// Consistency cases of the neural-network operators (consistency.h): dense and convolution
// layers, pooling, activations, normalisations, dropout, softmax and the loss heads, LRN,
// UpSampling, the fused RNN and the index operators. References come from
// operators/cpu/reference/ or are written out here from MXNet's definitions; loss heads give their
// gradient as grad_reference (it ignores the head gradient).
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "consistency.h"
#include "operators/cpu/reference/batch_norm.h"
#include "operators/cpu/reference/convolution.h"
#include "operators/cpu/reference/elementwise.h"
#include "operators/cpu/reference/fully_connected.h"
#include "operators/cpu/reference/misc.h"
#include "operators/cpu/reference/normalization.h"
#include "operators/cpu/reference/pick.h"
#include "operators/cpu/reference/pooling.h"
#include "operators/cpu/reference/rnn.h"
#include "operators/cpu/reference/softmax.h"

namespace loom::consistency {
namespace {

namespace ref = cpu::reference;
using NamedInputs = std::vector<std::pair<std::string, Symbol>>;

Symbol Var(const char* name) { return Symbol::Variable(name); }

// Operator `op` named "op" on named inputs; inputs not given become variables op_<input>.
Symbol Op(const std::string& op, const NamedInputs& inputs, const StrMap& params = {}) {
  OpCall call = Symbol::Op(op);
  for (const auto& [name, s] : inputs) call.Input(name, s);
  for (const auto& [k, v] : params) call.Param(k, v);
  return call.Name("op").Build();
}

const std::vector<double>& V(const HostArrays& in, const char* name) { return in.at(name).values; }
const double* P(const HostArrays& in, const char* name) { return in.at(name).values.data(); }

std::vector<int64_t> Dims(const char* text) {
  const Shape s = Shape::Parse(text);
  return std::vector<int64_t>(s.begin(), s.end());
}

// ---- FullyConnected, Convolution, Deconvolution ----

LOOM_CONSISTENCY_CASES(nn_dense) {
  struct Fc {
    const char* name;
    StrMap params;
    Shape data;
    cpu::FullyConnectedParams p;
  };
  for (const Fc& fc :
       {Fc{"FullyConnected_flatten_2x3x2_h4", {{"num_hidden", "4"}}, {2, 3, 2}, {.num_hidden = 4}},
        Fc{"FullyConnected_noflatten_nobias_2x2x3_h2",
           {{"num_hidden", "2"}, {"flatten", "False"}, {"no_bias", "True"}},
           {2, 2, 3},
           {.num_hidden = 2, .no_bias = true, .flatten = false}}}) {
    Case c;
    c.name = fc.name;
    c.symbol = [params = fc.params] { return Op("FullyConnected", {{"data", Var("x")}}, params); };
    c.shapes = {{"x", fc.data}};
    c.reference = [fc](const HostArrays& in) {
      int64_t rows, k;
      ref::FullyConnectedDims(fc.p, fc.data, &rows, &k);
      std::vector<double> y(rows * fc.p.num_hidden);
      ref::FullyConnectedForward(fc.p, fc.data, P(in, "x"), P(in, "op_weight"),
                                 fc.p.no_bias ? nullptr : P(in, "op_bias"), y.data());
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }

  struct Conv {
    const char* name;
    const char* op;
    StrMap params;
    Shape data, out;
    cpu::ConvolutionParams p;  // with MXNet's effective padding for Deconvolution
  };
  const Conv convs[] = {
      {"Convolution_2d_k3_s2_p1_g2",
       "Convolution",
       {{"kernel", "(3,3)"},
        {"stride", "(2,2)"},
        {"pad", "(1,1)"},
        {"num_filter", "4"},
        {"num_group", "2"}},
       {2, 4, 5, 5},
       {2, 4, 3, 3},
       {.kernel = Dims("(3,3)"),
        .stride = Dims("(2,2)"),
        .dilate = Dims("(1,1)"),
        .pad = Dims("(1,1)"),
        .num_filter = 4,
        .num_group = 2}},
      {"Convolution_1d_dilate2",
       "Convolution",
       {{"kernel", "(3,)"}, {"dilate", "(2,)"}, {"num_filter", "3"}},
       {1, 2, 8},
       {1, 3, 4},
       {.kernel = Dims("(3,)"),
        .stride = Dims("(1,)"),
        .dilate = Dims("(2,)"),
        .pad = Dims("(0,)"),
        .num_filter = 3}},
      {"Convolution_3d_nobias",
       "Convolution",
       {{"kernel", "(2,2,2)"}, {"pad", "(1,0,0)"}, {"num_filter", "2"}, {"no_bias", "True"}},
       {1, 2, 3, 3, 2},
       {1, 2, 4, 2, 1},
       {.kernel = Dims("(2,2,2)"),
        .stride = Dims("(1,1,1)"),
        .dilate = Dims("(1,1,1)"),
        .pad = Dims("(1,0,0)"),
        .num_filter = 2,
        .no_bias = true}},
      {"Deconvolution_2d_s2_p1_adj1_bias",
       "Deconvolution",
       {{"kernel", "(3,3)"},
        {"stride", "(2,2)"},
        {"pad", "(1,1)"},
        {"adj", "(1,1)"},
        {"num_filter", "3"},
        {"no_bias", "False"}},
       {1, 2, 3, 3},
       {1, 3, 6, 6},
       {.kernel = Dims("(3,3)"),
        .stride = Dims("(2,2)"),
        .dilate = Dims("(1,1)"),
        .pad = Dims("(1,1)"),
        .num_filter = 3}},
      // target_shape (6,7) from input (3,4): pad (8-6+1)/2 = 1 and (10-7+1)/2 = 2, adj 0 and 1.
      {"Deconvolution_target_shape_g2",
       "Deconvolution",
       {{"kernel", "(4,4)"},
        {"stride", "(2,2)"},
        {"target_shape", "(6,7)"},
        {"num_filter", "2"},
        {"num_group", "2"}},
       {1, 2, 3, 4},
       {1, 2, 6, 7},
       {.kernel = Dims("(4,4)"),
        .stride = Dims("(2,2)"),
        .dilate = Dims("(1,1)"),
        .pad = Dims("(1,2)"),
        .num_filter = 2,
        .num_group = 2,
        .no_bias = true}}};
  for (const Conv& cv : convs) {
    Case c;
    c.name = cv.name;
    c.symbol = [cv] { return Op(cv.op, {{"data", Var("x")}}, cv.params); };
    c.shapes = {{"x", cv.data}};
    c.reference = [cv](const HostArrays& in) {
      std::vector<double> y(cv.out.Size());
      const double* bias = cv.p.no_bias ? nullptr : P(in, "op_bias");
      if (std::string(cv.op) == "Convolution") {
        ref::ConvolutionForward(cv.p, cv.data, cv.out, P(in, "x"), P(in, "op_weight"), bias,
                                y.data());
      } else {
        ref::DeconvolutionForward(cv.p, cv.data, cv.out, P(in, "x"), P(in, "op_weight"), bias,
                                  y.data());
      }
      return Outputs{y};
    };
    c.fwd32 = {1e-4, 1e-5};
    cases.Add(std::move(c));
  }
}

// ---- Pooling, UpSampling ----

LOOM_CONSISTENCY_CASES(nn_pooling) {
  using cpu::PoolType;
  struct Pool {
    const char* name;
    StrMap params;
    Shape data, out;
    cpu::PoolingParams p;
  };
  const Pool pools[] = {
      {"Pooling_max_k2_s2",
       {{"kernel", "(2,2)"}, {"stride", "(2,2)"}},
       {2, 2, 4, 5},
       {2, 2, 2, 2},
       {.type = PoolType::kMax, .kernel = {2, 2}, .stride = {2, 2}, .pad = {0, 0}}},
      {"Pooling_avg_k3_s2_p1",
       {{"kernel", "(3,3)"}, {"stride", "(2,2)"}, {"pad", "(1,1)"}, {"pool_type", "avg"}},
       {1, 2, 5, 5},
       {1, 2, 3, 3},
       {.type = PoolType::kAvg, .kernel = {3, 3}, .stride = {2, 2}, .pad = {1, 1}}},
      {"Pooling_avg_exclude_pad",
       {{"kernel", "(3,3)"},
        {"pad", "(1,1)"},
        {"pool_type", "avg"},
        {"count_include_pad", "False"}},
       {1, 1, 4, 4},
       {1, 1, 4, 4},
       {.type = PoolType::kAvg,
        .kernel = {3, 3},
        .stride = {1, 1},
        .pad = {1, 1},
        .count_include_pad = false}},
      {"Pooling_sum_1d_full",
       {{"kernel", "(2,)"},
        {"stride", "(2,)"},
        {"pool_type", "sum"},
        {"pooling_convention", "full"}},
       {2, 3, 5},
       {2, 3, 3},
       {.type = PoolType::kSum, .kernel = {2}, .stride = {2}, .pad = {0}}},
      {"Pooling_global_avg",
       {{"global_pool", "True"}, {"pool_type", "avg"}},
       {2, 3, 3, 2},
       {2, 3, 1, 1},
       {.type = PoolType::kAvg, .kernel = {}, .stride = {}, .pad = {}, .global_pool = true}},
      {"Pooling_max_3d",
       {{"kernel", "(2,2,2)"}},
       {1, 2, 3, 3, 3},
       {1, 2, 2, 2, 2},
       {.type = PoolType::kMax, .kernel = {2, 2, 2}, .stride = {1, 1, 1}, .pad = {0, 0, 0}}}};
  for (const Pool& pl : pools) {
    Case c;
    c.name = pl.name;
    c.symbol = [params = pl.params] { return Op("Pooling", {{"data", Var("x")}}, params); };
    c.shapes = {{"x", pl.data}};
    c.reference = [pl](const HostArrays& in) {
      std::vector<double> y(pl.out.Size());
      ref::PoolingForward(pl.p, pl.data, pl.out, P(in, "x"), y.data());
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }

  // UpSampling nearest: input i repeated over (out / in) blocks, concatenated along the channels
  // or summed.
  auto nearest = [](const std::vector<std::pair<Shape, std::vector<double>>>& ins, const Shape& out,
                    bool sum) {
    std::vector<double> y(out.Size(), 0.0);
    int64_t offset = 0;
    for (const auto& [s, x] : ins) {
      const int64_t sh = out[2] / s[2], sw = out[3] / s[3];
      for (int64_t n = 0; n < s[0]; ++n)
        for (int64_t ch = 0; ch < s[1]; ++ch)
          for (int64_t r = 0; r < out[2]; ++r)
            for (int64_t col = 0; col < out[3]; ++col) {
              const double v = x[((n * s[1] + ch) * s[2] + r / sh) * s[3] + col / sw];
              y[((n * out[1] + offset + ch) * out[2] + r) * out[3] + col] += v;
            }
      if (!sum) offset += s[1];
    }
    return y;
  };
  {
    Case c;
    c.name = "UpSampling_nearest_scale3";
    c.symbol = [] {
      // A variadic operator: its input is the automatic variable op_arg0.
      return Op("UpSampling", {}, {{"scale", "3"}, {"sample_type", "nearest"}, {"num_args", "1"}});
    };
    c.shapes = {{"op_arg0", {1, 2, 2, 3}}};
    c.reference = [nearest](const HostArrays& in) {
      return Outputs{nearest({{in.at("op_arg0").shape, V(in, "op_arg0")}}, {1, 2, 6, 9}, false)};
    };
    cases.Add(std::move(c));
  }
  for (const char* mode : {"concat", "sum"}) {
    Case c;
    c.name = std::string("UpSampling_nearest_two_inputs_") + mode;
    c.symbol = [mode] {
      OpCall call = Symbol::Op("UpSampling");
      call.Input(Var("a")).Input(Var("b"));
      call.Param("scale", "2").Param("sample_type", "nearest").Param("num_args", "2");
      return call.Param("multi_input_mode", mode).Name("op").Build();
    };
    c.shapes = {{"a", {1, 2, 2, 2}}, {"b", {1, 2, 4, 4}}};
    const bool sum = std::string(mode) == "sum";
    c.reference = [nearest, sum](const HostArrays& in) {
      return Outputs{nearest({{in.at("a").shape, V(in, "a")}, {in.at("b").shape, V(in, "b")}},
                             {1, sum ? 2 : 4, 4, 4}, sum)};
    };
    cases.Add(std::move(c));
  }
  {
    // bilinear: a depthwise deconvolution, kernel 2s - s%2 = 4, stride 2, pad 1.
    Case c;
    c.name = "UpSampling_bilinear_scale2";
    c.symbol = [] {
      return Op(
          "UpSampling", {},
          {{"scale", "2"}, {"sample_type", "bilinear"}, {"num_filter", "2"}, {"num_args", "2"}});
    };
    c.shapes = {{"op_data", {1, 2, 3, 3}}};
    c.reference = [](const HostArrays& in) {
      const cpu::ConvolutionParams p{.kernel = {4, 4},
                                     .stride = {2, 2},
                                     .dilate = {1, 1},
                                     .pad = {1, 1},
                                     .num_filter = 2,
                                     .num_group = 2,
                                     .no_bias = true};
      std::vector<double> y(2 * 6 * 6);
      ref::DeconvolutionForward(p, {1, 2, 3, 3}, {1, 2, 6, 6}, P(in, "op_data"), P(in, "op_weight"),
                                nullptr, y.data());
      return Outputs{y};
    };
    c.fwd32 = {1e-4, 1e-5};
    cases.Add(std::move(c));
  }
}

// ---- Activation, LeakyReLU, softmax family ----

LOOM_CONSISTENCY_CASES(nn_activation) {
  const std::pair<const char*, cpu::UnaryOp> acts[] = {{"relu", cpu::UnaryOp::kRelu},
                                                       {"sigmoid", cpu::UnaryOp::kSigmoid},
                                                       {"tanh", cpu::UnaryOp::kTanh},
                                                       {"softrelu", cpu::UnaryOp::kSoftrelu},
                                                       {"softsign", cpu::UnaryOp::kSoftsign}};
  for (const auto& [name, op] : acts) {
    Case c;
    c.name = std::string("Activation_") + name;
    c.symbol = [name] { return Op("Activation", {{"data", Var("x")}}, {{"act_type", name}}); };
    c.shapes = {{"x", {3, 4}}};
    c.inputs = {{"x", InputSpec{.lo = -2, .hi = 2, .min_abs = 0.05}}};
    c.reference = [op](const HostArrays& in) {
      std::vector<double> y = V(in, "x");
      for (double& v : y) v = ref::Unary(op, v);
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }

  using cpu::LeakyType;
  const std::pair<const char*, LeakyType> leaky[] = {{"leaky", LeakyType::kLeaky},
                                                     {"elu", LeakyType::kElu},
                                                     {"selu", LeakyType::kSelu},
                                                     {"gelu", LeakyType::kGelu},
                                                     {"prelu", LeakyType::kPrelu}};
  for (const auto& [name, type] : leaky) {
    Case c;
    c.name = std::string("LeakyReLU_") + name;
    c.symbol = [name] {
      return Op("LeakyReLU", {{"data", Var("x")}}, {{"act_type", name}, {"slope", "0.3"}});
    };
    c.shapes = {{"x", {2, 3, 2}}};
    c.inputs = {{"x", InputSpec{.lo = -2, .hi = 2, .min_abs = 0.05}}};
    const bool prelu = type == LeakyType::kPrelu;
    c.reference = [type, prelu](const HostArrays& in) {
      const cpu::LeakyReLUParams p{.type = type, .slope = 0.3f};
      std::vector<double> y = V(in, "x");
      for (size_t i = 0; i < y.size(); ++i) {
        y[i] = ref::LeakyReLU(p, y[i], prelu ? V(in, "op_gamma")[(i / 2) % 3] : 0.0);
      }
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
  {
    // rrelu draws its slopes (output 'mask') from the executor's generator while training.
    Case c;
    c.name = "LeakyReLU_rrelu_training";
    c.symbol = [] { return Op("LeakyReLU", {{"data", Var("x")}}, {{"act_type", "rrelu"}}); };
    c.shapes = {{"x", {4, 5}}};
    c.inputs = {{"x", InputSpec{.min_abs = 0.05}}};
    c.no_reference = "random slopes; the float32 and float64 runs draw the same ones";
    cases.Add(std::move(c));
  }
  {
    Case c;
    c.name = "LeakyReLU_rrelu_inference";
    c.symbol = [] { return Op("LeakyReLU", {{"data", Var("x")}}, {{"act_type", "rrelu"}}); };
    c.shapes = {{"x", {4, 5}}};
    c.inputs = {{"x", InputSpec{.min_abs = 0.05}}};
    c.is_train = false;
    c.check_grad = false;
    c.reference = [](const HostArrays& in) {
      const cpu::LeakyReLUParams p{
          .type = LeakyType::kRrelu, .lower_bound = 0.125f, .upper_bound = 0.334f};
      std::vector<double> y = V(in, "x");
      for (double& v : y) v = ref::LeakyReLU(p, v, 0);
      // The mask holds the slope used: the bounds' mean.
      return Outputs{y, std::vector<double>(y.size(), (0.125f + 0.334f) / 2.0)};
    };
    cases.Add(std::move(c));
  }

  for (const char* op : {"softmax", "log_softmax"}) {
    for (int axis : {0, -1}) {
      for (const char* t : {"1", "0.5"}) {
        Case c;
        c.name = std::string(op) + "_axis" + (axis < 0 ? "m1" : "0") + "_t" +
                 (std::string(t) == "1" ? "1" : "05");
        c.symbol = [op, axis, t] {
          return Op(op, {{"data", Var("x")}}, {{"axis", std::to_string(axis)}, {"temperature", t}});
        };
        c.shapes = {{"x", {3, 4}}};
        c.inputs = {{"x", InputSpec{.lo = -3, .hi = 3}}};
        const bool log = std::string(op) == "log_softmax";
        const double temperature = std::stod(t);
        c.reference = [log, axis, temperature](const HostArrays& in) {
          std::vector<double> y(12);
          ref::Softmax({3, 4}, axis < 0 ? 1 : 0, temperature, log, P(in, "x"), y.data());
          return Outputs{y};
        };
        cases.Add(std::move(c));
      }
    }
  }
  {
    // use_length: softmax over the first length[pos] elements along axis 0, zeros beyond.
    Case c;
    c.name = "softmax_use_length_axis0";
    c.symbol = [] {
      return Op("softmax", {{"data", Var("x")}, {"length", Var("len")}},
                {{"axis", "0"}, {"use_length", "True"}, {"temperature", "2"}});
    };
    c.shapes = {{"x", {4, 3}}};
    c.inputs = {{"len", InputSpec{.lo = 0, .hi = 4, .integer = true}}};
    c.reference = [](const HostArrays& in) {
      std::vector<double> y(12, 0.0);
      for (int col = 0; col < 3; ++col) {
        const int len = static_cast<int>(V(in, "len")[col]);
        double sum = 0;
        for (int j = 0; j < len; ++j) sum += std::exp(V(in, "x")[j * 3 + col] / 2);
        for (int j = 0; j < len; ++j) y[j * 3 + col] = std::exp(V(in, "x")[j * 3 + col] / 2) / sum;
      }
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
  for (const char* mode : {"instance", "channel"}) {
    Case c;
    c.name = std::string("SoftmaxActivation_") + mode;
    c.symbol = [mode] { return Op("SoftmaxActivation", {{"data", Var("x")}}, {{"mode", mode}}); };
    c.shapes = {{"x", {2, 3, 2}}};
    const bool instance = std::string(mode) == "instance";
    c.reference = [instance](const HostArrays& in) {
      std::vector<double> y(12);
      ref::Softmax(instance ? Shape{2, 6} : Shape{2, 3, 2}, 1, 1.0, false, P(in, "x"), y.data());
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
}

// ---- BatchNorm, Dropout, LRN, L2Normalization, InstanceNorm ----

LOOM_CONSISTENCY_CASES(nn_norm) {
  struct Bn {
    const char* name;
    StrMap params;
    cpu::BatchNormParams p;
    bool is_train;
  };
  const Bn bns[] = {{"BatchNorm_train", {{"fix_gamma", "False"}}, {.fix_gamma = false}, true},
                    {"BatchNorm_train_fix_gamma", {}, {.fix_gamma = true}, true},
                    {"BatchNorm_train_axis_last",
                     {{"fix_gamma", "False"}, {"axis", "-1"}},
                     {.fix_gamma = false, .axis = -1},
                     true},
                    {"BatchNorm_use_global_stats",
                     {{"fix_gamma", "False"}, {"use_global_stats", "True"}},
                     {.fix_gamma = false, .use_global_stats = true},
                     true},
                    {"BatchNorm_inference", {{"fix_gamma", "False"}}, {.fix_gamma = false}, false}};
  for (const Bn& bn : bns) {
    Case c;
    c.name = bn.name;
    c.symbol = [params = bn.params] { return Op("BatchNorm", {{"data", Var("x")}}, params); };
    c.shapes = {{"x", {3, 2, 4}}};
    c.inputs = {{"op_moving_var", InputSpec{.lo = 0.5, .hi = 1.5}}};
    c.is_train = bn.is_train;
    c.check_grad = bn.is_train;  // the gradient follows a training forward pass
    c.reference = [bn](const HostArrays& in) {
      std::vector<double> mm = V(in, "op_moving_mean"), mv = V(in, "op_moving_var");
      std::vector<double> y(24), mean(mm.size()), var(mm.size());
      ref::BatchNormForward(bn.p, bn.is_train, {3, 2, 4}, P(in, "x"), P(in, "op_gamma"),
                            P(in, "op_beta"), mm.data(), mv.data(), y.data(), mean.data(),
                            var.data());
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
  {
    Case c;
    c.name = "Dropout_p05_training";
    c.symbol = [] { return Op("Dropout", {{"data", Var("x")}}, {{"p", "0.5"}}); };
    c.shapes = {{"x", {4, 5}}};
    c.no_reference = "random mask; the float32 and float64 runs draw the same one";
    cases.Add(std::move(c));
  }
  {
    Case c;
    c.name = "Dropout_axes_always";
    c.symbol = [] {
      return Op("Dropout", {{"data", Var("x")}},
                {{"p", "0.3"}, {"axes", "(0,)"}, {"mode", "always"}});
    };
    c.shapes = {{"x", {4, 5}}};
    c.no_reference = "random mask; the float32 and float64 runs draw the same one";
    cases.Add(std::move(c));
  }
  {
    Case c;
    c.name = "Dropout_inference_identity";
    c.symbol = [] { return Op("Dropout", {{"data", Var("x")}}, {{"p", "0.5"}}); };
    c.shapes = {{"x", {4, 5}}};
    c.is_train = false;
    c.check_grad = false;
    c.reference = [](const HostArrays& in) { return Outputs{V(in, "x")}; };
    cases.Add(std::move(c));
  }
  {
    Case c;
    c.name = "LRN_nsize3";
    c.symbol = [] {
      return Op("LRN", {{"data", Var("x")}},
                {{"nsize", "3"}, {"alpha", "0.5"}, {"beta", "0.75"}, {"knorm", "1"}});
    };
    c.shapes = {{"x", {2, 4, 2, 2}}};
    c.reference = [](const HostArrays& in) {
      const cpu::LRNParams p{.alpha = 0.5, .beta = 0.75, .knorm = 1, .nsize = 3};
      return Outputs{ref::Lrn(p, V(in, "x"), {2, 4, 2, 2})};
    };
    cases.Add(std::move(c));
  }
  const std::pair<const char*, cpu::L2NormMode> modes[] = {{"instance", cpu::L2NormMode::kInstance},
                                                           {"channel", cpu::L2NormMode::kChannel},
                                                           {"spatial", cpu::L2NormMode::kSpatial}};
  for (const auto& [name, mode] : modes) {
    Case c;
    c.name = std::string("L2Normalization_") + name;
    c.symbol = [name] {
      return Op("L2Normalization", {{"data", Var("x")}}, {{"mode", name}, {"eps", "0.001"}});
    };
    c.shapes = {{"x", {2, 3, 2, 2}}};
    c.reference = [mode](const HostArrays& in) {
      std::vector<double> y, norm;
      ref::L2Normalization(mode, 0.001f, {2, 3, 2, 2}, V(in, "x"), &y, &norm);
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
  {
    // float32 only (MXNet's type rule): gradients in float32 with a coarse step.
    Case c;
    c.name = "InstanceNorm_2x3x4";
    c.symbol = [] { return Op("InstanceNorm", {{"data", Var("x")}}, {{"eps", "0.01"}}); };
    c.shapes = {{"x", {2, 3, 4}}};
    c.dtypes = {DType::kFloat32};
    c.grad_dtype = DType::kFloat32;
    c.fd_eps = 1e-2;
    c.grad = {2e-2, 2e-3};
    c.reference = [](const HostArrays& in) {
      std::vector<double> y, mean, var;
      ref::InstanceNorm(0.01f, {2, 3, 4}, V(in, "x"), V(in, "op_gamma"), V(in, "op_beta"), &y,
                        &mean, &var);
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
}

// ---- loss heads ----

// (outer, K, inner) of SoftmaxOutput's softmax for data of `shape`.
struct Split {
  int64_t outer, k, inner;
};

LOOM_CONSISTENCY_CASES(nn_loss) {
  struct Sm {
    const char* name;
    StrMap params;
    Shape data;
    Split split;
    cpu::SoftmaxOutputParams p;
  };
  using cpu::SoftmaxNormalization;
  const Sm sms[] = {
      {"SoftmaxOutput_null", {}, {4, 3}, {4, 3, 1}, {}},
      {"SoftmaxOutput_batch_scale2",
       {{"normalization", "batch"}, {"grad_scale", "2"}},
       {4, 3},
       {4, 3, 1},
       {.grad_scale = 2, .normalization = SoftmaxNormalization::kBatch}},
      {"SoftmaxOutput_valid_ignore1",
       {{"normalization", "valid"}, {"use_ignore", "True"}, {"ignore_label", "1"}},
       {5, 3},
       {5, 3, 1},
       {.ignore_label = 1, .use_ignore = true, .normalization = SoftmaxNormalization::kValid}},
      {"SoftmaxOutput_multi_output",
       {{"multi_output", "True"}, {"normalization", "valid"}},
       {2, 3, 2, 2},
       {2, 3, 4},
       {.multi_output = true, .normalization = SoftmaxNormalization::kValid}},
      {"SoftmaxOutput_smooth_alpha",
       {{"smooth_alpha", "0.2"}},
       {3, 4},
       {3, 4, 1},
       {.smooth_alpha = 0.2f}}};
  for (const Sm& sm : sms) {
    Case c;
    c.name = sm.name;
    c.symbol = [params = sm.params] {
      return Op("SoftmaxOutput", {{"data", Var("x")}, {"label", Var("label")}}, params);
    };
    c.shapes = {{"x", sm.data}};
    c.inputs = {
        {"label", InputSpec{.lo = 0, .hi = static_cast<double>(sm.split.k - 1), .integer = true}},
        {"x", InputSpec{.lo = -2, .hi = 2}}};
    auto probs = [sm](const HostArrays& in) {
      const Split s = sm.split;
      std::vector<double> y(V(in, "x").size());
      ref::Softmax({s.outer, s.k, s.inner}, 1, 1.0, false, P(in, "x"), y.data());
      return y;
    };
    c.reference = [probs](const HostArrays& in) { return Outputs{probs(in)}; };
    c.grad_reference = [sm, probs](const HostArrays& in, const Outputs& heads) {
      const Split s = sm.split;
      return HostArrays{{"x",
                         {sm.data, ref::SoftmaxOutputGrad(sm.p, s.outer, s.k, s.inner, sm.data[0],
                                                          probs(in), V(in, "label"), heads[0])}}};
    };
    cases.Add(std::move(c));
  }

  // Regression heads: gradient (out - label) or sign(out - label), times grad_scale over
  // label.size / N.
  struct Reg {
    const char* op;
    Shape data, label;
  };
  for (const Reg& r :
       {Reg{"LinearRegressionOutput", {3, 1}, {3}}, Reg{"LogisticRegressionOutput", {2, 3}, {2, 3}},
        Reg{"MAERegressionOutput", {2, 3}, {2, 3}}}) {
    Case c;
    c.name = std::string(r.op) + "_" + ShapeName(r.data);
    c.symbol = [op = r.op] {
      return Op(op, {{"data", Var("x")}, {"label", Var("label")}}, {{"grad_scale", "1.5"}});
    };
    c.shapes = {{"x", r.data}, {"label", r.label}};
    c.inputs = {{"label", InputSpec{.differentiable = false}}};
    const bool logistic = std::string(r.op) == "LogisticRegressionOutput";
    const bool mae = std::string(r.op) == "MAERegressionOutput";
    auto out = [logistic](const HostArrays& in) {
      std::vector<double> y = V(in, "x");
      if (logistic) {
        for (double& v : y) v = 1 / (1 + std::exp(-v));
      }
      return y;
    };
    // MAE's sign has a kink where the output meets the label.
    c.adjust = [](HostArrays& in, std::mt19937_64&) {
      auto& x = in.at("x").values;
      const auto& l = in.at("label").values;
      for (size_t i = 0; i < x.size(); ++i) {
        if (std::abs(x[i] - l[i]) < 0.05) x[i] = l[i] + 0.05;
      }
    };
    c.reference = [out](const HostArrays& in) { return Outputs{out(in)}; };
    c.grad_reference = [r, out, mae](const HostArrays& in, const Outputs&) {
      std::vector<double> y = out(in);
      const std::vector<double>& l = V(in, "label");
      const double scale = 1.5 / (static_cast<double>(r.label.Size()) / r.data[0]);
      for (size_t i = 0; i < y.size(); ++i) {
        const double d = y[i] - l[i];
        y[i] = (mae ? (d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0)) : d) * scale;
      }
      return HostArrays{{"x", {r.data, y}}};
    };
    cases.Add(std::move(c));
  }

  struct Loss {
    const char* name;
    const char* op;
    StrMap params;
    // gradient per element from the outputs
    std::function<double(const std::vector<double>&)> grad;
  };
  const Loss losses[] = {
      {"MakeLoss_scale2",
       "MakeLoss",
       {{"grad_scale", "2"}},
       [](const std::vector<double>&) { return 2.0; }},
      {"MakeLoss_batch",
       "MakeLoss",
       {{"normalization", "batch"}},
       [](const std::vector<double>&) { return 1.0 / 2; }},
      {"MakeLoss_valid",
       "MakeLoss",
       {{"normalization", "valid"}, {"valid_thresh", "0.25"}},
       [](const std::vector<double>& y) {
         double valid = 0;
         for (double v : y) valid += v > 0.25f ? 1 : 0;
         return 1.0 / std::max(valid, 1.0);
       }},
      {"make_loss", "make_loss", {}, [](const std::vector<double>&) { return 1.0; }}};
  for (const Loss& l : losses) {
    Case c;
    c.name = l.name;
    c.symbol = [l] { return Op(l.op, {{"data", Var("x")}}, l.params); };
    c.shapes = {{"x", {2, 3}}};
    c.reference = [](const HostArrays& in) { return Outputs{V(in, "x")}; };
    c.grad_reference = [l](const HostArrays& in, const Outputs&) {
      return HostArrays{{"x", {Shape{2, 3}, std::vector<double>(6, l.grad(V(in, "x")))}}};
    };
    cases.Add(std::move(c));
  }
}

// ---- RNN ----

LOOM_CONSISTENCY_CASES(nn_rnn) {
  struct Rnn {
    const char* name;
    cpu::RnnMode mode;
    const char* mode_name;
    int64_t layers;
    bool bidirectional, state_outputs;
  };
  using cpu::RnnMode;
  const Rnn rnns[] = {{"RNN_lstm", RnnMode::kLstm, "lstm", 1, false, true},
                      {"RNN_lstm_2layers_bidirectional", RnnMode::kLstm, "lstm", 2, true, false},
                      {"RNN_gru_2layers_states", RnnMode::kGru, "gru", 2, false, true},
                      {"RNN_rnn_tanh_bidirectional", RnnMode::kRnnTanh, "rnn_tanh", 1, true, true},
                      {"RNN_rnn_relu", RnnMode::kRnnRelu, "rnn_relu", 2, false, false}};
  const int64_t T = 3, N = 2, I = 3, H = 2;
  for (const Rnn& r : rnns) {
    Case c;
    c.name = r.name;
    c.symbol = [r] {
      return Op("RNN", {{"data", Var("x")}},
                {{"mode", r.mode_name},
                 {"state_size", std::to_string(H)},
                 {"num_layers", std::to_string(r.layers)},
                 {"bidirectional", r.bidirectional ? "True" : "False"},
                 {"state_outputs", r.state_outputs ? "True" : "False"}});
    };
    c.shapes = {{"x", {T, N, I}}};
    c.inputs = {{"op_parameters", InputSpec{.lo = -0.7, .hi = 0.7}}};
    c.reference = [r](const HostArrays& in) {
      const cpu::RnnParams p{.mode = r.mode,
                             .state_size = H,
                             .num_layers = r.layers,
                             .bidirectional = r.bidirectional};
      const int64_t D = r.bidirectional ? 2 : 1;
      const bool lstm = r.mode == RnnMode::kLstm;
      std::vector<double> y(T * N * D * H), hy(r.layers * D * N * H), cy(hy.size());
      ref::RnnForward(p, T, N, I, P(in, "x"), P(in, "op_parameters"), P(in, "op_state"),
                      lstm ? P(in, "op_state_cell") : nullptr, y.data(), hy.data(),
                      lstm ? cy.data() : nullptr);
      Outputs out{y};
      if (r.state_outputs) {
        out.push_back(hy);
        if (lstm) out.push_back(cy);
      }
      return out;
    };
    c.fwd32 = {1e-5, 1e-5};
    cases.Add(std::move(c));
  }
}

// Dropout between layers: the training forward pass keeps its activations (and masks) in the
// hidden reserve output, which the gradient reads.
LOOM_CONSISTENCY_CASES(nn_rnn_dropout) {
  Case c;
  c.name = "RNN_gru_2layers_dropout";
  c.symbol = [] {
    return Op("RNN", {{"data", Var("x")}},
              {{"mode", "gru"}, {"state_size", "2"}, {"num_layers", "2"}, {"p", "0.4"}});
  };
  c.shapes = {{"x", {3, 2, 3}}};
  c.inputs = {{"op_parameters", InputSpec{.lo = -0.7, .hi = 0.7}}};
  c.no_reference = "random dropout masks between the layers";
  cases.Add(std::move(c));
}

// ---- Embedding, one_hot, pick, batch_take ----

LOOM_CONSISTENCY_CASES(nn_indexing) {
  {
    Case c;
    c.name = "Embedding_2x3_dim4x3";
    c.symbol = [] {
      return Op("Embedding", {{"data", Var("idx")}}, {{"input_dim", "4"}, {"output_dim", "3"}});
    };
    c.shapes = {{"idx", {2, 3}}};
    c.inputs = {{"idx", InputSpec{.lo = 0, .hi = 3, .integer = true}}};
    c.reference = [](const HostArrays& in) {
      std::vector<double> y;
      for (double i : V(in, "idx")) {
        for (int k = 0; k < 3; ++k) y.push_back(V(in, "op_weight")[static_cast<int>(i) * 3 + k]);
      }
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
  {
    Case c;
    c.name = "one_hot_depth4";
    c.symbol = [] {
      return Op("one_hot", {{"indices", Var("idx")}},
                {{"depth", "4"}, {"on_value", "2"}, {"off_value", "-1"}});
    };
    c.shapes = {{"idx", {2, 3}}};
    c.inputs = {{"idx", InputSpec{.lo = 0, .hi = 3, .integer = true}}};
    c.check_grad = false;
    c.reference = [](const HostArrays& in) {
      std::vector<double> y;
      for (double i : V(in, "idx")) {
        for (int k = 0; k < 4; ++k) y.push_back(k == static_cast<int>(i) ? 2 : -1);
      }
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
  for (const char* mode : {"clip", "wrap"}) {
    for (int axis : {0, -1}) {
      Case c;
      c.name = std::string("pick_") + mode + (axis < 0 ? "_axism1" : "_axis0");
      c.symbol = [mode, axis] {
        return Op("pick", {{"data", Var("x")}, {"index", Var("idx")}},
                  {{"axis", std::to_string(axis)}, {"mode", mode}, {"keepdims", "True"}});
      };
      c.shapes = {{"x", {3, 4}}};
      c.inputs = {{"idx", InputSpec{.lo = -2, .hi = 5, .integer = true}}};
      const cpu::PickMode m =
          std::string(mode) == "wrap" ? cpu::PickMode::kWrap : cpu::PickMode::kClip;
      c.reference = [m, axis](const HostArrays& in) {
        return Outputs{ref::Pick({3, 4}, V(in, "x"), V(in, "idx"), axis, m)};
      };
      cases.Add(std::move(c));
    }
  }
  {
    Case c;
    c.name = "batch_take_4x3";
    c.symbol = [] { return Op("batch_take", {{"a", Var("a")}, {"indices", Var("idx")}}); };
    c.shapes = {{"a", {4, 3}}, {"idx", {4}}};
    c.inputs = {{"idx", InputSpec{.lo = -1, .hi = 3, .integer = true}}};
    c.check_grad = false;
    c.reference = [](const HostArrays& in) {
      std::vector<double> y;
      for (int i = 0; i < 4; ++i) {
        const int j = std::clamp(static_cast<int>(V(in, "idx")[i]), 0, 2);
        y.push_back(V(in, "a")[i * 3 + j]);
      }
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }
}

}  // namespace
}  // namespace loom::consistency
