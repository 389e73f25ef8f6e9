// Metrics against MXNet 1.9.1's documented examples (mx.metric docstrings) and hand-computed
// values.
#include "loom/train/metric.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

using ::testing::HasSubstr;

NDArray Array(std::vector<float> values, const Shape& shape) {
  return NDArray::FromHost<float>(values, shape);
}

// MXNet's docstring example for accuracy, cross-entropy and perplexity.
NDArray MxPred() { return Array({0.3f, 0.7f, 0.0f, 1.0f, 0.4f, 0.6f}, Shape{3, 2}); }
NDArray MxLabel() { return Array({0, 1, 1}, Shape{3}); }

double Value(const std::string& name, const NDArray& label, const NDArray& pred, int64_t rows,
             int top_k = 5) {
  auto metric = CreateMetric(name, top_k);
  metric->Update(label, pred, rows);
  return metric->Get();
}

TEST(Metric, MXNetDocumentedValues) {
  EXPECT_DOUBLE_EQ(Value("accuracy", MxLabel(), MxPred(), 3), 2.0 / 3.0);
  EXPECT_NEAR(Value("cross_entropy", MxLabel(), MxPred(), 3), 0.57159948348999023, 1e-7);
  EXPECT_NEAR(Value("perplexity", MxLabel(), MxPred(), 3), 1.7710976285155853, 1e-6);
  const NDArray pred = Array({3, -0.5f, 2, 7}, Shape{4, 1});
  const NDArray label = Array({2.5f, 0, 2, 8}, Shape{4, 1});
  EXPECT_DOUBLE_EQ(Value("mse", label, pred, 4), 0.375);
  EXPECT_DOUBLE_EQ(Value("mae", label, pred, 4), 0.5);
  // A 1-D label against a (batch, 1) prediction, as MXNet reshapes it.
  EXPECT_DOUBLE_EQ(Value("mse", Array({2.5f, 0, 2, 8}, Shape{4}), pred, 4), 0.375);
}

TEST(Metric, ValidRowsExcludePaddingAndUpdatesAccumulate) {
  auto acc = CreateMetric("accuracy");
  EXPECT_TRUE(std::isnan(acc->Get()));
  acc->Update(MxLabel(), MxPred(), 2);  // rows 0, 1: argmax 1, 1 against 0, 1
  EXPECT_DOUBLE_EQ(acc->Get(), 0.5);
  acc->Update(MxLabel(), MxPred(), 3);
  EXPECT_DOUBLE_EQ(acc->Get(), 3.0 / 5.0);
  acc->Update(MxLabel(), MxPred(), 0);
  EXPECT_DOUBLE_EQ(acc->Get(), 3.0 / 5.0);
  acc->Reset();
  EXPECT_TRUE(std::isnan(acc->Get()));

  // mse over the first two rows only: (0.5^2 + 0.5^2) / 2.
  const NDArray pred = Array({3, -0.5f, 2, 7}, Shape{4, 1});
  const NDArray label = Array({2.5f, 0, 2, 8}, Shape{4, 1});
  EXPECT_DOUBLE_EQ(Value("mse", label, pred, 2), 0.25);
  // cross-entropy of row 0 only: -log(0.3).
  EXPECT_NEAR(Value("cross_entropy", MxLabel(), MxPred(), 1), -std::log(0.3), 1e-7);
  EXPECT_THROW(Value("accuracy", MxLabel(), MxPred(), 4), Error);
  EXPECT_THROW(Value("accuracy", MxLabel(), MxPred(), -1), Error);
}

TEST(Metric, TopKCountsTheLabelAmongTheKLargest) {
  const NDArray pred =
      Array({0.1f, 0.5f, 0.3f, 0.1f,      // label 2: second
             0.4f, 0.3f, 0.2f, 0.1f,      // label 3: fourth
             0.25f, 0.25f, 0.25f, 0.25f,  // label 2: third (ties: lower index first)
             0.0f, 0.0f, 1.0f, 0.0f},     // label 0: second
            Shape{4, 4});
  const NDArray label = Array({2, 3, 2, 0}, Shape{4});
  EXPECT_DOUBLE_EQ(Value("top_k_accuracy", label, pred, 4, 2), 0.5);
  EXPECT_DOUBLE_EQ(Value("top_k_accuracy", label, pred, 4, 3), 0.75);
  EXPECT_DOUBLE_EQ(Value("top_k_accuracy", label, pred, 4, 4), 1.0);
  EXPECT_DOUBLE_EQ(Value("top_k_accuracy", label, pred, 4, 9), 1.0);
  // k = 1 is accuracy (first maximum wins).
  EXPECT_DOUBLE_EQ(Value("top_k_accuracy", label, pred, 4, 1), 0.0);
  EXPECT_DOUBLE_EQ(Value("accuracy", label, pred, 4), 0.0);
  EXPECT_DOUBLE_EQ(Value("top_3_accuracy", label, pred, 3), 2.0 / 3.0);
}

TEST(Metric, CrossEntropyAndPerplexityClipAsMXNet) {
  const NDArray pred = Array({0.0f, 1.0f}, Shape{1, 2});
  const NDArray label = Array({0}, Shape{1});
  // -log(0 + 1e-12) and exp(-log(max(0, 1e-10))).
  EXPECT_NEAR(Value("cross_entropy", label, pred, 1), 27.631021115928547, 1e-9);
  EXPECT_NEAR(Value("perplexity", label, pred, 1), 1e10, 1e-6 * 1e10);
}

TEST(Metric, LogLossesOverSequences) {
  // label (2, 2), pred (2, 2, 2): probabilities of the labels 0.9, 0.8 (row 0), 0.7, 0.6 (row 1).
  const NDArray pred = Array({0.9f, 0.1f, 0.2f, 0.8f, 0.3f, 0.7f, 0.6f, 0.4f}, Shape{2, 2, 2});
  const NDArray label = Array({0, 1, 1, 0}, Shape{2, 2});
  const double all = -(std::log(0.9) + std::log(0.8) + std::log(0.7) + std::log(0.6)) / 4;
  EXPECT_NEAR(Value("cross_entropy", label, pred, 2), all, 1e-7);
  EXPECT_NEAR(Value("perplexity", label, pred, 2), std::exp(all), 1e-6);
  EXPECT_NEAR(Value("cross_entropy", label, pred, 1), -(std::log(0.9) + std::log(0.8)) / 2, 1e-7);
}

TEST(Metric, AccuracyOnClassIndicesAndAlongAxisOne) {
  // A prediction of the label's shape holds classes; truncated like astype('int32').
  EXPECT_DOUBLE_EQ(
      Value("accuracy", Array({1, 2, 3}, Shape{3}), Array({1.0f, 2.7f, 0}, Shape{3}), 3),
      2.0 / 3.0);
  // pred (1, 3 classes, 2 positions): argmax over axis 1 is 1 then 0; labels 1, 2.
  const NDArray pred = Array({0.1f, 0.8f, 0.7f, 0.1f, 0.2f, 0.1f}, Shape{1, 3, 2});
  EXPECT_DOUBLE_EQ(Value("accuracy", Array({1, 2}, Shape{1, 2}), pred, 1), 0.5);
}

TEST(Metric, BadInputsNameTheProblem) {
  try {
    Value("cross_entropy", Array({0, 5, 1}, Shape{3}), MxPred(), 3);
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("label 5 in row 1 is not a class index in [0, 2)"));
  }
  EXPECT_THROW(Value("accuracy", Array({0, -1, 1}, Shape{3}), MxPred(), 3), DataError);
  EXPECT_THROW(Value("top_k_accuracy", Array({0, 2, 1}, Shape{3}), MxPred(), 3, 2), DataError);
  try {
    Value("accuracy", Array({0, 1}, Shape{2}), MxPred(), 2);
    ADD_FAILURE() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("label (2) and prediction (3,2)"));
  }
  EXPECT_THROW(Value("mse", MxLabel(), MxPred(), 3), ShapeError);
  EXPECT_THROW(Value("cross_entropy", Array({0, 1, 1, 0, 0, 1}, Shape{3, 2}), MxPred(), 3),
               ShapeError);
  const NDArray ints = NDArray::FromHost<int32_t>({0, 1, 1}, Shape{3});
  EXPECT_THROW(Value("accuracy", ints, MxPred(), 3), DTypeError);
}

TEST(Metric, NamesAndAliases) {
  EXPECT_EQ(CreateMetric("accuracy")->Name(), "accuracy");
  EXPECT_EQ(CreateMetric("acc")->Name(), "accuracy");
  EXPECT_EQ(CreateMetric("top_k_accuracy")->Name(), "top_5_accuracy");
  EXPECT_EQ(CreateMetric("top_k_accuracy", 3)->Name(), "top_3_accuracy");
  EXPECT_EQ(CreateMetric("top_10_accuracy")->Name(), "top_10_accuracy");
  EXPECT_EQ(CreateMetric("cross_entropy")->Name(), "cross_entropy");
  EXPECT_EQ(CreateMetric("ce")->Name(), "cross_entropy");
  EXPECT_EQ(CreateMetric("perplexity")->Name(), "perplexity");
  EXPECT_EQ(CreateMetric("mse")->Name(), "mse");
  EXPECT_EQ(CreateMetric("mae")->Name(), "mae");
  try {
    CreateMetric("f1");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("unknown metric 'f1': expected one of accuracy, top_k_accuracy"));
  }
  EXPECT_THROW(CreateMetric("top_k_accuracy", 0), ConfigError);
  EXPECT_THROW(CreateMetric("top_0_accuracy"), ConfigError);
}

}  // namespace
}  // namespace loom::train
