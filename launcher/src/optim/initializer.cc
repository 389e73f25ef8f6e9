// Initializer: MXNet 1.9.1's Uniform, Normal, Xavier, MSRAPrelu, Zero, One and Constant
// (python/mxnet/initializer.py), the `__init__` attribute and the name-suffix dispatch.
#include "loom/train/initializer.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include "loom/scheduler/error.h"
#include "optim/optim_util.h"

namespace loom::train {
namespace {

using detail::DecimalDouble;

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool EndsWith(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One initializer with its arguments, as the configuration or an `__init__` attribute names it.
struct InitRule {
  enum class Kind { kConstant, kUniform, kNormal, kXavier, kLstmBias };
  Kind kind = Kind::kConstant;
  double value = 0;                 // constant; lstmbias: the forget gate's bias
  double scale = 0.07;              // uniform: U(-scale, scale)
  double sigma = 0.01;              // normal: N(0, sigma^2)
  bool gaussian = false;            // xavier: rnd_type
  std::string factor_type = "avg";  // xavier: avg, in, out
  double magnitude = 3;             // xavier
};

// Uniform in [0, 1) from the top 53 bits of one draw.
double Uniform01(std::mt19937_64* rng) { return static_cast<double>((*rng)() >> 11) * 0x1.0p-53; }

// Standard normal values by the Box-Muller transform, two per pair of draws.
void FillStandardNormal(std::vector<double>* values, std::mt19937_64* rng) {
  const size_t n = values->size();
  for (size_t i = 0; i < n; i += 2) {
    const double u1 = 1.0 - Uniform01(rng);  // (0, 1]
    const double u2 = Uniform01(rng);
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    (*values)[i] = radius * std::cos(angle);
    if (i + 1 < n) (*values)[i + 1] = radius * std::sin(angle);
  }
}

void FillUniform(double low, double high, std::vector<double>* values, std::mt19937_64* rng) {
  for (double& v : *values) v = low + (high - low) * Uniform01(rng);
}

void FillNormal(double sigma, std::vector<double>* values, std::mt19937_64* rng) {
  FillStandardNormal(values, rng);
  for (double& v : *values) v *= sigma;
}

void CheckFactorType(const std::string& factor_type, const std::string& where) {
  LOOM_CHECK_TYPED(ConfigError, factor_type == "avg" || factor_type == "in" || factor_type == "out",
                   where, "factor_type: expected one of avg, in, out but got '", factor_type, "'");
}

// MXNet's Xavier: fan_in = shape[1] * prod(shape[2:]), fan_out = shape[0] * prod(shape[2:]),
// scale = sqrt(magnitude / factor) with factor the average of the fans, fan_in or fan_out.
void FillXavier(const InitRule& rule, const std::string& name, const Shape& shape,
                std::vector<double>* values, std::mt19937_64* rng) {
  LOOM_CHECK_TYPED(ConfigError, shape.ndim() >= 2, "variable '", name,
                   "': the Xavier/MSRA initializer needs at least 2 dimensions (fan in and out) "
                   "but the shape is ",
                   shape.ToString(), "; give it an __init__ attribute or another initializer");
  const double hw_scale = static_cast<double>(shape.Size(2, shape.ndim()));
  const double fan_in = static_cast<double>(shape[1]) * hw_scale;
  const double fan_out = static_cast<double>(shape[0]) * hw_scale;
  double factor = 1;
  if (rule.factor_type == "avg") {
    factor = (fan_in + fan_out) / 2.0;
  } else if (rule.factor_type == "in") {
    factor = fan_in;
  } else {
    factor = fan_out;
  }
  const double scale = std::sqrt(rule.magnitude / factor);
  if (rule.gaussian) {
    FillNormal(scale, values, rng);
  } else {
    FillUniform(-scale, scale, values, rng);
  }
}

void Fill(const InitRule& rule, const std::string& name, const Shape& shape,
          std::vector<double>* values, std::mt19937_64* rng) {
  switch (rule.kind) {
    case InitRule::Kind::kConstant:
      std::fill(values->begin(), values->end(), rule.value);
      return;
    case InitRule::Kind::kUniform:
      FillUniform(-rule.scale, rule.scale, values, rng);
      return;
    case InitRule::Kind::kNormal:
      FillNormal(rule.sigma, values, rng);
      return;
    case InitRule::Kind::kXavier:
      FillXavier(rule, name, shape, values, rng);
      return;
    case InitRule::Kind::kLstmBias: {
      // MXNet's LSTMBias: zeros, and forget_bias in the second quarter (gates i, f, c, o).
      LOOM_CHECK_TYPED(ConfigError, shape.ndim() == 1 && shape[0] % 4 == 0, "variable '", name,
                       "': lstmbias initialises an LSTM bias of 4 * num_hidden values but the "
                       "shape is ",
                       shape.ToString());
      const auto hidden = static_cast<size_t>(shape[0] / 4);
      std::fill(values->begin(), values->end(), 0.0);
      std::fill(values->begin() + static_cast<ptrdiff_t>(hidden),
                values->begin() + static_cast<ptrdiff_t>(2 * hidden), rule.value);
      return;
    }
  }
}

InitRule Constant(double value) {
  InitRule rule;
  rule.value = value;
  return rule;
}

// MXNet's MSRAPrelu(factor_type, slope): Xavier("gaussian", factor_type, 2 / (1 + slope^2)).
InitRule Msra(const std::string& factor_type, double slope) {
  InitRule rule;
  rule.kind = InitRule::Kind::kXavier;
  rule.gaussian = true;
  rule.factor_type = factor_type;
  rule.magnitude = 2. / (1 + slope * slope);
  return rule;
}

// The initializer an `__init__` attribute names: "zero", "ones", ... or MXNet's dumps() form
// ["xavier", {"rnd_type": "gaussian", "factor_type": "in", "magnitude": 2}].
InitRule ParseInitAttribute(const std::string& variable, const std::string& text) {
  const std::string where = "variable '" + variable + "': attribute __init__ '" + text + "': ";
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(where +
                      "expected an initializer name or JSON such as "
                      "[\"Constant\", {\"value\": 0.25}] but it does not parse: " +
                      e.msg);
  }
  std::string init_name;
  YAML::Node kwargs;
  if (node.IsScalar()) {
    init_name = node.Scalar();
  } else if (node.IsSequence() && (node.size() == 1 || node.size() == 2) && node[0].IsScalar()) {
    init_name = node[0].Scalar();
    if (node.size() == 2) kwargs = node[1];
    LOOM_CHECK_TYPED(ConfigError, !kwargs || kwargs.IsNull() || kwargs.IsMap(), where,
                     "expected the second item to be an object of arguments");
  } else {
    throw ConfigError(where + "expected an initializer name or [\"name\", {arguments}]");
  }
  const std::string kind = Lower(init_name);

  std::vector<std::string> allowed;
  if (kind == "constant") {
    allowed = {"value"};
  } else if (kind == "uniform") {
    allowed = {"scale"};
  } else if (kind == "normal") {
    allowed = {"sigma"};
  } else if (kind == "xavier") {
    allowed = {"rnd_type", "factor_type", "magnitude"};
  } else if (kind == "msraprelu") {
    allowed = {"factor_type", "slope"};
  } else if (kind == "lstmbias") {
    allowed = {"forget_bias"};
  } else if (kind != "zero" && kind != "zeros" && kind != "one" && kind != "ones") {
    throw ConfigError(where + "unknown initializer '" + init_name +
                      "': expected one of zero, zeros, one, ones, constant, uniform, normal, "
                      "xavier, msraprelu, lstmbias");
  }
  if (kwargs && kwargs.IsMap()) {
    for (const auto& item : kwargs) {
      const std::string key = item.first.as<std::string>();
      LOOM_CHECK_TYPED(ConfigError, std::find(allowed.begin(), allowed.end(), key) != allowed.end(),
                       where, init_name, " has no argument '", key, "'");
    }
  }
  auto number = [&](const char* key, double fallback) {
    if (!kwargs || !kwargs.IsMap() || !kwargs[key]) return fallback;
    const YAML::Node value = kwargs[key];
    double parsed = 0;
    LOOM_CHECK_TYPED(
        ConfigError,
        value.IsScalar() && detail::ParseDouble(value.Scalar(), &parsed) && std::isfinite(parsed),
        where, "argument '", key, "': expected a number");
    return parsed;
  };
  auto text_arg = [&](const char* key, const char* fallback) -> std::string {
    if (!kwargs || !kwargs.IsMap() || !kwargs[key]) return fallback;
    const YAML::Node value = kwargs[key];
    LOOM_CHECK_TYPED(ConfigError, value.IsScalar(), where, "argument '", key,
                     "': expected a string");
    return value.Scalar();
  };

  if (kind == "zero" || kind == "zeros") return Constant(0);
  if (kind == "one" || kind == "ones") return Constant(1);
  if (kind == "constant") {
    LOOM_CHECK_TYPED(ConfigError, kwargs && kwargs.IsMap() && kwargs["value"], where,
                     "Constant needs an argument 'value'");
    return Constant(number("value", 0));
  }
  InitRule rule;
  if (kind == "uniform") {
    rule.kind = InitRule::Kind::kUniform;
    rule.scale = number("scale", 0.07);
    return rule;
  }
  if (kind == "normal") {
    rule.kind = InitRule::Kind::kNormal;
    rule.sigma = number("sigma", 0.01);
    return rule;
  }
  if (kind == "lstmbias") {
    rule.kind = InitRule::Kind::kLstmBias;
    rule.value = number("forget_bias", 1.0);
    return rule;
  }
  if (kind == "msraprelu") {
    const std::string factor_type = text_arg("factor_type", "avg");
    CheckFactorType(factor_type, where);
    return Msra(factor_type, number("slope", 0.25));
  }
  rule.kind = InitRule::Kind::kXavier;
  const std::string rnd_type = text_arg("rnd_type", "uniform");
  LOOM_CHECK_TYPED(ConfigError, rnd_type == "uniform" || rnd_type == "gaussian", where,
                   "rnd_type: expected uniform or gaussian but got '", rnd_type, "'");
  rule.gaussian = rnd_type == "gaussian";
  rule.factor_type = text_arg("factor_type", "avg");
  CheckFactorType(rule.factor_type, where);
  rule.magnitude = number("magnitude", 3);
  return rule;
}

// The configured initializer (Initializer::Create).
class ConfiguredInitializer final : public Initializer {
 public:
  explicit ConfiguredInitializer(InitRule rule) : rule_(std::move(rule)) {}

 protected:
  void InitWeight(const std::string& name, const Shape& shape, std::vector<double>* values,
                  std::mt19937_64* rng) const override {
    Fill(rule_, name, shape, values, rng);
  }

 private:
  InitRule rule_;
};

// Copies row-major values into the array, converted to its dtype.
void Store(const std::vector<double>& values, NDArray* array) {
  switch (array->dtype()) {
    case DType::kFloat64:
      array->CopyFromHost(values.data(), values.size());
      return;
    case DType::kFloat32: {
      std::vector<float> converted(values.begin(), values.end());
      array->CopyFromHost(converted.data(), converted.size());
      return;
    }
    default:
      array->CopyFrom(
          NDArray::FromHost(values, array->shape()).AsType(array->dtype()));
      return;
  }
}

}  // namespace

std::unique_ptr<Initializer> Initializer::Create(const proto::Initializer& cfg) {
  const std::string key = "trainer.initializer.";
  const std::string type = Lower(cfg.type());
  InitRule rule;
  if (type == "zero" || type == "zeros") {
    rule = Constant(0);
  } else if (type == "one" || type == "ones") {
    rule = Constant(1);
  } else if (type == "constant") {
    rule = Constant(DecimalDouble(cfg.value()));
  } else if (type == "uniform") {
    rule.kind = InitRule::Kind::kUniform;
    rule.scale = DecimalDouble(cfg.scale());
  } else if (type == "normal") {
    rule.kind = InitRule::Kind::kNormal;
    rule.sigma = DecimalDouble(cfg.sigma());
  } else if (type == "xavier" || type == "msra" || type == "msraprelu") {
    CheckFactorType(cfg.factor_type(), key);
    if (type == "xavier") {
      LOOM_CHECK_TYPED(ConfigError, cfg.rnd_type() == "uniform" || cfg.rnd_type() == "gaussian",
                       key, "rnd_type: expected uniform or gaussian but got '", cfg.rnd_type(),
                       "'");
      LOOM_CHECK_TYPED(ConfigError, cfg.magnitude() > 0 && std::isfinite(cfg.magnitude()), key,
                       "magnitude: expected a positive number but got ", cfg.magnitude());
      rule.kind = InitRule::Kind::kXavier;
      rule.gaussian = cfg.rnd_type() == "gaussian";
      rule.factor_type = cfg.factor_type();
      rule.magnitude = DecimalDouble(cfg.magnitude());
    } else {
      rule = Msra(cfg.factor_type(), DecimalDouble(cfg.slope()));
    }
  } else {
    throw ConfigError(key +
                      "type: expected one of uniform, normal, xavier, msra, zero, one, "
                      "constant but got '" +
                      cfg.type() + "'");
  }
  LOOM_CHECK_TYPED(ConfigError, rule.scale >= 0 && std::isfinite(rule.scale), key,
                   "scale: expected a number >= 0 but got ", rule.scale);
  LOOM_CHECK_TYPED(ConfigError, rule.sigma >= 0 && std::isfinite(rule.sigma), key,
                   "sigma: expected a number >= 0 but got ", rule.sigma);
  return std::make_unique<ConfiguredInitializer>(std::move(rule));
}

void Initializer::operator()(const std::string& name,
                             const std::map<std::string, std::string>& attrs, NDArray* array,
                             std::mt19937_64* rng) const {
  LOOM_CHECK(array != nullptr && !array->is_none(), "variable '", name,
             "': expected an array to initialise but got none");
  LOOM_CHECK(rng != nullptr, "variable '", name, "': expected a random generator but got null");
  const Shape& shape = array->shape();
  std::vector<double> values(static_cast<size_t>(shape.Size()));
  auto init = attrs.find("__init__");
  if (init != attrs.end() && !init->second.empty()) {
    Fill(ParseInitAttribute(name, init->second), name, shape, &values, rng);
  } else if (EndsWith(name, "weight")) {
    InitWeight(name, shape, &values, rng);
  } else if (EndsWith(name, "bias") || EndsWith(name, "beta") || EndsWith(name, "min") ||
             EndsWith(name, "moving_mean") || EndsWith(name, "moving_inv_var") ||
             EndsWith(name, "moving_avg")) {
    std::fill(values.begin(), values.end(), 0.0);
  } else if (EndsWith(name, "gamma") || EndsWith(name, "max") || EndsWith(name, "moving_var")) {
    std::fill(values.begin(), values.end(), 1.0);
  } else {
    InitWeight(name, shape, &values, rng);
  }
  Store(values, array);
}

}  // namespace loom::train
