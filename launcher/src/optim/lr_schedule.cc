// Learning-rate schedules: MXNet 1.9.1's FactorScheduler, MultiFactorScheduler and CosineScheduler
// (python/mxnet/lr_scheduler.py), with linear warm-up, as stateless functions of the update count.
#include "loom/train/lr_schedule.h"

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "loom/scheduler/error.h"
#include "optim/optim_util.h"

namespace loom::train {
namespace {

using detail::DecimalDouble;

// MXNet's LRScheduler base: linear warm-up from warmup_begin_lr to base_lr over warmup_steps
// updates (num_update < warmup_steps), then the subclass's rule.
class WarmupSchedule : public LrSchedule {
 public:
  WarmupSchedule(double base_lr, int64_t warmup_steps, double warmup_begin_lr)
      : base_lr_(base_lr), warmup_steps_(warmup_steps), warmup_begin_lr_(warmup_begin_lr) {}

  double Rate(int64_t num_update) const final {
    if (num_update < warmup_steps_) {
      const double increase = (base_lr_ - warmup_begin_lr_) * static_cast<double>(num_update) /
                              static_cast<double>(warmup_steps_);
      return warmup_begin_lr_ + increase;
    }
    return AfterWarmup(num_update);
  }

 protected:
  virtual double AfterWarmup(int64_t num_update) const = 0;
  double base_lr_;
  int64_t warmup_steps_;
  double warmup_begin_lr_;
};

// type none: the base rate (after the warm-up, if any).
class ConstantSchedule final : public WarmupSchedule {
 public:
  using WarmupSchedule::WarmupSchedule;

 private:
  double AfterWarmup(int64_t) const override { return base_lr_; }
};

// FactorScheduler: base_lr * factor^k once num_update passed k*step (k = floor((n - 1) / step)),
// never below stop_factor_lr (min_lr). MXNet multiplies step by step; the power is the same rate
// without walking all steps.
class FactorSchedule final : public WarmupSchedule {
 public:
  FactorSchedule(double base_lr, int64_t warmup_steps, double warmup_begin_lr, int64_t step,
                 double factor, double stop_factor_lr)
      : WarmupSchedule(base_lr, warmup_steps, warmup_begin_lr),
        step_(step),
        factor_(factor),
        stop_factor_lr_(stop_factor_lr) {}

 private:
  double AfterWarmup(int64_t num_update) const override {
    if (num_update <= step_) return base_lr_;
    const int64_t decays = (num_update - 1) / step_;
    const double lr = base_lr_ * std::pow(factor_, static_cast<double>(decays));
    return lr < stop_factor_lr_ ? stop_factor_lr_ : lr;
  }
  int64_t step_;
  double factor_;
  double stop_factor_lr_;
};

// MultiFactorScheduler: base_lr * factor^(number of steps s with num_update > s).
class MultiFactorSchedule final : public WarmupSchedule {
 public:
  MultiFactorSchedule(double base_lr, int64_t warmup_steps, double warmup_begin_lr,
                      std::vector<int64_t> steps, double factor)
      : WarmupSchedule(base_lr, warmup_steps, warmup_begin_lr),
        steps_(std::move(steps)),
        factor_(factor) {}

 private:
  double AfterWarmup(int64_t num_update) const override {
    double lr = base_lr_;
    for (int64_t step : steps_) {
      if (num_update <= step) break;
      lr *= factor_;
    }
    return lr;
  }
  std::vector<int64_t> steps_;
  double factor_;
};

// CosineScheduler: final_lr + (base_lr - final_lr) * (1 + cos(pi * (n - warmup) / (max_update -
// warmup))) / 2 up to max_update, final_lr after it.
class CosineSchedule final : public WarmupSchedule {
 public:
  CosineSchedule(double base_lr, int64_t warmup_steps, double warmup_begin_lr, int64_t max_update,
                 double final_lr)
      : WarmupSchedule(base_lr, warmup_steps, warmup_begin_lr),
        max_update_(max_update),
        final_lr_(final_lr) {}

 private:
  double AfterWarmup(int64_t num_update) const override {
    if (num_update > max_update_) return final_lr_;
    const double max_steps = static_cast<double>(max_update_ - warmup_steps_);
    return final_lr_ +
           (base_lr_ - final_lr_) *
               (1 + std::cos(std::numbers::pi * static_cast<double>(num_update - warmup_steps_) /
                             max_steps)) /
               2;
  }
  int64_t max_update_;
  double final_lr_;
};

}  // namespace

std::unique_ptr<LrSchedule> LrSchedule::Create(const proto::LrSchedule& cfg, float base_lr,
                                               int64_t total_updates) {
  const std::string key = "optimizer.lr_schedule.";
  const double lr = DecimalDouble(base_lr);
  const double warmup_begin_lr = DecimalDouble(cfg.warmup_begin_lr());
  const int64_t warmup_steps = cfg.warmup_steps();
  LOOM_CHECK_TYPED(ConfigError, warmup_steps >= 0, key,
                   "warmup_steps: expected a count >= 0 but got ", warmup_steps);
  LOOM_CHECK_TYPED(ConfigError, warmup_steps == 0 || warmup_begin_lr <= lr, key,
                   "warmup_begin_lr: expected at most the learning rate ", lr, " but got ",
                   warmup_begin_lr);
  const double factor = DecimalDouble(cfg.factor());
  const std::string& type = cfg.type();
  if (type == "none") {
    return std::make_unique<ConstantSchedule>(lr, warmup_steps, warmup_begin_lr);
  }
  if (type == "factor" || type == "multifactor") {
    LOOM_CHECK_TYPED(ConfigError, factor > 0 && factor <= 1, key,
                     "factor: expected a factor in (0, 1] that reduces the rate but got ", factor);
  }
  if (type == "factor") {
    LOOM_CHECK_TYPED(ConfigError, cfg.step() >= 1, key,
                     "step: expected at least 1 update per decay but got ", cfg.step());
    return std::make_unique<FactorSchedule>(lr, warmup_steps, warmup_begin_lr, cfg.step(), factor,
                                            DecimalDouble(cfg.min_lr()));
  }
  if (type == "multifactor") {
    LOOM_CHECK_TYPED(ConfigError, cfg.steps_size() > 0, key,
                     "steps: expected a non-empty list of update counts for multifactor");
    std::vector<int64_t> steps(cfg.steps().begin(), cfg.steps().end());
    for (size_t i = 0; i < steps.size(); ++i) {
      LOOM_CHECK_TYPED(ConfigError, steps[i] >= 1, key, "steps[", i,
                       "]: expected an update count >= 1 but got ", steps[i]);
      LOOM_CHECK_TYPED(ConfigError, i == 0 || steps[i] > steps[i - 1], key, "steps[", i,
                       "]: expected an increasing list but got ", steps[i], " after ",
                       i == 0 ? 0 : steps[i - 1]);
    }
    return std::make_unique<MultiFactorSchedule>(lr, warmup_steps, warmup_begin_lr,
                                                 std::move(steps), factor);
  }
  if (type == "cosine") {
    const int64_t max_update = cfg.max_update() > 0 ? cfg.max_update() : total_updates;
    LOOM_CHECK_TYPED(ConfigError, max_update > 0, key,
                     "max_update: expected the number of updates to decay over (> 0) but got ",
                     cfg.max_update(), " and the run's length is unknown");
    LOOM_CHECK_TYPED(ConfigError, max_update > warmup_steps, key,
                     "max_update: expected more updates than warmup_steps (", warmup_steps,
                     ") but got ", max_update);
    return std::make_unique<CosineSchedule>(lr, warmup_steps, warmup_begin_lr, max_update,
                                            DecimalDouble(cfg.min_lr()));
  }
  throw ConfigError(key + "type: expected one of none, factor, multifactor, cosine but got '" +
                    type + "'");
}

}  // namespace loom::train
