// Operators that exist only in the core tests, so the executor is tested without the operator
// layer: each has CPU kernels (float32 and float64), and most a GradientFn with backward
// operators, written to the executor's gradient contract (docs/executor.md). Registered in
// executor_test_ops.cc.
//
//   _test_add(lhs, rhs)          lhs + rhs; gradient (g, g) returned directly; in place
//   _test_mul(lhs, rhs)          lhs * rhs; gradient by one _backward_test_mul node
//   _test_scale(data)            alpha * data + beta; gradient built from _test_scale itself
//   _test_fc(data, weight)       data · weightᵀ (num_hidden); asks for temp space
//   _test_relu(data)             max(data, 0); in place; gradient in place
//   _test_sum(data)              sum of all elements, shape (1,); backward op without shape rules
//   _test_loss(data, label)      data; gradient data - label, ignoring the head gradient
//   _test_blockgrad(data)        data; zero gradient
//   _test_nograd(data)           data; no gradient function
//   _test_norm(data, gamma, moving_mean)  data * gamma (per column); in training updates the
//                                auxiliary state moving_mean; in inference data * gamma -
//                                moving_mean
//   _test_split2(data)           two outputs: data and 2 * data
//   _test_rand(data)             data + uniform [0, 1) noise from the executor's generator
//   _test_fail(data)             throws from its kernel
//   _test_sqrt(data)             sqrt(data) (NaN for negative inputs)
#pragma once

#include <string>
#include <vector>

#include "loom/core/executor.h"
#include "loom/core/symbol.h"

namespace loom::test {

/// A test operator applied to inputs, with parameters and an optional name.
Symbol TestOp(const std::string& op, const std::vector<Symbol>& inputs, const StrMap& params = {},
              const std::string& name = "");

/// The contents of an array as doubles (float32 and float64 arrays).
std::vector<double> Values(const NDArray& a);

/// Copies src into dst (a handle the executor hands out as const).
void Set(NDArray dst, const NDArray& src);

/// A float array of `shape` filled with `values` (float32 by default).
NDArray Array(const std::vector<double>& values, const Shape& shape, DType dtype = DType::kFloat32,
              Context ctx = Context::CPU());

/// MXNet's T34 chain: (data1 + data2) * 3 ("plus", "times3") in ctx_group dev1, then + data3
/// ("plus3") in ctx_group dev2.
Symbol T34Chain();

}  // namespace loom::test
