// ClipGlobalNorm: MXNet's gluon.utils.clip_global_norm (scale = max_norm / (norm + 1e-8) when
// below 1), with a deterministic summation order.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "loom/scheduler/error.h"
#include "loom/train/optimizer.h"

namespace loom::train {
namespace {

TEST(ClipGlobalNormTest, ScalesAllArraysToTheMaxNorm) {
  std::vector<NDArray> grads = {NDArray::FromHost<float>({3, 4}, {2}),
                                NDArray::FromHost<double>({12}, {1})};
  // norm = sqrt(9 + 16 + 144) = 13
  EXPECT_FLOAT_EQ(ClipGlobalNorm(grads, 6.5f), 13.0f);
  const double scale = 6.5 / (13 + 1e-8);
  EXPECT_NEAR(grads[0].ToVector<float>()[0], 3 * scale, 1e-6);
  EXPECT_NEAR(grads[0].ToVector<float>()[1], 4 * scale, 1e-6);
  EXPECT_NEAR(grads[1].ToVector<double>()[0], 12 * scale, 1e-12);
}

TEST(ClipGlobalNormTest, LeavesSmallGradientsUnchanged) {
  std::vector<NDArray> grads = {NDArray::FromHost<float>({0.3f, -0.4f}, {2})};
  EXPECT_FLOAT_EQ(ClipGlobalNorm(grads, 1.0f), 0.5f);
  EXPECT_EQ(grads[0].ToVector<float>(), (std::vector<float>{0.3f, -0.4f}));
}

TEST(ClipGlobalNormTest, LargeArraysMatchANaiveSumAndAreDeterministic) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0, 1);
  std::vector<float> a(300001), b(1234);
  for (float& v : a) v = dist(rng);
  for (float& v : b) v = dist(rng);
  double naive = 0;
  for (float v : a) naive += static_cast<double>(v) * v;
  for (float v : b) naive += static_cast<double>(v) * v;
  std::vector<NDArray> first = {NDArray::FromHost<float>(a, {300001}),
                                NDArray::FromHost<float>(b, {2, 617})};
  std::vector<NDArray> second = {NDArray::FromHost<float>(a, {300001}),
                                 NDArray::FromHost<float>(b, {2, 617})};
  const float norm1 = ClipGlobalNorm(first, 10.0f);
  const float norm2 = ClipGlobalNorm(second, 10.0f);
  EXPECT_NEAR(norm1, std::sqrt(naive), 1e-3);
  EXPECT_EQ(norm1, norm2);
  EXPECT_EQ(first[0].ToVector<float>(), second[0].ToVector<float>());
  double clipped = 0;
  for (const NDArray& g : first) {
    for (float v : g.ToVector<float>()) clipped += static_cast<double>(v) * v;
  }
  EXPECT_NEAR(std::sqrt(clipped), 10.0, 1e-4);
}

TEST(ClipGlobalNormTest, NonFiniteNormIsReturnedAndNothingScaled) {
  std::vector<NDArray> grads = {NDArray::FromHost<float>({NAN, 1.0f}, {2})};
  EXPECT_TRUE(std::isnan(ClipGlobalNorm(grads, 1.0f)));
  EXPECT_FLOAT_EQ(grads[0].ToVector<float>()[1], 1.0f);
}

TEST(ClipGlobalNormTest, RejectsNonPositiveMaxNormAndIntegerArrays) {
  std::vector<NDArray> grads = {NDArray::FromHost<float>({1.0f}, {1})};
  EXPECT_THROW(ClipGlobalNorm(grads, 0.0f), Error);
  std::vector<NDArray> ints = {NDArray::Zeros({2}, Context::CPU(), DType::kInt32)};
  EXPECT_THROW(ClipGlobalNorm(ints, 1.0f), DTypeError);
}

}  // namespace
}  // namespace loom::train
