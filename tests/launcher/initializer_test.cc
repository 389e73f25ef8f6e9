// Initializers: statistics of large draws against MXNet 1.9.1's formulas (uniform bounds and
// variance, normal sigma, Xavier and MSRAPrelu scales from the fans), the name-suffix dispatch,
// `__init__` attributes as MXNet writes them, determinism, and errors naming the variable.
#include "loom/train/initializer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

struct Stats {
  double mean = 0, var = 0, min = 0, max = 0;
};

Stats Measure(const NDArray& a) {
  const std::vector<float> v = a.ToVector<float>();
  Stats s;
  for (float x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (float x : v) s.var += (x - s.mean) * (x - s.mean);
  s.var /= static_cast<double>(v.size());
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

NDArray Init(const proto::Initializer& cfg, const std::string& name, const Shape& shape,
             const std::map<std::string, std::string>& attrs = {}, uint64_t seed = 1) {
  auto init = Initializer::Create(cfg);
  NDArray a = NDArray::Empty(shape);
  std::mt19937_64 rng(seed);
  (*init)(name, attrs, &a, &rng);
  return a;
}

proto::Initializer Type(const std::string& type) {
  proto::Initializer cfg;
  cfg.set_type(type);
  return cfg;
}

// Relative tolerance of a variance estimate from ~1e5 samples: a few percent.
constexpr double kVarTol = 0.03;

TEST(InitializerTest, UniformBoundsAndVariance) {
  proto::Initializer cfg = Type("uniform");
  cfg.set_scale(0.5f);
  const Stats s = Measure(Init(cfg, "fc_weight", {400, 300}));
  EXPECT_GE(s.min, -0.5);
  EXPECT_LE(s.max, 0.5);
  EXPECT_LT(s.min, -0.49);
  EXPECT_GT(s.max, 0.49);
  EXPECT_NEAR(s.mean, 0, 0.005);
  EXPECT_NEAR(s.var, 0.25 / 3, 0.25 / 3 * kVarTol);  // U(-a, a): a^2 / 3
}

TEST(InitializerTest, NormalSigma) {
  proto::Initializer cfg = Type("normal");
  cfg.set_sigma(0.2f);
  const Stats s = Measure(Init(cfg, "fc_weight", {400, 300}));
  EXPECT_NEAR(s.mean, 0, 0.002);
  EXPECT_NEAR(s.var, 0.04, 0.04 * kVarTol);
}

TEST(InitializerTest, XavierUniformAverageFan) {
  // MXNet's default Xavier(uniform, avg, 3): scale = sqrt(3 / ((fan_in + fan_out) / 2)).
  const Stats s = Measure(Init(Type("xavier"), "fc1_weight", {200, 500}));
  const double scale = std::sqrt(3.0 / ((500 + 200) / 2.0));
  EXPECT_GE(s.min, -scale);
  EXPECT_LE(s.max, scale);
  EXPECT_GT(s.max, 0.99 * scale);
  EXPECT_NEAR(s.var, scale * scale / 3, scale * scale / 3 * kVarTol);
}

TEST(InitializerTest, XavierGaussianFansOfAConvolution) {
  // Convolution weight (out, in, kh, kw): fan_in = in * kh * kw, fan_out = out * kh * kw.
  proto::Initializer cfg = Type("xavier");
  cfg.set_rnd_type("gaussian");
  cfg.set_magnitude(2);
  cfg.set_factor_type("in");
  const Stats in = Measure(Init(cfg, "conv1_weight", {64, 32, 7, 7}));
  EXPECT_NEAR(in.mean, 0, 0.002);
  EXPECT_NEAR(in.var, 2.0 / (32 * 49), 2.0 / (32 * 49) * kVarTol);
  cfg.set_factor_type("out");
  const Stats out = Measure(Init(cfg, "conv1_weight", {64, 32, 7, 7}));
  EXPECT_NEAR(out.var, 2.0 / (64 * 49), 2.0 / (64 * 49) * kVarTol);
}

TEST(InitializerTest, MsraIsXavierGaussianWithThePreluMagnitude) {
  // MSRAPrelu(avg, slope 0.25): magnitude 2 / (1 + 0.25^2), gaussian, factor (in + out) / 2.
  const Stats s = Measure(Init(Type("msra"), "conv_weight", {128, 64, 3, 3}));
  const double var = (2 / 1.0625) / ((64 * 9 + 128 * 9) / 2.0);
  EXPECT_NEAR(s.mean, 0, 0.002);
  EXPECT_NEAR(s.var, var, var * kVarTol);
  proto::Initializer he = Type("msra");
  he.set_slope(0);
  he.set_factor_type("in");
  const Stats h = Measure(Init(he, "conv_weight", {128, 64, 3, 3}));
  EXPECT_NEAR(h.var, 2.0 / (64 * 9), 2.0 / (64 * 9) * kVarTol);  // He et al.: 2 / fan_in
}

TEST(InitializerTest, ZeroOneConstant) {
  proto::Initializer cfg = Type("constant");
  cfg.set_value(0.75f);
  EXPECT_EQ(Init(cfg, "w_weight", {3}).ToVector<float>(),
            (std::vector<float>{0.75f, 0.75f, 0.75f}));
  EXPECT_EQ(Init(Type("zero"), "w_weight", {2}).ToVector<float>(), (std::vector<float>{0, 0}));
  EXPECT_EQ(Init(Type("one"), "w_weight", {2}).ToVector<float>(), (std::vector<float>{1, 1}));
}

TEST(InitializerTest, SuffixDispatch) {
  const proto::Initializer cfg = Type("normal");
  auto all = [](const NDArray& a, float value) {
    const auto v = a.ToVector<float>();
    return std::all_of(v.begin(), v.end(), [&](float x) { return x == value; });
  };
  EXPECT_TRUE(all(Init(cfg, "fc1_bias", {5}), 0));
  EXPECT_TRUE(all(Init(cfg, "bn0_beta", {5}), 0));
  EXPECT_TRUE(all(Init(cfg, "bn0_gamma", {5}), 1));
  EXPECT_TRUE(all(Init(cfg, "bn0_moving_mean", {5}), 0));
  EXPECT_TRUE(all(Init(cfg, "bn0_moving_var", {5}), 1));
  EXPECT_TRUE(all(Init(cfg, "q_min", {5}), 0));
  EXPECT_TRUE(all(Init(cfg, "q_max", {5}), 1));
  const Stats weight = Measure(Init(cfg, "fc1_weight", {100, 100}));
  EXPECT_GT(weight.var, 0);
  const Stats other = Measure(Init(cfg, "embedding_table", {100, 100}));
  EXPECT_GT(other.var, 0);
}

TEST(InitializerTest, LstmBiasSetsTheForgetGate) {
  // What loom::rnn::LSTMCell (as MXNet's) puts on its i2h bias: gates i, f, c, o of 2 each.
  EXPECT_EQ(Init(Type("xavier"), "lstm_i2h_bias", {8},
                 {{"__init__", R"(["lstmbias", {"forget_bias": 1.5}])"}})
                .ToVector<float>(),
            (std::vector<float>{0, 0, 1.5f, 1.5f, 0, 0, 0, 0}));
  EXPECT_EQ(Init(Type("xavier"), "lstm_i2h_bias", {4}, {{"__init__", R"(["LSTMBias", {}])"}})
                .ToVector<float>(),
            (std::vector<float>{0, 1, 0, 0}));
  try {
    Init(Type("xavier"), "b", {6}, {{"__init__", "lstmbias"}});
    ADD_FAILURE() << "a bias of 6 values is no LSTM bias";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("variable 'b': lstmbias initialises"), std::string::npos)
        << e.what();
  }
}

TEST(InitializerTest, InitAttributeWins) {
  const proto::Initializer cfg = Type("xavier");
  // What MXNet writes: prelu's gamma, BatchNorm's moving stats, Variable(init=...).
  EXPECT_EQ(Init(cfg, "prelu_gamma", {2}, {{"__init__", R"(["Constant", {"value": 0.25}])"}})
                .ToVector<float>(),
            (std::vector<float>{0.25f, 0.25f}));
  EXPECT_EQ(Init(cfg, "bn_moving_var", {2}, {{"__init__", R"(["one", {}])"}}).ToVector<float>(),
            (std::vector<float>{1, 1}));
  EXPECT_EQ(Init(cfg, "fc_weight", {2, 2}, {{"__init__", R"(["zero", {}])"}}).ToVector<float>(),
            (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(Init(cfg, "fc_weight", {2}, {{"__init__", "zeros"}}).ToVector<float>(),
            (std::vector<float>{0, 0}));
  EXPECT_EQ(Init(cfg, "fc_bias", {2}, {{"__init__", "\"ones\""}}).ToVector<float>(),
            (std::vector<float>{1, 1}));
  const Stats u =
      Measure(Init(cfg, "fc_bias", {100000}, {{"__init__", R"(["uniform", {"scale": 0.1}])"}}));
  EXPECT_GE(u.min, -0.1);
  EXPECT_LE(u.max, 0.1);
  EXPECT_NEAR(u.var, 0.01 / 3, 0.01 / 3 * kVarTol);
  const Stats n =
      Measure(Init(cfg, "fc_bias", {100000}, {{"__init__", R"(["normal", {"sigma": 0.3}])"}}));
  EXPECT_NEAR(n.var, 0.09, 0.09 * kVarTol);
  const Stats x = Measure(
      Init(cfg, "w", {100, 200, 3},
           {{"__init__",
             R"(["xavier", {"rnd_type": "gaussian", "factor_type": "in", "magnitude": 2}])"}}));
  EXPECT_NEAR(x.var, 2.0 / 600, 2.0 / 600 * kVarTol);
  const Stats m =
      Measure(Init(cfg, "w", {100, 200, 3}, {{"__init__", R"(["msraprelu", {"slope": 0.0}])"}}));
  EXPECT_NEAR(m.var, 2.0 / 450, 2.0 / 450 * kVarTol);
}

TEST(InitializerTest, DeterministicGivenTheRng) {
  const proto::Initializer cfg = Type("xavier");
  EXPECT_EQ(Init(cfg, "fc_weight", {30, 20}, {}, 5).ToVector<float>(),
            Init(cfg, "fc_weight", {30, 20}, {}, 5).ToVector<float>());
  EXPECT_NE(Init(cfg, "fc_weight", {30, 20}, {}, 5).ToVector<float>(),
            Init(cfg, "fc_weight", {30, 20}, {}, 6).ToVector<float>());
}

TEST(InitializerTest, Float64Arrays) {
  auto init = Initializer::Create(Type("uniform"));
  NDArray a = NDArray::Empty({1000}, Context::CPU(), DType::kFloat64);
  std::mt19937_64 rng(2);
  (*init)("fc_weight", {}, &a, &rng);
  const auto v = a.ToVector<double>();
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double x) { return std::abs(x) <= 0.07; }));
  EXPECT_GT(*std::max_element(v.begin(), v.end()), 0.06);
}

void ExpectConfigError(const std::string& name, const std::string& init,
                       const std::string& fragment, const Shape& shape = {4}) {
  try {
    Init(Type("xavier"), name, shape, {{"__init__", init}});
    FAIL() << "expected ConfigError for " << init;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(InitializerTest, BadInitAttributesNameTheVariable) {
  ExpectConfigError("lstm_parameters", R"(["fusedrnn", {}])", "unknown initializer 'fusedrnn'");
  ExpectConfigError("fc_weight", "orthogonal", "unknown initializer 'orthogonal'");
  ExpectConfigError("fc_weight", R"(["Constant", {"value": 0.25)", "does not parse");
  ExpectConfigError("fc_weight", R"(["Constant", {"scale": 1}])", "no argument 'scale'");
  ExpectConfigError("fc_weight", R"(["Constant", {}])", "value");
  ExpectConfigError("fc_weight", R"(["normal", {"sigma": "wide"}])", "sigma");
  ExpectConfigError("fc_weight", R"(["xavier", {"rnd_type": "cauchy"}])", "rnd_type");
}

TEST(InitializerTest, XavierOnAVectorNamesTheVariable) {
  try {
    Init(Type("xavier"), "odd_weight", {10});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("odd_weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(10)"), std::string::npos) << e.what();
  }
}

TEST(InitializerTest, UnknownTypeNamesTheKey) {
  try {
    Initializer::Create(Type("glorot"));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("trainer.initializer.type"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("glorot"), std::string::npos) << e.what();
  }
  proto::Initializer cfg = Type("xavier");
  cfg.set_factor_type("fan");
  EXPECT_THROW(Initializer::Create(cfg), ConfigError);
}

}  // namespace
}  // namespace loom::train
