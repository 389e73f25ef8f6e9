// Embedding, one_hot, LRN and UpSampling CPU kernels: hand-computed values, references, finite
// differences, out-of-range index errors.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "operators/cpu/indexing.h"
#include "operators/cpu/lrn.h"
#include "operators/cpu/reference/misc.h"
#include "operators/cpu/upsampling.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

TEST(KernelsEmbedding, GathersRowsAndScatterAddsGradients) {
  std::vector<double> weight{0, 1, 10, 11, 20, 21, 30, 31}, idx{2, 0, 2}, out(6);
  EmbeddingForward(View(idx, Shape{3}), View(weight, Shape{4, 2}), View(out, Shape{3, 2}),
                   OpReq::kWriteTo);
  EXPECT_EQ(out, (std::vector<double>{20, 21, 0, 1, 20, 21}));
  std::vector<double> dy{1, 2, 3, 4, 5, 6}, dw(8, 9.0);
  EmbeddingBackward(View(dy, Shape{3, 2}), View(idx, Shape{3}), View(dw, Shape{4, 2}),
                    OpReq::kWriteTo);
  EXPECT_EQ(dw, (std::vector<double>{3, 4, 0, 0, 6, 8, 0, 0}));
  EmbeddingBackward(View(dy, Shape{3, 2}), View(idx, Shape{3}), View(dw, Shape{4, 2}),
                    OpReq::kAddTo);
  EXPECT_EQ(dw, (std::vector<double>{6, 8, 0, 0, 12, 16, 0, 0}));
  std::vector<int32_t> int_idx{3, 1};
  std::vector<float> wf{0, 1, 10, 11, 20, 21, 30, 31}, of(4);
  EmbeddingForward(View(int_idx, Shape{2}), View(wf, Shape{4, 2}), View(of, Shape{2, 2}),
                   OpReq::kWriteTo);
  EXPECT_EQ(of, (std::vector<float>{30, 31, 10, 11}));
}

TEST(KernelsEmbedding, WeightGradientMatchesFiniteDifferences) {
  std::mt19937_64 rng(6);
  auto weight = RandomVector(5 * 3, rng), head = RandomVector(4 * 3, rng);
  const std::vector<double> idx{4, 1, 4, 0};
  auto forward = [&] {
    std::vector<double> out(12);
    EmbeddingForward(View(idx, Shape{2, 2}), View(weight, Shape{5, 3}), View(out, Shape{2, 2, 3}),
                     OpReq::kWriteTo);
    return out;
  };
  std::vector<double> dw(15);
  EmbeddingBackward(View(head, Shape{2, 2, 3}), View(idx, Shape{2, 2}), View(dw, Shape{5, 3}),
                    OpReq::kWriteTo);
  test::ExpectGradientNear("weight", forward, weight, head, dw);
}

TEST(KernelsEmbedding, OutOfRangeIndexNamesIndexAndInputDim) {
  std::vector<float> weight(8), idx{1, 4}, out(4);
  try {
    EmbeddingForward(View(idx, Shape{2}), View(weight, Shape{4, 2}), View(out, Shape{2, 2}),
                     OpReq::kWriteTo);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("index 4"), std::string::npos) << what;
    EXPECT_NE(what.find("input_dim=4"), std::string::npos) << what;
  }
  std::vector<float> negative{-1};
  EXPECT_THROW(EmbeddingBackward(View(out, Shape{1, 2}), View(negative, Shape{1}),
                                 View(weight, Shape{4, 2}), OpReq::kWriteTo),
               Error);
}

TEST(KernelsOneHot, WritesOnAndOffValuesAndChecksDepth) {
  std::vector<float> idx{1, 0, 2}, out(9);
  OneHot(View(idx, Shape{3}), 3, 5.0, -1.0, View(out, Shape{3, 3}), OpReq::kWriteTo);
  EXPECT_EQ(out, (std::vector<float>{-1, 5, -1, 5, -1, -1, -1, -1, 5}));
  std::vector<int32_t> as_int(9);
  OneHot(View(idx, Shape{3}), 3, 1.0, 0.0, View(as_int, Shape{3, 3}), OpReq::kWriteTo);
  EXPECT_EQ(as_int, (std::vector<int32_t>{0, 1, 0, 1, 0, 0, 0, 0, 1}));
  std::vector<float> bad{3};
  try {
    OneHot(View(bad, Shape{1}), 3, 1.0, 0.0, View(out, Shape{1, 3}), OpReq::kWriteTo);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("depth=3"), std::string::npos) << e.what();
  }
}

TEST(KernelsLRN, MatchesFormulaAndFiniteDifferences) {
  std::mt19937_64 rng(4);
  const Shape s{2, 6, 2, 3};
  for (int64_t nsize : {1, 3, 5}) {
    SCOPED_TRACE("nsize " + std::to_string(nsize));
    LRNParams p;
    p.nsize = nsize;
    p.alpha = 0.3;  // large enough for the normalisation to matter
    auto x = RandomVector(s.Size(), rng, -2, 2), head = RandomVector(s.Size(), rng);
    std::vector<double> norm(s.Size());
    auto forward = [&] {
      std::vector<double> y(s.Size());
      LRNForward(p, View(x, s), View(y, s), OpReq::kWriteTo, View(norm, s));
      return y;
    };
    ExpectAllNear(forward(), reference::Lrn(p, x, s), 1e-13, 1e-13, "out");
    std::vector<double> dx(s.Size());
    LRNBackward(p, View(head, s), View(x, s), View(norm, s), View(dx, s), OpReq::kWriteTo);
    test::ExpectGradientNear("data", forward, x, head, dx);
  }
}

TEST(KernelsUpSampling, NearestRepeatsAndSumsBlocks) {
  std::vector<float> x{1, 2, 3, 4}, y(16);
  UpSamplingNearestForward(View(x, Shape{1, 1, 2, 2}), View(y, Shape{1, 1, 4, 4}), 0,
                           OpReq::kWriteTo);
  EXPECT_EQ(y, (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  std::vector<float> dx(4);
  UpSamplingNearestBackward(View(y, Shape{1, 1, 4, 4}), 0, View(dx, Shape{1, 1, 2, 2}),
                            OpReq::kWriteTo);
  EXPECT_EQ(dx, (std::vector<float>{4, 8, 12, 16}));
  // Two inputs concatenated on channels with different scales.
  std::vector<double> a{1, 2, 3, 4}, b{7}, both(2 * 16);
  UpSamplingNearestForward(View(a, Shape{1, 1, 2, 2}), View(both, Shape{1, 2, 4, 4}), 0,
                           OpReq::kWriteTo);
  UpSamplingNearestForward(View(b, Shape{1, 1, 1, 1}), View(both, Shape{1, 2, 4, 4}), 1,
                           OpReq::kWriteTo);
  EXPECT_EQ(both[5], 1);
  for (int i = 16; i < 32; ++i) EXPECT_EQ(both[i], 7);
  std::mt19937_64 rng(5);
  auto xr = RandomVector(12, rng), head = RandomVector(48, rng);
  auto forward = [&] {
    std::vector<double> out(48);
    UpSamplingNearestForward(View(xr, Shape{1, 3, 2, 2}), View(out, Shape{1, 3, 4, 4}), 0,
                             OpReq::kWriteTo);
    return out;
  };
  std::vector<double> g(12);
  UpSamplingNearestBackward(View(head, Shape{1, 3, 4, 4}), 0, View(g, Shape{1, 3, 2, 2}),
                            OpReq::kWriteTo);
  test::ExpectGradientNear("data", forward, xr, head, g);
  std::vector<float> odd(9);
  EXPECT_THROW(UpSamplingNearestForward(View(x, Shape{1, 1, 2, 2}), View(odd, Shape{1, 1, 3, 3}), 0,
                                        OpReq::kWriteTo),
               ShapeError);
}

}  // namespace
}  // namespace loom::cpu
