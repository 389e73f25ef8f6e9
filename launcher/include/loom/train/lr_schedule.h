// Learning-rate schedules with MXNet 1.9.1's semantics (FactorScheduler, MultiFactorScheduler,
// CosineScheduler, each with optional linear warm-up): the learning rate as a function of the
// update count. MXNet counts updates from 1: the first update of a run uses (*schedule)(1), the
// k-th uses (*schedule)(k); (*schedule)(0) is the rate before any update.
//
//   loom::proto::LrSchedule cfg;
//   cfg.set_type("factor"); cfg.set_step(100); cfg.set_factor(0.5f);
//   auto schedule = loom::train::LrSchedule::Create(cfg, /*base_lr=*/0.1f);
//   float lr = (*schedule)(150);   // 0.05: one decay once the update count passed 100
//
// Schedules are stateless (the rate depends only on the update count), so a resumed run gets the
// same rates as an uninterrupted one. operator() is const and thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "loom/proto/experiment.pb.h"

namespace loom::train {

class LrSchedule {  // learning rate as a function of the update count (0-based), warm-up included
 public:
  // cfg.type: none, factor, multifactor, cosine. For cosine, cfg.max_update() == 0 means "the
  // whole run": total_updates is used then. @throws ConfigError naming the lr_schedule key for
  // an unknown type or values MXNet rejects (step < 1, factor > 1, steps not increasing, ...).
  static std::unique_ptr<LrSchedule> Create(const proto::LrSchedule& cfg, float base_lr,
                                            int64_t total_updates = 0);
  virtual ~LrSchedule() = default;
  // Rate(num_update) rounded to float.
  virtual float operator()(int64_t num_update) const {
    return static_cast<float>(Rate(num_update));
  }
  // The rate in double precision, computed as MXNet's Python schedulers do (the optimizer
  // multiplies it by lr_mult before rounding to float, as MXNet does).
  virtual double Rate(int64_t num_update) const = 0;
};

}  // namespace loom::train
