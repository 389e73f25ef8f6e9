// Parameter initialisation as MXNet 1.9.1's Initializer: Uniform, Normal, Xavier, MSRAPrelu (He),
// Zero, One, Constant; a variable's `__init__` attribute (as MXNet writes it into symbol files)
// wins over the configured initializer, and otherwise the name's suffix decides.
//
//   loom::proto::Initializer cfg;            // xavier, uniform, avg, magnitude 3 by default
//   auto init = loom::train::Initializer::Create(cfg);
//   std::mt19937_64 rng(42);
//   loom::NDArray w = loom::NDArray::Empty({128, 784});
//   (*init)("fc1_weight", {}, &w, &rng);     // Xavier: U(-s, s), s = sqrt(3 / ((784 + 128) / 2))
//   loom::NDArray b = loom::NDArray::Empty({128});
//   (*init)("fc1_bias", {}, &b, &rng);       // zeros
//
// Values are drawn on the host from rng in row-major order and copied into the array, so they
// depend only on the rng's state. operator() is const; concurrent calls need distinct rngs.
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>

#include "loom/core/ndarray.h"
#include "loom/proto/experiment.pb.h"

namespace loom::train {

class Initializer {
 public:
  // @throws ConfigError naming the initializer key for an unknown type or rnd_type/factor_type.
  static std::unique_ptr<Initializer> Create(const proto::Initializer& cfg);
  virtual ~Initializer() = default;
  // Initialises one variable as MXNet's Initializer does: an `__init__` attribute (JSON such as
  // ["Constant", {"value": 0.25}] or "zero") wins; otherwise by name suffix: *_bias, *_beta,
  // *_moving_mean -> 0, *_gamma, *_moving_var -> 1, *_weight (and others) -> the configured
  // initializer. Deterministic given rng.
  // @throws ConfigError naming the variable for an unknown or malformed `__init__`.
  void operator()(const std::string& name, const std::map<std::string, std::string>& attrs,
                  NDArray* array, std::mt19937_64* rng) const;

 protected:
  Initializer() = default;
  // Fills values (row-major, shape `shape`) with the configured initializer's draw.
  virtual void InitWeight(const std::string& name, const Shape& shape, std::vector<double>* values,
                          std::mt19937_64* rng) const = 0;
};

}  // namespace loom::train
