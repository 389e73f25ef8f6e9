// Optimizer: parameter bookkeeping (lr_mult/wd_mult, state slots, update count, State/LoadState)
// and the six update rules, each pushed on the engine as one fused operation per parameter.
#include "loom/train/optimizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include "loom/build_config.h"
#include "loom/scheduler/error.h"
#include "operators/cpu/parallel.h"
#include "optim/optim_util.h"
#include "optim/update_kernels.h"
#if LOOM_USE_CUDA
#include "optim/cuda/update_kernels_gpu.h"
#endif

namespace loom::train {

using detail::DecimalDouble;

namespace {

bool EndsWith(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Elements per parallel chunk: tens of microseconds of update work.
constexpr int64_t kUpdateGrain = 1 << 15;

using Rule = detail::UpdateRule;

std::vector<std::string> SlotsOf(Rule rule, const proto::Optimizer& cfg) {
  switch (rule) {
    case Rule::kSgd:
    case Rule::kNag:
      if (cfg.momentum() != 0) return {"momentum"};
      return {};
    case Rule::kAdam:
    case Rule::kAdamW:
      return {"mean", "var"};
    case Rule::kRmsProp:
      return {"n"};
    case Rule::kAdaGrad:
      return {"history"};
  }
  return {};
}

class FusedOptimizer final : public Optimizer {
 public:
  FusedOptimizer(Rule rule, std::string name, const proto::Optimizer& cfg, float rescale_grad,
                 std::unique_ptr<LrSchedule> schedule)
      : Optimizer(std::move(name), cfg, rescale_grad, std::move(schedule), SlotsOf(rule, cfg)),
        rule_(rule) {}

  void Update(int index, const NDArray& weight, const NDArray& grad) override {
    const StepScalars step = Prepare(index, weight, grad);
    const std::vector<NDArray>& state = StateFor(index, weight);
    if (weight.dtype() == DType::kFloat32) {
      Push<float>(index, weight, grad, state, step);
    } else {
      Push<double>(index, weight, grad, state, step);
    }
  }

 private:
  // The scalars as MXNet hands them to its kernels: Python doubles rounded to float parameters,
  // then cast to the element type.
  template <typename T>
  detail::UpdateScalars<T> Scalars(const StepScalars& step) const {
    const proto::Optimizer& cfg = config();
    auto as_t = [](double v) { return static_cast<T>(static_cast<float>(v)); };
    detail::UpdateScalars<T> s;
    s.lr = as_t(step.lr);
    s.wd = as_t(step.wd);
    s.rescale_grad = as_t(step.rescale_grad);
    s.clip_gradient = as_t(step.clip_gradient);
    s.momentum = as_t(cfg.momentum());
    s.epsilon = as_t(cfg.epsilon());
    if (rule_ == Rule::kAdam || rule_ == Rule::kAdamW) {
      // Adam folds the bias correction into the learning rate (MXNet's Adam.update; GluonNLP's
      // AdamW passes the same as eta with lr = 1).
      const double beta1 = DecimalDouble(cfg.beta1()), beta2 = DecimalDouble(cfg.beta2());
      const double t = static_cast<double>(step.t);
      const double coef1 = 1. - std::pow(beta1, t);
      const double coef2 = 1. - std::pow(beta2, t);
      const double corrected = step.lr * (std::sqrt(coef2) / coef1);
      s.beta1 = as_t(cfg.beta1());
      s.beta2 = as_t(cfg.beta2());
      if (rule_ == Rule::kAdam) {
        s.lr = as_t(corrected);
      } else {
        s.eta = as_t(corrected);
        s.lr = T(1);
      }
    } else if (rule_ == Rule::kRmsProp) {
      s.beta1 = as_t(cfg.rho());
    }
    return s;
  }

  template <typename T>
  void Push(int index, const NDArray& weight, const NDArray& grad,
            const std::vector<NDArray>& state, const StepScalars& step) {
    const detail::UpdateScalars<T> s = Scalars<T>(step);
    T* w = weight.data<T>();
    const T* g = grad.data<T>();
    T* s0 = state.size() > 0 ? state[0].data<T>() : nullptr;
    T* s1 = state.size() > 1 ? state[1].data<T>() : nullptr;
    const int64_t n = weight.size();
    const Rule rule = rule_;
    std::vector<VarHandle> writes{weight.var()};
    for (const NDArray& a : state) writes.push_back(a.var());
    const VarHandle reads[] = {grad.var()};
    const std::string op_name = name() + "_update(" + ParamName(index) + ")";
    if (weight.ctx().type == DeviceType::kGPU) {
#if LOOM_USE_CUDA
      Engine::Get().Push(
          [=](RunContext rc) { detail::GpuUpdate(rule, w, g, s0, s1, n, s, rc.stream); },
          weight.ctx(), std::span<const VarHandle>(reads), std::span<const VarHandle>(writes), 0,
          op_name);
      return;
#else
      throw NotSupportedError(op_name + ": the weight is on " + weight.ctx().ToString() +
                              " but Loom was built without CUDA");
#endif
    }
    Engine::Get().Push(
        [=](RunContext) {
          cpu::ParallelFor(n, kUpdateGrain, [&](int64_t begin, int64_t end) {
            switch (rule) {
              case Rule::kSgd:
                detail::SgdKernel(w, g, s0, begin, end, s);
                break;
              case Rule::kNag:
                if (s0 != nullptr) {
                  detail::NagKernel(w, g, s0, begin, end, s);
                } else {
                  detail::PlainSgdKernel(w, g, begin, end, s);
                }
                break;
              case Rule::kAdam:
                detail::AdamKernel(w, g, s0, s1, begin, end, s);
                break;
              case Rule::kAdamW:
                detail::AdamWKernel(w, g, s0, s1, begin, end, s);
                break;
              case Rule::kRmsProp:
                detail::RmsPropKernel(w, g, s0, begin, end, s);
                break;
              case Rule::kAdaGrad:
                detail::AdaGradKernel(w, g, s0, begin, end, s);
                break;
            }
          });
        },
        weight.ctx(), std::span<const VarHandle>(reads), std::span<const VarHandle>(writes), 0,
        op_name);
  }

  Rule rule_;
};

float ParseMult(const std::string& name, const std::string& key, const std::string& text) {
  double value = 0;
  LOOM_CHECK_TYPED(ConfigError, detail::ParseDouble(text, &value) && std::isfinite(value),
                   "variable '", name, "': attribute ", key, ": expected a number but got '", text,
                   "'");
  return static_cast<float>(value);
}

}  // namespace

ParamMults MultsFromAttrs(const std::string& name,
                          const std::map<std::string, std::string>& attrs) {
  auto find = [&](const char* hidden,
                  const char* plain) -> std::pair<const char*, const std::string*> {
    if (auto it = attrs.find(hidden); it != attrs.end()) return {hidden, &it->second};
    if (auto it = attrs.find(plain); it != attrs.end()) return {plain, &it->second};
    return {nullptr, nullptr};
  };
  ParamMults mults;
  mults.wd_mult = EndsWith(name, "_weight") || EndsWith(name, "_gamma") ? 1.0f : 0.0f;
  if (auto [key, text] = find("__lr_mult__", "lr_mult"); text != nullptr) {
    mults.lr_mult = ParseMult(name, key, *text);
  }
  if (auto [key, text] = find("__wd_mult__", "wd_mult"); text != nullptr) {
    mults.wd_mult = ParseMult(name, key, *text);
  }
  return mults;
}

std::unique_ptr<Optimizer> Optimizer::Create(const proto::Optimizer& cfg,
                                             float default_rescale_grad, int64_t total_updates) {
  std::string name = cfg.name();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  Rule rule;
  if (name == "sgd") {
    rule = Rule::kSgd;
  } else if (name == "nag") {
    rule = Rule::kNag;
  } else if (name == "adam") {
    rule = Rule::kAdam;
  } else if (name == "adamw") {
    rule = Rule::kAdamW;
  } else if (name == "rmsprop") {
    rule = Rule::kRmsProp;
  } else if (name == "adagrad") {
    rule = Rule::kAdaGrad;
  } else {
    throw ConfigError(
        "optimizer.name: expected one of sgd, nag, adam, adamw, rmsprop, adagrad "
        "but got '" +
        cfg.name() + "'");
  }
  const float rescale_grad = cfg.has_rescale_grad() ? cfg.rescale_grad() : default_rescale_grad;
  LOOM_CHECK_TYPED(ConfigError, cfg.lr() >= 0 && std::isfinite(cfg.lr()),
                   "optimizer.lr: expected a learning rate >= 0 but got ", cfg.lr());
  LOOM_CHECK_TYPED(ConfigError, std::isfinite(cfg.wd()),
                   "optimizer.wd: expected a finite weight decay but got ", cfg.wd());
  LOOM_CHECK_TYPED(ConfigError, std::isfinite(rescale_grad) && rescale_grad != 0,
                   "optimizer.rescale_grad: expected a finite non-zero factor but got ",
                   rescale_grad);
  if (rule == Rule::kSgd || rule == Rule::kNag) {
    LOOM_CHECK_TYPED(ConfigError, cfg.momentum() >= 0 && cfg.momentum() < 1,
                     "optimizer.momentum: expected a value in [0, 1) but got ", cfg.momentum());
  }
  if (rule == Rule::kAdam || rule == Rule::kAdamW) {
    LOOM_CHECK_TYPED(ConfigError, cfg.beta1() >= 0 && cfg.beta1() < 1,
                     "optimizer.beta1: expected a value in [0, 1) but got ", cfg.beta1());
    LOOM_CHECK_TYPED(ConfigError, cfg.beta2() >= 0 && cfg.beta2() < 1,
                     "optimizer.beta2: expected a value in [0, 1) but got ", cfg.beta2());
  }
  if (rule == Rule::kRmsProp) {
    LOOM_CHECK_TYPED(ConfigError, cfg.rho() >= 0 && cfg.rho() < 1,
                     "optimizer.rho: expected a value in [0, 1) but got ", cfg.rho());
  }
  if (rule == Rule::kAdam || rule == Rule::kAdamW || rule == Rule::kRmsProp ||
      rule == Rule::kAdaGrad) {
    LOOM_CHECK_TYPED(ConfigError, cfg.epsilon() >= 0 && std::isfinite(cfg.epsilon()),
                     "optimizer.epsilon: expected a value >= 0 but got ", cfg.epsilon());
  }
  auto schedule = LrSchedule::Create(cfg.lr_schedule(), cfg.lr(), total_updates);
  return std::make_unique<FusedOptimizer>(rule, name, cfg, rescale_grad, std::move(schedule));
}

Optimizer::Optimizer(std::string name, const proto::Optimizer& cfg, float rescale_grad,
                     std::unique_ptr<LrSchedule> schedule, std::vector<std::string> slots)
    : name_(std::move(name)),
      cfg_(cfg),
      rescale_grad_(DecimalDouble(rescale_grad)),
      schedule_(std::move(schedule)),
      slots_(std::move(slots)) {}

Optimizer::~Optimizer() = default;

void Optimizer::SetParam(int index, std::string name, float lr_mult, float wd_mult) {
  for (const auto& [other_index, other] : params_) {
    LOOM_CHECK(other_index == index || other.replica_of >= 0 || other.name != name, "optimizer ",
               name_, ": parameter name '", name, "' declared for index ", other_index,
               " and again for index ", index, ": expected distinct names (they key the state)");
  }
  Param& param = params_[index];
  param.name = std::move(name);
  param.lr_mult = lr_mult;
  param.wd_mult = wd_mult;
  param.replica_of = -1;
}

void Optimizer::SetReplica(int index, int primary) {
  auto it = params_.find(primary);
  LOOM_CHECK(it != params_.end() && it->second.replica_of < 0 && index != primary, "optimizer ",
             name_, ": SetReplica(", index, ", ", primary, "): expected parameter ", primary,
             " to be declared with SetParam");
  const Param& source = it->second;
  Param& param = params_[index];
  param.name = source.name;
  param.lr_mult = source.lr_mult;
  param.wd_mult = source.wd_mult;
  param.replica_of = primary;
}

void Optimizer::BeginStep() { ++num_update_; }

int64_t Optimizer::num_update() const { return num_update_; }

float Optimizer::learning_rate() const { return (*schedule_)(num_update_); }

std::string Optimizer::ParamName(int index) const {
  auto it = params_.find(index);
  if (it != params_.end() && !it->second.name.empty()) return it->second.name;
  return "param " + std::to_string(index);
}

Optimizer::StepScalars Optimizer::Prepare(int index, const NDArray& weight, const NDArray& grad) {
  const std::string who = "optimizer " + name_ + ", parameter '" + ParamName(index) + "'";
  LOOM_CHECK(!weight.is_none() && !grad.is_none(), who,
             ": expected a weight and a gradient array but got a none array");
  LOOM_CHECK(num_update_ > 0, who,
             ": expected BeginStep() before the first Update (the update count is 0)");
  LOOM_CHECK_TYPED(DTypeError,
                   weight.dtype() == DType::kFloat32 || weight.dtype() == DType::kFloat64, who,
                   ": expected a float32 or float64 weight but got ", ToString(weight.dtype()));
  LOOM_CHECK_TYPED(DTypeError, grad.dtype() == weight.dtype(), who,
                   ": expected a gradient of the weight's dtype ", ToString(weight.dtype()),
                   " but got ", ToString(grad.dtype()));
  LOOM_CHECK_TYPED(ShapeError, grad.shape() == weight.shape(), who,
                   ": expected a gradient of the weight's shape ", weight.shape().ToString(),
                   " but got ", grad.shape().ToString());
  LOOM_CHECK(grad.ctx() == weight.ctx(), who, ": expected the gradient on the weight's device ",
             weight.ctx().ToString(), " but got ", grad.ctx().ToString());
  auto it = params_.find(index);
  const double lr_mult = it != params_.end() ? DecimalDouble(it->second.lr_mult) : 1.0;
  const double wd_mult = it != params_.end() ? DecimalDouble(it->second.wd_mult) : 1.0;
  StepScalars step;
  step.lr = schedule_->Rate(num_update_) * lr_mult;
  step.wd = DecimalDouble(cfg_.wd()) * wd_mult;
  step.rescale_grad = rescale_grad_;
  step.clip_gradient = cfg_.clip_gradient() > 0 ? DecimalDouble(cfg_.clip_gradient()) : -1.0;
  step.t = num_update_;
  return step;
}

const std::vector<NDArray>& Optimizer::StateFor(int index, const NDArray& weight) {
  Param& param = params_[index];
  if (param.name.empty()) param.name = ParamName(index);
  if (slots_.empty()) return param.state;
  if (!param.state.empty()) {
    const NDArray& first = param.state.front();
    LOOM_CHECK_TYPED(ShapeError,
                     first.shape() == weight.shape() && first.dtype() == weight.dtype() &&
                         first.ctx() == weight.ctx(),
                     "optimizer ", name_, ", parameter '", param.name, "': its state was created ",
                     "for a ", ToString(first.dtype()), " weight of shape ",
                     first.shape().ToString(), " on ", first.ctx().ToString(), " but got a ",
                     ToString(weight.dtype()), " weight of shape ", weight.shape().ToString(),
                     " on ", weight.ctx().ToString());
    return param.state;
  }
  if (!param.loaded.empty()) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      const NDArray& saved = param.loaded[i];
      const std::string key = param.name + "/" + slots_[i];
      LOOM_CHECK_TYPED(CheckpointError, saved.shape() == weight.shape(), "optimizer state '", key,
                       "': expected the weight's shape ", weight.shape().ToString(), " but got ",
                       saved.shape().ToString());
      LOOM_CHECK_TYPED(CheckpointError, saved.dtype() == weight.dtype(), "optimizer state '", key,
                       "': expected the weight's dtype ", ToString(weight.dtype()), " but got ",
                       ToString(saved.dtype()));
      NDArray slot = NDArray::Empty(weight.shape(), weight.ctx(), weight.dtype());
      slot.CopyFrom(saved);
      param.state.push_back(std::move(slot));
    }
    param.loaded.clear();
    return param.state;
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    param.state.push_back(NDArray::Zeros(weight.shape(), weight.ctx(), weight.dtype()));
  }
  return param.state;
}

std::map<std::string, NDArray> Optimizer::State() const {
  std::map<std::string, NDArray> out;
  for (const auto& [index, param] : params_) {
    if (param.replica_of >= 0) continue;
    const std::vector<NDArray>& arrays = param.state.empty() ? param.loaded : param.state;
    for (size_t i = 0; i < arrays.size(); ++i) {
      out.emplace(param.name + "/" + slots_[i], arrays[i].CopyTo(arrays[i].ctx()));
    }
  }
  return out;
}

void Optimizer::LoadState(const std::map<std::string, NDArray>& state, int64_t num_update) {
  LOOM_CHECK_TYPED(CheckpointError, num_update >= 0, "optimizer ", name_,
                   ": expected an update count >= 0 but got ", num_update);
  std::map<std::string, Param*> by_name;
  for (auto& [index, param] : params_) {
    if (param.replica_of < 0) by_name[param.name] = &param;
  }
  std::map<Param*, std::vector<NDArray>> loaded;
  for (const auto& [key, array] : state) {
    const size_t slash = key.rfind('/');
    const std::string param_name = slash == std::string::npos ? key : key.substr(0, slash);
    const std::string slot = slash == std::string::npos ? "" : key.substr(slash + 1);
    auto param = by_name.find(param_name);
    LOOM_CHECK_TYPED(CheckpointError, param != by_name.end(), "optimizer state '", key,
                     "': expected '<parameter>/<slot>' for a parameter declared with SetParam, "
                     "but no parameter is named '",
                     param_name, "'");
    auto slot_it = std::find(slots_.begin(), slots_.end(), slot);
    LOOM_CHECK_TYPED(CheckpointError, slot_it != slots_.end(), "optimizer state '", key,
                     "': optimizer ", name_, " has no state slot '", slot, "'",
                     slots_.empty() ? " (it keeps no state)" : "");
    LOOM_CHECK_TYPED(CheckpointError, !array.is_none(), "optimizer state '", key,
                     "': expected an array but got a none array");
    std::vector<NDArray>& arrays = loaded[param->second];
    arrays.resize(slots_.size());
    arrays[slot_it - slots_.begin()] = array.CopyTo(array.ctx());
  }
  for (auto& [param, arrays] : loaded) {
    for (size_t i = 0; i < arrays.size(); ++i) {
      LOOM_CHECK_TYPED(CheckpointError, !arrays[i].is_none(), "optimizer state of '", param->name,
                       "': expected slot '", slots_[i], "' (key '", param->name, "/", slots_[i],
                       "') but it is missing");
    }
  }
  for (auto& [index, param] : params_) {
    param.state.clear();
    param.loaded.clear();
    Param* source = param.replica_of < 0 ? &param : &params_.at(param.replica_of);
    if (auto it = loaded.find(source); it != loaded.end()) param.loaded = it->second;
  }
  num_update_ = num_update;
}

}  // namespace loom::train
