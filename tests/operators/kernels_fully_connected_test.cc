// FullyConnected CPU kernels: fast (OpenBLAS) vs the naive reference, gradients vs finite
// differences, req=kAddTo, and the GEMM partitioning over two threads.
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include "gradient_check.h"
#include "operators/cpu/fully_connected.h"
#include "operators/cpu/parallel.h"
#include "operators/cpu/reference/fully_connected.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

struct Case {
  Shape data;
  FullyConnectedParams p;
};

std::vector<Case> Cases() {
  return {{Shape{4, 5}, {.num_hidden = 3}},
          {Shape{3, 2, 3, 2}, {.num_hidden = 7}},
          {Shape{2, 3, 4}, {.num_hidden = 5, .no_bias = true, .flatten = false}},
          {Shape{5, 6}, {.num_hidden = 1, .no_bias = true}},
          {Shape{2, 2, 3}, {.num_hidden = 4, .flatten = false}}};
}

Shape OutShape(const Case& c) {
  int64_t rows, k;
  reference::FullyConnectedDims(c.p, c.data, &rows, &k);
  return Shape{rows, c.p.num_hidden};
}

template <typename T>
void CheckAgainstReference(const Case& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  int64_t rows, k;
  reference::FullyConnectedDims(c.p, c.data, &rows, &k);
  const int64_t h = c.p.num_hidden;
  auto x = RandomVector(c.data.Size(), rng), w = RandomVector(h * k, rng), b = RandomVector(h, rng),
       dy = RandomVector(rows * h, rng);
  std::vector<double> y_ref(rows * h), dx_ref(x.size()), dw_ref(w.size()), db_ref(h);
  reference::FullyConnectedForward(c.p, c.data, x.data(), w.data(), b.data(), y_ref.data());
  reference::FullyConnectedBackward(c.p, c.data, dy.data(), x.data(), w.data(), dx_ref.data(),
                                    dw_ref.data(), db_ref.data());

  auto xt = test::Convert<T>(x), wt = test::Convert<T>(w), bt = test::Convert<T>(b),
       dyt = test::Convert<T>(dy);
  std::vector<T> y(rows * h), dx(x.size()), dw(w.size()), db(h);
  TensorView bias = View(bt, Shape{h}), bias_grad = View(db, Shape{h});
  FullyConnectedForward(c.p, View(xt, c.data), View(wt, Shape{h, k}), &bias, View(y, OutShape(c)),
                        OpReq::kWriteTo);
  FullyConnectedBackward(c.p, View(dyt, OutShape(c)), View(xt, c.data), View(wt, Shape{h, k}),
                         View(dx, c.data), OpReq::kWriteTo, View(dw, Shape{h, k}), OpReq::kWriteTo,
                         &bias_grad, OpReq::kWriteTo);
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  ExpectAllNear(y, y_ref, tol, tol, "out");
  ExpectAllNear(dx, dx_ref, tol, tol, "data_grad");
  ExpectAllNear(dw, dw_ref, tol, tol, "weight_grad");
  if (!c.p.no_bias) ExpectAllNear(db, db_ref, tol, tol, "bias_grad");
}

TEST(KernelsFullyConnected, MatchesReferenceFloat32AndFloat64) {
  uint64_t seed = 1;
  for (const Case& c : Cases()) {
    SCOPED_TRACE("data " + c.data.ToString() + " num_hidden " + std::to_string(c.p.num_hidden));
    CheckAgainstReference<float>(c, seed++);
    CheckAgainstReference<double>(c, seed++);
  }
}

TEST(KernelsFullyConnected, GradientsMatchFiniteDifferences) {
  std::mt19937_64 rng(3);
  for (const Case& c : Cases()) {
    SCOPED_TRACE("data " + c.data.ToString());
    int64_t rows, k;
    reference::FullyConnectedDims(c.p, c.data, &rows, &k);
    const int64_t h = c.p.num_hidden;
    auto x = RandomVector(c.data.Size(), rng), w = RandomVector(h * k, rng),
         b = RandomVector(h, rng), head = RandomVector(rows * h, rng);
    auto forward = [&] {
      std::vector<double> y(rows * h);
      TensorView bias = View(b, Shape{h});
      FullyConnectedForward(c.p, View(x, c.data), View(w, Shape{h, k}), &bias, View(y, OutShape(c)),
                            OpReq::kWriteTo);
      return y;
    };
    std::vector<double> dx(x.size()), dw(w.size()), db(h);
    TensorView bias_grad = View(db, Shape{h});
    FullyConnectedBackward(c.p, View(head, OutShape(c)), View(x, c.data), View(w, Shape{h, k}),
                           View(dx, c.data), OpReq::kWriteTo, View(dw, Shape{h, k}),
                           OpReq::kWriteTo, &bias_grad, OpReq::kWriteTo);
    test::ExpectGradientNear("data", forward, x, head, dx);
    test::ExpectGradientNear("weight", forward, w, head, dw);
    if (!c.p.no_bias) test::ExpectGradientNear("bias", forward, b, head, db);
  }
}

TEST(KernelsFullyConnected, AddToAccumulates) {
  std::mt19937_64 rng(5);
  const FullyConnectedParams p{.num_hidden = 6};
  const Shape ds{4, 3, 2};
  auto x = RandomVector(24, rng), w = RandomVector(36, rng), b = RandomVector(6, rng),
       dy = RandomVector(24, rng);
  test::ExpectAddToAccumulates<double>(
      [&](OpReq req, std::vector<std::vector<double>>& o) {
        TensorView bias = View(b, Shape{6}), bias_grad = View(o[3], Shape{6});
        FullyConnectedForward(p, View(x, ds), View(w, Shape{6, 6}), &bias, View(o[0], Shape{4, 6}),
                              req);
        FullyConnectedBackward(p, View(dy, Shape{4, 6}), View(x, ds), View(w, Shape{6, 6}),
                               View(o[1], ds), req, View(o[2], Shape{6, 6}), req, &bias_grad, req);
      },
      {24, 24, 36, 6});
}

TEST(KernelsFullyConnected, TwoThreadsMatchOne) {
  // Large enough for the GEMMs to be split over threads (both the row and the column split).
  std::mt19937_64 rng(11);
  const FullyConnectedParams p{.num_hidden = 300};
  const Shape ds{70, 130};
  auto x = test::Convert<float>(RandomVector(70 * 130, rng));
  auto w = test::Convert<float>(RandomVector(300 * 130, rng));
  auto b = test::Convert<float>(RandomVector(300, rng));
  auto dy = test::Convert<float>(RandomVector(70 * 300, rng));
  auto run = [&](int threads) {
    const int saved = KernelThreads();
    SetKernelThreads(threads);
    std::vector<std::vector<float>> r = {std::vector<float>(70 * 300), std::vector<float>(70 * 130),
                                         std::vector<float>(300 * 130), std::vector<float>(300)};
    tbb::task_arena arena(threads);
    arena.execute([&] {
      TensorView bias = View(b, Shape{300}), bias_grad = View(r[3], Shape{300});
      FullyConnectedForward(p, View(x, ds), View(w, Shape{300, 130}), &bias,
                            View(r[0], Shape{70, 300}), OpReq::kWriteTo);
      FullyConnectedBackward(p, View(dy, Shape{70, 300}), View(x, ds), View(w, Shape{300, 130}),
                             View(r[1], ds), OpReq::kWriteTo, View(r[2], Shape{300, 130}),
                             OpReq::kWriteTo, &bias_grad, OpReq::kWriteTo);
    });
    SetKernelThreads(saved);
    return r;
  };
  auto one = run(1), two = run(2);
  for (size_t i = 0; i < one.size(); ++i) ExpectAllNear(two[i], one[i], 1e-5, 1e-5, "output");
}

TEST(KernelsFullyConnected, ShapeAndDTypeErrors) {
  std::vector<float> x(12), w(12), y(8);
  std::vector<int32_t> xi(12);
  const FullyConnectedParams p{.num_hidden = 2, .no_bias = true};
  EXPECT_THROW(FullyConnectedForward(p, View(x, Shape{4, 3}), View(w, Shape{3, 4}), nullptr,
                                     View(y, Shape{4, 2}), OpReq::kWriteTo),
               ShapeError);
  std::vector<int32_t> wi(6), yi(8);
  EXPECT_THROW(FullyConnectedForward(p, View(xi, Shape{4, 3}), View(wi, Shape{2, 3}), nullptr,
                                     View(yi, Shape{4, 2}), OpReq::kWriteTo),
               NotSupportedError);
}

}  // namespace
}  // namespace loom::cpu
