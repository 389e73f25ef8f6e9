// The operator consistency harness: sample configurations ("cases") of every operator, run
// through the executor and checked against naive references and finite differences. Each family
// registers its cases in tests/operators/consistency/cases_<family>.cc; consistency_test.cc runs
// them all (binary loom_operators_tests, tests `Ops/ConsistencyTest.*/<group>_<case>`) and walks
// the registry to require a kernel, a gradient (or an entry in its no-gradient table) and a case
// for every operator.
//
//   LOOM_CONSISTENCY_CASES(unary) {            // a group; the body fills `cases`
//     for (Shape shape : {Shape{5}, Shape{2, 3, 4}}) {
//       cases.Add({
//           .name = "exp_" + ShapeName(shape),   // unique within the group; [A-Za-z0-9_]
//           .symbol = [] { return Symbol::Op("exp").Input("data", Symbol::Variable("x")).Build();
//           }, .shapes = {{"x", shape}},            // enough for SimpleBind to infer the rest
//           .reference = [](const HostArrays& in) {
//             std::vector<double> y = in.at("x").values;
//             for (double& v : y) v = std::exp(v);
//             return Outputs{y};                 // one vector per output of the symbol
//           },
//       });
//     }
//   }
//
// What is checked per case (all through loom::Executor on the CPU):
//  1. Forward: random inputs (per InputSpec) bound in each of `dtypes`, Forward(is_train), each
//     output against `reference` (computed in float64 from the inputs as the array holds them,
//     i.e. rounded to the dtype), once with the default executor options (in place, shared
//     buffers, bulk segments) and once with all of them off. A case without a reference says why
//     in `no_reference`; then the float32 and float64 runs must agree.
//  2. Gradient (unless check_grad is false): in `grad_dtype` (float64), grad_req "write" for
//     every differentiable argument, Backward(random head gradients); each gradient against the
//     central finite difference of L = sum_j <head_j, output_j> with respect to every element of
//     the argument (or against `grad_reference`, for loss heads and gradient stops whose
//     gradient is not the derivative of their output).
//  3. grad_req "add": gradient arrays pre-filled with random values, two Forward/Backward rounds,
//     expected: the values plus twice the "write" gradient.
//
// Inputs marked `integer` (indices, labels) hold integers in [lo, hi], get grad_req "null" and
// are never perturbed. Auxiliary states are set before every Forward.
//
// Cases are registered during static initialisation and built on first use; the harness is
// single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/shape.h"
#include "loom/core/symbol.h"

namespace loom::consistency {

/// An input's values on the host, with its shape (as bound).
struct HostTensor {
  Shape shape{};
  std::vector<double> values{};
};
/// Every argument and auxiliary state by name.
using HostArrays = std::map<std::string, HostTensor, std::less<>>;
/// One vector per output of the case's symbol, in list_outputs() order (row-major).
using Outputs = std::vector<std::vector<double>>;

/// How one argument's or auxiliary state's values are drawn.
struct InputSpec {
  /// Uniform in [lo, hi) (integer: uniform integers in [lo, hi]).
  double lo = -1.0;
  double hi = 1.0;
  /// Integer-valued (indices, labels): grad_req "null", never perturbed.
  bool integer = false;
  /// Values closer to 0 than this are pushed out to +-min_abs (kinks of relu, abs, ...).
  double min_abs = 0.0;
  /// The array's dtype; default: the dtype the case runs in.
  std::optional<DType> dtype{};
  /// False for a real-valued input whose gradient is not checked (grad_req "null").
  bool differentiable = true;
};

/// |actual - expected| <= atol + rtol * |expected|.
struct Tolerance {
  double rtol = 0;
  double atol = 0;
};

/// One sample configuration. Fields are listed in the order designated initializers need.
struct Case {
  /// Unique within its group ([A-Za-z0-9_]); the test is named <group>_<name>.
  std::string name{};
  /// Builds the symbol under test; its arguments are the inputs.
  std::function<Symbol()> symbol{};
  /// Shapes of the arguments SimpleBind needs (the others, weights say, are inferred).
  ShapeDict shapes{};
  /// Per argument or auxiliary state; the default InputSpec for those not listed.
  std::map<std::string, InputSpec, std::less<>> inputs{};
  /// Dtypes the forward pass is checked in (every input without its own dtype gets it).
  std::vector<DType> dtypes = {DType::kFloat32, DType::kFloat64};
  /// The naive forward: outputs from the inputs (usually calling operators/cpu/reference/).
  std::function<Outputs(const HostArrays& inputs)> reference{};
  /// Why there is no reference (random operators); then float32 and float64 must agree.
  std::string no_reference{};
  /// Forward in training mode (and the gradient's forward passes always are).
  bool is_train = true;
  /// Check gradients (false for cases of operators without a gradient).
  bool check_grad = true;
  /// Dtype of the gradient checks (float64 unless the operator supports only float32).
  DType grad_dtype = DType::kFloat64;
  /// The expected gradient of every differentiable argument, instead of finite differences:
  /// for operators whose gradient is defined otherwise (loss heads, BlockGrad).
  std::function<HostArrays(const HostArrays& inputs, const Outputs& head_grads)> grad_reference{};
  /// Adjusts the random inputs before use (keep maximum's operands apart, sort, ...).
  std::function<void(HostArrays& inputs, std::mt19937_64& rng)> adjust{};
  Tolerance fwd32{1e-5, 1e-6};
  Tolerance fwd64{1e-10, 1e-12};
  Tolerance grad{1e-5, 1e-7};
  /// Finite-difference step.
  double fd_eps = 1e-6;
  uint64_t seed = 1;
};

/// The cases of one group, filled by a LOOM_CONSISTENCY_CASES body.
class CaseList {
 public:
  void Add(Case c) { cases_.push_back(std::move(c)); }
  std::vector<Case>& cases() { return cases_; }

 private:
  std::vector<Case> cases_;
};

/// A registered case with its group.
struct RegisteredCase {
  std::string group;
  Case c;
  /// "<group>_<name>".
  std::string full_name() const { return group + "_" + c.name; }
};

using CaseGroupFn = void (*)(CaseList& cases);
/// Registers a group (called by LOOM_CONSISTENCY_CASES); returns true.
bool RegisterGroup(const char* group, CaseGroupFn fn);
/// Every case of every group, built on first call (sorted by group, then in Add order).
/// Throws loom::Error for a duplicate or malformed name.
const std::vector<RegisteredCase>& AllCases();

/// "2x3x4" (and "scalar" for ()), for case names.
std::string ShapeName(const Shape& shape);

}  // namespace loom::consistency

#define LOOM_CONSISTENCY_CONCAT_INNER(a, b) a##b
#define LOOM_CONSISTENCY_CONCAT(a, b) LOOM_CONSISTENCY_CONCAT_INNER(a, b)

/// Defines and registers the case group `group` (an identifier); the body that follows fills
/// `::loom::consistency::CaseList& cases`.
#define LOOM_CONSISTENCY_CASES(group)                                                             \
  static void LOOM_CONSISTENCY_CONCAT(LoomConsistencyCases_,                                      \
                                      group)(::loom::consistency::CaseList & cases);              \
  [[maybe_unused]] static const bool LOOM_CONSISTENCY_CONCAT(loom_consistency_registered_,        \
                                                             group) =                             \
      ::loom::consistency::RegisterGroup(#group,                                                  \
                                         &LOOM_CONSISTENCY_CONCAT(LoomConsistencyCases_, group)); \
  static void LOOM_CONSISTENCY_CONCAT(LoomConsistencyCases_,                                      \
                                      group)(::loom::consistency::CaseList & cases)
