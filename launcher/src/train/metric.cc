// The evaluation metrics of metric.h. Sums are kept in double; Get divides by the count.
#include "loom/train/metric.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

// The float32 host data of a metric argument, after its pending writes.
const float* HostFloats(const NDArray& a, const std::string& metric, const char* what) {
  LOOM_CHECK(!a.is_none(), "metric ", metric, ": expected a ", what, " array but got none");
  LOOM_CHECK(a.ctx().is_host(), "metric ", metric, ": expected the ", what,
             " array on the host but it is on ", a.ctx().ToString());
  LOOM_CHECK_TYPED(DTypeError, a.dtype() == DType::kFloat32, "metric ", metric,
                   ": expected a float32 ", what, " array but got ", ToString(a.dtype()));
  a.WaitToRead();
  return a.data<float>();
}

// Rows of a batch: pred's first dimension, which label's must equal; valid_rows within it.
int64_t CheckRows(const std::string& metric, const NDArray& label, const NDArray& pred,
                  int64_t valid_rows) {
  LOOM_CHECK_TYPED(
      ShapeError,
      pred.shape().ndim() >= 1 && label.shape().ndim() >= 1 && label.shape()[0] == pred.shape()[0],
      "metric ", metric,
      ": expected label and prediction with the same batch size "
      "(first dimension) but got label ",
      label.shape().ToString(), " and prediction ", pred.shape().ToString());
  const int64_t rows = pred.shape()[0];
  LOOM_CHECK(valid_rows >= 0 && valid_rows <= rows, "metric ", metric,
             ": expected valid_rows in [0, ", rows, "] but got ", valid_rows);
  return rows;
}

int64_t ClassOf(const std::string& metric, float label, int64_t row, int64_t classes) {
  const auto c = static_cast<int64_t>(label);  // truncation, as MXNet's astype('int32')
  LOOM_CHECK_TYPED(DataError, std::isfinite(label) && c >= 0 && c < classes, "metric ", metric,
                   ": label ", label, " in row ", row, " is not a class index in [0, ", classes,
                   ") (the prediction has ", classes, " classes)");
  return c;
}

class MeanMetric : public EvalMetric {
 public:
  void Reset() override {
    sum_ = 0.0;
    count_ = 0;
  }
  double Get() const override {
    return count_ == 0 ? std::numeric_limits<double>::quiet_NaN()
                       : sum_ / static_cast<double>(count_);
  }

 protected:
  double sum_ = 0.0;
  int64_t count_ = 0;
};

class Accuracy final : public MeanMetric {
 public:
  std::string Name() const override { return "accuracy"; }
  void Update(const NDArray& label, const NDArray& pred, int64_t valid_rows) override {
    const int64_t rows = CheckRows(Name(), label, pred, valid_rows);
    const float* y = HostFloats(label, Name(), "label");
    const float* p = HostFloats(pred, Name(), "prediction");
    if (label.shape() == pred.shape()) {  // predicted class indices
      const int64_t n = valid_rows * (label.size() / rows);
      for (int64_t i = 0; i < n; ++i) {
        sum_ += static_cast<int64_t>(p[i]) == static_cast<int64_t>(y[i]) ? 1.0 : 0.0;
      }
      count_ += n;
      return;
    }
    // Scores along axis 1: pred (rows, classes, d...) with label (rows, d...).
    LOOM_CHECK_TYPED(ShapeError,
                     pred.shape().ndim() >= 2 && label.size() * pred.shape()[1] == pred.size(),
                     "metric accuracy: expected a prediction of the label's shape or with one "
                     "class axis (axis 1) more but got label ",
                     label.shape().ToString(), " and prediction ", pred.shape().ToString());
    const int64_t classes = pred.shape()[1];
    const int64_t inner = label.size() / rows;
    for (int64_t r = 0; r < valid_rows; ++r) {
      for (int64_t j = 0; j < inner; ++j) {
        const float* scores = p + r * classes * inner + j;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; ++c) {
          if (scores[c * inner] > scores[best * inner]) best = c;
        }
        const int64_t truth = ClassOf(Name(), y[r * inner + j], r, classes);
        sum_ += best == truth ? 1.0 : 0.0;
      }
    }
    count_ += valid_rows * inner;
  }
};

class TopKAccuracy final : public MeanMetric {
 public:
  explicit TopKAccuracy(int k) : k_(k) {}
  std::string Name() const override { return "top_" + std::to_string(k_) + "_accuracy"; }
  void Update(const NDArray& label, const NDArray& pred, int64_t valid_rows) override {
    const int64_t rows = CheckRows(Name(), label, pred, valid_rows);
    LOOM_CHECK_TYPED(ShapeError, pred.shape().ndim() == 2 && label.size() == rows, "metric ",
                     Name(),
                     ": expected a prediction (batch, classes) and one label "
                     "per row but got label ",
                     label.shape().ToString(), " and prediction ", pred.shape().ToString());
    const float* y = HostFloats(label, Name(), "label");
    const float* p = HostFloats(pred, Name(), "prediction");
    const int64_t classes = pred.shape()[1];
    for (int64_t r = 0; r < valid_rows; ++r) {
      const float* scores = p + r * classes;
      const int64_t truth = ClassOf(Name(), y[r], r, classes);
      // The label's rank: classes scoring higher, or equal with a lower index, come first.
      int64_t ahead = 0;
      for (int64_t c = 0; c < classes; ++c) {
        if (scores[c] > scores[truth] || (scores[c] == scores[truth] && c < truth)) ++ahead;
      }
      sum_ += ahead < k_ ? 1.0 : 0.0;
    }
    count_ += valid_rows;
  }

 private:
  int k_;
};

// Mean of -log of the label's probability, for cross_entropy and perplexity: pred (rows, d...,
// classes) with label (rows, d...).
class LogLoss : public MeanMetric {
 protected:
  template <typename Term>
  void Accumulate(const NDArray& label, const NDArray& pred, int64_t valid_rows, Term term) {
    const int64_t rows = CheckRows(Name(), label, pred, valid_rows);
    const int64_t classes = pred.shape()[pred.shape().ndim() - 1];
    LOOM_CHECK_TYPED(ShapeError, pred.shape().ndim() >= 2 && label.size() * classes == pred.size(),
                     "metric ", Name(),
                     ": expected a prediction with one class axis (last) more "
                     "than the label but got label ",
                     label.shape().ToString(), " and prediction ", pred.shape().ToString());
    const float* y = HostFloats(label, Name(), "label");
    const float* p = HostFloats(pred, Name(), "prediction");
    const int64_t inner = label.size() / rows;
    for (int64_t i = 0; i < valid_rows * inner; ++i) {
      const int64_t truth = ClassOf(Name(), y[i], i / inner, classes);
      sum_ += term(static_cast<double>(p[i * classes + truth]));
    }
    count_ += valid_rows * inner;
  }
};

class CrossEntropy final : public LogLoss {
 public:
  std::string Name() const override { return "cross_entropy"; }
  void Update(const NDArray& label, const NDArray& pred, int64_t valid_rows) override {
    Accumulate(label, pred, valid_rows, [](double prob) { return -std::log(prob + 1e-12); });
  }
};

class Perplexity final : public LogLoss {
 public:
  std::string Name() const override { return "perplexity"; }
  void Update(const NDArray& label, const NDArray& pred, int64_t valid_rows) override {
    Accumulate(label, pred, valid_rows,
               [](double prob) { return -std::log(std::max(prob, 1e-10)); });
  }
  double Get() const override { return std::exp(LogLoss::Get()); }
};

// mse and mae: label and prediction with the same elements per row.
class ElementwiseError final : public MeanMetric {
 public:
  explicit ElementwiseError(bool squared) : squared_(squared) {}
  std::string Name() const override { return squared_ ? "mse" : "mae"; }
  void Update(const NDArray& label, const NDArray& pred, int64_t valid_rows) override {
    const int64_t rows = CheckRows(Name(), label, pred, valid_rows);
    LOOM_CHECK_TYPED(ShapeError, label.size() == pred.size(), "metric ", Name(),
                     ": expected label and prediction with the same number of elements but got "
                     "label ",
                     label.shape().ToString(), " and prediction ", pred.shape().ToString());
    const float* y = HostFloats(label, Name(), "label");
    const float* p = HostFloats(pred, Name(), "prediction");
    const int64_t n = valid_rows * (label.size() / rows);
    for (int64_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(y[i]) - static_cast<double>(p[i]);
      sum_ += squared_ ? d * d : std::abs(d);
    }
    count_ += n;
  }

 private:
  bool squared_;
};

}  // namespace

std::unique_ptr<EvalMetric> CreateMetric(const std::string& name, int top_k) {
  if (name == "accuracy" || name == "acc") return std::make_unique<Accuracy>();
  if (name == "top_k_accuracy" || name == "top_k_acc") {
    LOOM_CHECK_TYPED(ConfigError, top_k >= 1, "metric top_k_accuracy: expected top_k >= 1 but got ",
                     top_k);
    return std::make_unique<TopKAccuracy>(top_k);
  }
  // "top_<k>_accuracy", the name such a metric reports, works as well.
  if (name.size() > 13 && name.starts_with("top_") && name.ends_with("_accuracy")) {
    const std::string digits = name.substr(4, name.size() - 13);
    if (!digits.empty() && digits.size() <= 6 &&
        digits.find_first_not_of("0123456789") == std::string::npos && std::stoi(digits) >= 1) {
      return std::make_unique<TopKAccuracy>(std::stoi(digits));
    }
  }
  if (name == "cross_entropy" || name == "ce") return std::make_unique<CrossEntropy>();
  if (name == "perplexity") return std::make_unique<Perplexity>();
  if (name == "mse") return std::make_unique<ElementwiseError>(true);
  if (name == "mae") return std::make_unique<ElementwiseError>(false);
  throw ConfigError("unknown metric '" + name +
                    "': expected one of accuracy, top_k_accuracy, cross_entropy, perplexity, mse, "
                    "mae");
}

}  // namespace loom::train
