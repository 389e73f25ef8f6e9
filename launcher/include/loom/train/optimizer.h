// Optimizers with MXNet 1.9.1's update rules (sgd with momentum, nag, adam, adamw, rmsprop,
// adagrad), per-parameter lr_mult/wd_mult, rescale_grad, clip_gradient, learning-rate schedules,
// and global-norm gradient clipping. The rules, as formulas, are in docs/optimizers.md.
//
//   loom::proto::Optimizer cfg;
//   cfg.set_name("sgd"); cfg.set_lr(0.1f); cfg.set_momentum(0.9f); cfg.set_wd(1e-4f);
//   auto opt = loom::train::Optimizer::Create(cfg, /*default_rescale_grad=*/1.0f / 128);
//   opt->SetParam(0, "fc1_weight", /*lr_mult=*/1, /*wd_mult=*/1);
//   for (each batch) {
//     opt->BeginStep();
//     opt->Update(0, weight, grad);      // pushed on the engine; returns at once
//   }
//   auto state = opt->State();           // {"fc1_weight/momentum": ...}, plus opt->num_update()
//
// Each Update is one fused, single-pass engine operation that reads the gradient and writes the
// weight and the parameter's state, so it overlaps with other work (e.g. the backward pass of
// earlier layers). float32 and float64 CPU arrays are supported.
//
// Thread safety: an Optimizer is driven by one thread (SetParam, BeginStep, Update, State,
// LoadState must not run concurrently); the pushed operations themselves are ordered by the engine.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loom/core/ndarray.h"
#include "loom/proto/experiment.pb.h"
#include "loom/train/lr_schedule.h"

namespace loom::train {

// lr_mult and wd_mult of one parameter as MXNet's Optimizer computes them from its variable's
// attributes: __lr_mult__ / __wd_mult__ (or lr_mult / wd_mult) when present, otherwise lr_mult 1
// and wd_mult 1 for names ending in _weight or _gamma, 0 for everything else (biases, betas).
// @throws ConfigError naming the variable when a multiplier is not a number.
struct ParamMults {
  float lr_mult = 1;
  float wd_mult = 1;
};
ParamMults MultsFromAttrs(const std::string& name, const std::map<std::string, std::string>& attrs);

class Optimizer {
 public:
  // rescale_grad: cfg.rescale_grad() if set, else default_rescale_grad (the trainer passes
  // 1/batch). total_updates: the run's length in updates, for a cosine schedule with max_update 0.
  // @throws ConfigError naming the key for an unknown optimizer or invalid values.
  static std::unique_ptr<Optimizer> Create(const proto::Optimizer& cfg, float default_rescale_grad,
                                           int64_t total_updates = 0);
  virtual ~Optimizer();
  // Declares parameter `index` (name for messages/state keys, lr_mult/wd_mult from attributes).
  void SetParam(int index, std::string name, float lr_mult, float wd_mult);
  // Declares `index` as another device's copy of the declared parameter `primary` (data
  // parallelism over several devices in one process): the same name and multipliers, a state of
  // its own. State() reports the primary's state only; LoadState restores the primary and all its
  // copies from the same arrays. @throws loom::Error when primary is undeclared or is a copy.
  void SetReplica(int index, int primary);
  // Counts one update step (call once per batch before the Update calls of that batch).
  void BeginStep();
  int64_t num_update() const;
  float learning_rate() const;  // current base lr (schedule applied)
  // weight -= ...; state created on first use. Pushed through the scheduler (reads grad, writes
  // weight and state), so it overlaps with other work; arrays may be on any device the kernels
  // support (CPU: float32 and float64).
  virtual void Update(int index, const NDArray& weight, const NDArray& grad) = 0;
  // Everything needed to resume exactly: named arrays ("<param name>/<slot>") and the update count.
  // The arrays are copies (pushed after every Update so far).
  std::map<std::string, NDArray> State() const;
  // Restores State()'s arrays (copied; moved to the weight's device at the next Update) and the
  // update count: continuing then gives bitwise the results of a run that never stopped.
  // Parameters must have been declared with SetParam. @throws CheckpointError naming the key for
  // a key of no declared parameter or slot of this optimizer, or a shape/dtype mismatch.
  void LoadState(const std::map<std::string, NDArray>& state, int64_t num_update);

  // "sgd", "nag", "adam", "adamw", "rmsprop", "adagrad".
  const std::string& name() const { return name_; }
  // Names of the per-parameter state slots ("momentum"; "mean", "var"; ...), empty for plain SGD.
  const std::vector<std::string>& slots() const { return slots_; }

 protected:
  // The scalars of one parameter's update at the current step.
  struct StepScalars {
    double lr = 0;              // schedule(num_update) * lr_mult
    double wd = 0;              // wd * wd_mult
    double rescale_grad = 1;    // multiplies the raw gradient first
    double clip_gradient = -1;  // >= 0: the rescaled gradient is clipped to [-c, c]
    int64_t t = 0;              // num_update (Adam's bias-correction step)
  };

  Optimizer(std::string name, const proto::Optimizer& cfg, float rescale_grad,
            std::unique_ptr<LrSchedule> schedule, std::vector<std::string> slots);

  const proto::Optimizer& config() const { return cfg_; }
  // Checks weight/grad (same shape and dtype, float32/float64, CPU) naming the parameter, and
  // returns the scalars of parameter `index` (declared or not: undeclared ones get mults 1).
  StepScalars Prepare(int index, const NDArray& weight, const NDArray& grad);
  // The parameter's state arrays, one per slot, zeros like weight on first use (or the arrays
  // LoadState restored, on the weight's device).
  const std::vector<NDArray>& StateFor(int index, const NDArray& weight);
  // The parameter's name for messages and state keys ("param <index>" when undeclared).
  std::string ParamName(int index) const;

 private:
  struct Param {
    std::string name;
    float lr_mult = 1;
    float wd_mult = 1;
    std::vector<NDArray> state;   // one per slot; empty until first use
    std::vector<NDArray> loaded;  // one per slot, from LoadState, until the next Update
    int replica_of = -1;          // SetReplica: the index of the parameter this copies
  };

  std::string name_;
  proto::Optimizer cfg_;
  double rescale_grad_;
  std::unique_ptr<LrSchedule> schedule_;
  std::vector<std::string> slots_;
  std::map<int, Param> params_;
  int64_t num_update_ = 0;
};

// Scales all gradients so that their global L2 norm is at most max_norm; returns the norm before.
// The norm is summed in double in a fixed order (array by array, fixed chunks), so it is
// deterministic. Waits for pending writes to the gradients; the scaling is pushed.
float ClipGlobalNorm(const std::vector<NDArray>& grads, float max_norm);

}  // namespace loom::train
