// Test helpers for the CPU kernels: random data, views over std::vector, closeness checks, a
// central finite-difference gradient checker and a req=kAddTo accumulation checker.
//
//   std::vector<double> x = RandomVector(12, rng);
//   auto loss = [&] { return Forward(x); };                 // returns the output values
//   std::vector<double> head = RandomVector(out_size, rng); // the head gradient dL/dy
//   std::vector<double> dx = Backward(x, head);              // analytic gradient
//   ExpectGradientNear("x", loss, x, head, dx);
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "loom/core/kernel.h"

namespace loom::test {

/// Uniform values in [lo, hi).
inline std::vector<double> RandomVector(size_t n, std::mt19937_64& rng, double lo = -1.0,
                                        double hi = 1.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

/// Uniform values in [lo, hi) kept at least `gap` away from zero (for kinks such as relu or abs).
inline std::vector<double> RandomAwayFromZero(size_t n, std::mt19937_64& rng, double gap = 0.1,
                                              double lo = -1.0, double hi = 1.0) {
  std::vector<double> v = RandomVector(n, rng, lo, hi);
  for (auto& x : v) {
    if (std::abs(x) < gap) x = x < 0 ? x - gap : x + gap;
  }
  return v;
}

/// A random integer in [lo, hi].
inline int64_t RandomInt(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

/// A view of v's memory with the given shape (dtype from T).
template <typename T>
TensorView View(std::vector<T>& v, const Shape& shape) {
  TensorView t;
  t.ptr = v.data();
  t.shape = shape;
  t.dtype = detail::DTypeOf<T>();
  t.ctx = Context::CPU();
  return t;
}
template <typename T>
TensorView View(const std::vector<T>& v, const Shape& shape) {
  return View(const_cast<std::vector<T>&>(v), shape);
}

/// Element-wise conversion.
template <typename To, typename From>
std::vector<To> Convert(const std::vector<From>& v) {
  std::vector<To> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<To>(v[i]);
  return out;
}

/// Every |actual - expected| <= atol + rtol * |expected| (NaN fails); reports the first few misses.
template <typename A, typename B>
void ExpectAllNear(const std::vector<A>& actual, const std::vector<B>& expected, double rtol,
                   double atol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual[i]);
    const double e = static_cast<double>(expected[i]);
    const bool ok = a == e || std::abs(a - e) <= atol + rtol * std::abs(e);
    if (!ok && reported++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: got " << a << " but expected " << e << " (rtol "
                    << rtol << ", atol " << atol << ")";
    }
  }
}

/// Checks `analytic` against the central finite difference of L = sum(head * forward()) with
/// respect to each element of `x` (forward() must read x through a reference). float64 only.
inline void ExpectGradientNear(const std::string& name,
                               const std::function<std::vector<double>()>& forward,
                               std::vector<double>& x, const std::vector<double>& head,
                               const std::vector<double>& analytic, double eps = 1e-6,
                               double rtol = 1e-5, double atol = 1e-6) {
  ASSERT_EQ(analytic.size(), x.size()) << "gradient of " << name;
  auto loss = [&] {
    const std::vector<double> y = forward();
    EXPECT_EQ(y.size(), head.size()) << "output size, checking " << name;
    double l = 0;
    for (size_t i = 0; i < y.size() && i < head.size(); ++i) l += head[i] * y[i];
    return l;
  };
  std::vector<double> numeric(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + eps;
    const double plus = loss();
    x[i] = saved - eps;
    const double minus = loss();
    x[i] = saved;
    numeric[i] = (plus - minus) / (2 * eps);
  }
  ExpectAllNear(analytic, numeric, rtol, atol, "d/d" + name + " (analytic vs finite difference)");
}

/// Runs `run(req, outs)` with kWriteTo over garbage and with kAddTo over random values, and
/// expects the second to equal the random values plus the first. `sizes` sizes the outputs.
template <typename T = double>
void ExpectAddToAccumulates(const std::function<void(OpReq, std::vector<std::vector<T>>&)>& run,
                            const std::vector<size_t>& sizes, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<T>> written;
  for (size_t n : sizes) written.emplace_back(n, T(123.25));
  run(OpReq::kWriteTo, written);
  std::vector<std::vector<T>> added, base;
  for (size_t n : sizes) {
    base.push_back(Convert<T>(RandomVector(n, rng)));
    added.push_back(base.back());
  }
  run(OpReq::kAddTo, added);
  const double tol = sizeof(T) == 8 ? 1e-12 : 1e-5;
  for (size_t o = 0; o < sizes.size(); ++o) {
    std::vector<double> expected(sizes[o]);
    for (size_t i = 0; i < sizes[o]; ++i) {
      expected[i] = static_cast<double>(base[o][i]) + static_cast<double>(written[o][i]);
    }
    ExpectAllNear(added[o], expected, tol, tol, "kAddTo output " + std::to_string(o));
  }
}

}  // namespace loom::test
