// dot and batch_dot CPU kernels vs a naive product, gradients vs finite differences, kAddTo.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "operators/cpu/dot.h"
#include "operators/cpu/reference/misc.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

struct Case {
  Shape a, b;
  bool ta, tb;
  int64_t m, n, k;
};

std::vector<Case> DotCases() {
  return {{Shape{3, 4}, Shape{4, 5}, false, false, 3, 5, 4},
          {Shape{4, 3}, Shape{4, 5}, true, false, 3, 5, 4},
          {Shape{3, 4}, Shape{5, 4}, false, true, 3, 5, 4},
          {Shape{4, 3}, Shape{5, 4}, true, true, 3, 5, 4},
          {Shape{2, 3, 4}, Shape{4, 2, 3}, false, false, 6, 6, 4},
          {Shape{6}, Shape{6}, false, false, 1, 1, 6}};
}

TEST(KernelsDot, MatchesNaiveProductAndFiniteDifferences) {
  std::mt19937_64 rng(1);
  for (const Case& c : DotCases()) {
    SCOPED_TRACE(c.a.ToString() + " x " + c.b.ToString() + " ta=" + std::to_string(c.ta) +
                 " tb=" + std::to_string(c.tb));
    const DotParams p{c.ta, c.tb};
    auto a = RandomVector(c.a.Size(), rng), b = RandomVector(c.b.Size(), rng);
    const Shape out{c.m * c.n};
    auto forward = [&] {
      std::vector<double> y(c.m * c.n);
      DotForward(p, View(a, c.a), View(b, c.b), View(y, out), OpReq::kWriteTo);
      return y;
    };
    ExpectAllNear(forward(), reference::MatMul(a, b, c.m, c.n, c.k, c.ta, c.tb), 1e-13, 1e-13,
                  "out");
    auto af = test::Convert<float>(a), bf = test::Convert<float>(b);
    std::vector<float> yf(c.m * c.n);
    DotForward(p, View(af, c.a), View(bf, c.b), View(yf, out), OpReq::kWriteTo);
    ExpectAllNear(yf, reference::MatMul(a, b, c.m, c.n, c.k, c.ta, c.tb), 1e-5, 1e-5,
                  "float32 out");
    auto head = RandomVector(c.m * c.n, rng);
    std::vector<double> da(a.size()), db(b.size());
    DotBackward(p, View(head, out), View(a, c.a), View(b, c.b), View(da, c.a), OpReq::kWriteTo,
                View(db, c.b), OpReq::kWriteTo);
    test::ExpectGradientNear("lhs", forward, a, head, da);
    test::ExpectGradientNear("rhs", forward, b, head, db);
  }
}

TEST(KernelsDot, InnerSizeMismatchIsShapeError) {
  std::vector<float> a(12), b(12), y(9);
  EXPECT_THROW(DotForward({}, View(a, Shape{3, 4}), View(b, Shape{3, 4}), View(y, Shape{3, 3}),
                          OpReq::kWriteTo),
               ShapeError);
}

TEST(KernelsBatchDot, MatchesPerBatchProductsAndFiniteDifferences) {
  std::mt19937_64 rng(2);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      SCOPED_TRACE("ta=" + std::to_string(ta) + " tb=" + std::to_string(tb));
      const int64_t batch = 3, m = 2, n = 4, k = 3;
      const Shape as = ta ? Shape{batch, k, m} : Shape{batch, m, k};
      const Shape bs = tb ? Shape{batch, n, k} : Shape{batch, k, n};
      const Shape out{batch, m, n};
      const DotParams p{ta, tb};
      auto a = RandomVector(as.Size(), rng), b = RandomVector(bs.Size(), rng);
      std::vector<double> ref;
      for (int64_t i = 0; i < batch; ++i) {
        std::vector<double> ai(a.begin() + i * m * k, a.begin() + (i + 1) * m * k);
        std::vector<double> bi(b.begin() + i * k * n, b.begin() + (i + 1) * k * n);
        auto ci = reference::MatMul(ai, bi, m, n, k, ta, tb);
        ref.insert(ref.end(), ci.begin(), ci.end());
      }
      auto forward = [&] {
        std::vector<double> y(out.Size());
        BatchDotForward(p, View(a, as), View(b, bs), View(y, out), OpReq::kWriteTo);
        return y;
      };
      ExpectAllNear(forward(), ref, 1e-13, 1e-13, "out");
      auto head = RandomVector(out.Size(), rng);
      std::vector<double> da(a.size()), db(b.size());
      BatchDotBackward(p, View(head, out), View(a, as), View(b, bs), View(da, as), OpReq::kWriteTo,
                       View(db, bs), OpReq::kWriteTo);
      test::ExpectGradientNear("lhs", forward, a, head, da);
      test::ExpectGradientNear("rhs", forward, b, head, db);
      test::ExpectAddToAccumulates<double>(
          [&](OpReq req, std::vector<std::vector<double>>& o) {
            BatchDotForward(p, View(a, as), View(b, bs), View(o[0], out), req);
            BatchDotBackward(p, View(head, out), View(a, as), View(b, bs), View(o[1], as), req,
                             View(o[2], bs), req);
          },
          {static_cast<size_t>(out.Size()), a.size(), b.size()});
    }
  }
}

}  // namespace
}  // namespace loom::cpu
