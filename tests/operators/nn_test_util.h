// Helpers for the neural-network operator tests that run through the executor: building an
// operator, binding it in float64, setting and reading arrays, and checking every gradient against
// central finite differences (and grad_req 'add' against 'write').
//
//   Symbol fc = nn_test::Op("FullyConnected", {{"num_hidden", "3"}});   // inputs op_data, ...
//   nn_test::GradientCase c{fc, {{"op_data", {2, 4}}}};
//   nn_test::CheckGradients(c);
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gradient_check.h"
#include "loom/core/executor.h"
#include "loom/core/symbol.h"

namespace loom::nn_test {

using Values = std::map<std::string, std::vector<double>, std::less<>>;

/// Operator `op` named `name` with parameters; inputs not given become variables <name>_<input>.
inline Symbol Op(std::string_view op,
                 const std::vector<std::pair<std::string, std::string>>& params,
                 const std::vector<Symbol>& inputs = {}, std::string name = "op") {
  OpCall call = Symbol::Op(op);
  for (const Symbol& s : inputs) call.Input(s);
  for (const auto& [k, v] : params) call.Param(k, v);
  return call.Name(std::move(name)).Build();
}

/// The array's contents as doubles (float16/32/64 and integer arrays).
inline std::vector<double> Get(const NDArray& a) {
  const NDArray d = a.dtype() == DType::kFloat64 ? a : a.AsType(DType::kFloat64);
  return d.ToVector<double>();
}

/// Writes values into the array (converted to its dtype).
inline void Set(const NDArray& a, const std::vector<double>& values) {
  ASSERT_EQ(static_cast<int64_t>(values.size()), a.size())
      << "values for an array of shape " << a.shape().ToString();
  NDArray target = a;
  target.CopyFrom(NDArray::FromHost<double>(values, a.shape()).AsType(a.dtype()));
}

/// One configuration of an operator (or small graph) to check through the executor.
struct GradientCase {
  Symbol symbol;
  ShapeDict shapes;  ///< shapes SimpleBind infers the rest from
  /// dtypes of arguments and auxiliary states; those not named are float64.
  TypeDict dtypes = {};
  /// Fixed values of arguments and auxiliary states; others are uniform in [lo, hi).
  Values values = {};
  /// Arguments without a gradient (labels, indices); every other argument is checked.
  std::set<std::string> no_grad = {};
  double lo = -1, hi = 1;
  double eps = 1e-6, rtol = 1e-5, atol = 1e-7;
  uint64_t seed = 1;
};

/// Bound executor with every argument and auxiliary state set as the case says.
struct Bound {
  Executor exe;
  Values args;  ///< the values set, by name
};

inline Bound BindCase(const GradientCase& c, const std::string& req) {
  TypeDict dtypes = c.dtypes;
  for (const std::string& name : c.symbol.ListArguments()) dtypes.emplace(name, DType::kFloat64);
  for (const std::string& name : c.symbol.ListAuxiliaryStates()) {
    dtypes.emplace(name, DType::kFloat64);
  }
  std::map<std::string, std::string, std::less<>> reqs;
  for (const std::string& name : c.symbol.ListArguments()) {
    reqs[name] = c.no_grad.contains(name) ? "null" : req;
  }
  Bound b{Executor::SimpleBind(c.symbol, Context::CPU(), c.shapes, dtypes, reqs), {}};
  std::mt19937_64 rng(c.seed);
  auto fill = [&](const NDArrayMap& arrays) {
    for (const auto& [name, array] : arrays) {
      auto it = c.values.find(name);
      std::vector<double> v =
          it != c.values.end()
              ? it->second
              : test::RandomVector(static_cast<size_t>(array.size()), rng, c.lo, c.hi);
      Set(array, v);
      b.args[name] = v;
    }
  };
  fill(b.exe.arg_dict());
  fill(b.exe.aux_dict());
  return b;
}

/// Every output's values after one forward pass.
inline std::vector<std::vector<double>> Outputs(Executor& exe, bool is_train) {
  exe.Forward(is_train);
  std::vector<std::vector<double>> out;
  for (const NDArray& o : exe.outputs()) out.push_back(Get(o));
  return out;
}

/// Binds the case (float64 unless told otherwise), runs forward and backward with random head
/// gradients, and checks each argument's gradient against the central finite difference of
/// L = sum over outputs of head * output. Then binds again with grad_req 'add' over random
/// gradient arrays and expects them to grow by exactly the same gradients. Returns the forward
/// outputs (training mode).
inline std::vector<std::vector<double>> CheckGradients(const GradientCase& c) {
  Bound b = BindCase(c, "write");
  Executor& exe = b.exe;
  std::mt19937_64 rng(c.seed + 100);
  const std::vector<std::vector<double>> outputs = Outputs(exe, true);
  std::vector<std::vector<double>> heads;
  std::vector<NDArray> head_arrays;
  for (const NDArray& o : exe.outputs()) {
    heads.push_back(test::RandomVector(static_cast<size_t>(o.size()), rng));
    head_arrays.push_back(NDArray::FromHost<double>(heads.back(), o.shape()).AsType(o.dtype()));
  }
  exe.Backward(head_arrays);
  std::map<std::string, std::vector<double>> analytic;
  for (const auto& [name, grad] : exe.grad_dict()) analytic[name] = Get(grad);
  EXPECT_FALSE(analytic.empty()) << "no argument has a gradient";

  auto loss = [&] {
    double l = 0;
    const auto out = Outputs(exe, true);
    for (size_t k = 0; k < out.size(); ++k) {
      for (size_t i = 0; i < out[k].size(); ++i) l += heads[k][i] * out[k][i];
    }
    return l;
  };
  for (const auto& [name, dx] : analytic) {
    std::vector<double> x = b.args.at(name), numeric(x.size());
    const NDArray& array = exe.arg_dict().at(name);
    for (size_t i = 0; i < x.size(); ++i) {
      const double saved = x[i];
      x[i] = saved + c.eps;
      Set(array, x);
      const double plus = loss();
      x[i] = saved - c.eps;
      Set(array, x);
      const double minus = loss();
      x[i] = saved;
      numeric[i] = (plus - minus) / (2 * c.eps);
    }
    Set(array, x);
    test::ExpectAllNear(dx, numeric, c.rtol, c.atol,
                        "d/d" + name + " (executor gradient vs finite difference)");
  }

  Bound add = BindCase(c, "add");
  std::map<std::string, std::vector<double>> base;
  for (const auto& [name, grad] : add.exe.grad_dict()) {
    base[name] = test::RandomVector(static_cast<size_t>(grad.size()), rng);
    Set(grad, base[name]);
  }
  add.exe.Forward(true);
  add.exe.Backward(head_arrays);
  for (const auto& [name, grad] : add.exe.grad_dict()) {
    std::vector<double> expected = base[name];
    for (size_t i = 0; i < expected.size(); ++i) expected[i] += analytic[name][i];
    test::ExpectAllNear(Get(grad), expected, 1e-12, 1e-12, "grad_req 'add' of " + name);
  }
  return outputs;
}

}  // namespace loom::nn_test
