// softmax / log_softmax, SoftmaxOutput and regression outputs: references, MXNet's documented
// semantics (gradient ignores the head gradient, normalization modes, ignore_label), finite
// differences of the implied losses.
#include <gtest/gtest.h>

#include "gradient_check.h"
#include "operators/cpu/reference/softmax.h"
#include "operators/cpu/softmax.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

TEST(KernelsSoftmax, MatchesReferenceOnEveryAxisWithTemperature) {
  const Shape s{3, 4, 5};
  for (bool log : {false, true}) {
    for (int axis : {0, 1, 2, -1}) {
      for (double t : {1.0, 0.5, 3.0}) {
        SCOPED_TRACE((log ? "log_softmax axis " : "softmax axis ") + std::to_string(axis) +
                     " temperature " + std::to_string(t));
        std::mt19937_64 rng(axis + 10);
        auto x = RandomVector(s.Size(), rng, -3, 3), head = RandomVector(s.Size(), rng);
        std::vector<double> ref(x.size());
        reference::Softmax(s, axis < 0 ? axis + 3 : axis, t, log, x.data(), ref.data());
        SoftmaxParams p;
        p.axis = axis;
        if (t != 1.0) p.temperature = t;
        auto forward = [&] {
          std::vector<double> y(x.size());
          SoftmaxForward(p, log, View(x, s), View(y, s), OpReq::kWriteTo);
          return y;
        };
        std::vector<double> y = forward();
        ExpectAllNear(y, ref, 1e-13, 1e-13, "float64 out");
        auto xf = test::Convert<float>(x);
        std::vector<float> yf(x.size());
        SoftmaxForward(p, log, View(xf, s), View(yf, s), OpReq::kWriteTo);
        ExpectAllNear(yf, ref, 2e-6, 2e-6, "float32 out");
        std::vector<double> dx(x.size());
        SoftmaxBackward(p, log, View(head, s), View(y, s), View(dx, s), OpReq::kWriteTo);
        test::ExpectGradientNear("x", forward, x, head, dx);
      }
    }
  }
}

TEST(KernelsSoftmax, LargeInputsDoNotOverflow) {
  std::vector<float> x{1000, 1001, 1002}, y(3);
  SoftmaxForward(SoftmaxParams{}, false, View(x, Shape{1, 3}), View(y, Shape{1, 3}),
                 OpReq::kWriteTo);
  EXPECT_NEAR(y[0], 0.0900306, 1e-6);
  EXPECT_NEAR(y[2], 0.6652409, 1e-6);
}

// SoftmaxOutput over data (2, 3): probabilities and gradients computed by hand.
TEST(KernelsSoftmaxOutput, HandComputedGradientIgnoresHeadGradient) {
  std::vector<double> data{1, 2, 3, 1, 1, 1}, out(6), label{2, 0}, head(6, 100.0), grad(6);
  const Shape s{2, 3};
  SoftmaxOutputParams p;
  SoftmaxOutputForward(p, View(data, s), View(out, s), OpReq::kWriteTo);
  const double e = std::exp(1.0), z = 1 + e + e * e;
  ExpectAllNear(out, std::vector<double>{1 / z, e / z, e * e / z, 1 / 3., 1 / 3., 1 / 3.}, 1e-14,
                1e-14, "out");
  SoftmaxOutputBackward(p, View(out, s), View(label, Shape{2}), View(head, s), View(grad, s),
                        OpReq::kWriteTo);
  ExpectAllNear(grad, std::vector<double>{1 / z, e / z, e * e / z - 1, 1 / 3. - 1, 1 / 3., 1 / 3.},
                1e-14, 1e-14, "grad (head gradient of 100 ignored)");
  // normalization='batch' divides by N, grad_scale multiplies.
  p.normalization = SoftmaxNormalization::kBatch;
  p.grad_scale = 3;
  std::vector<double> scaled(6);
  SoftmaxOutputBackward(p, View(out, s), View(label, Shape{2}), View(head, s), View(scaled, s),
                        OpReq::kWriteTo);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(scaled[i], grad[i] * 1.5, 1e-14);
  // normalization='valid' with an ignored label divides by the one valid label.
  p.normalization = SoftmaxNormalization::kValid;
  p.grad_scale = 1;
  p.use_ignore = true;
  p.ignore_label = 0;
  SoftmaxOutputBackward(p, View(out, s), View(label, Shape{2}), View(head, s), View(scaled, s),
                        OpReq::kWriteTo);
  ExpectAllNear(scaled, std::vector<double>{1 / z, e / z, e * e / z - 1, 0, 0, 0}, 1e-14, 1e-14,
                "valid normalization with ignore_label");
}

TEST(KernelsSoftmaxOutput, ModesMatchReference) {
  struct Case {
    Shape data;
    SoftmaxOutputParams p;
    bool soft = false;
  };
  auto params = [](bool multi, bool preserve, SoftmaxNormalization norm, bool ignore, double alpha,
                   bool out_grad) {
    SoftmaxOutputParams p;
    p.multi_output = multi;
    p.preserve_shape = preserve;
    p.normalization = norm;
    p.use_ignore = ignore;
    p.ignore_label = 1;
    p.smooth_alpha = alpha;
    p.out_grad = out_grad;
    p.grad_scale = 0.7;
    return p;
  };
  const std::vector<Case> cases = {
      {Shape{4, 5}, params(false, false, SoftmaxNormalization::kNull, false, 0, false)},
      {Shape{4, 2, 3}, params(false, false, SoftmaxNormalization::kBatch, true, 0, false)},
      {Shape{3, 4, 2, 2}, params(true, false, SoftmaxNormalization::kValid, true, 0, false)},
      {Shape{3, 4, 5}, params(false, true, SoftmaxNormalization::kValid, false, 0.1, false)},
      {Shape{4, 5}, params(false, false, SoftmaxNormalization::kBatch, false, 0, true)},
      {Shape{4, 5}, params(false, false, SoftmaxNormalization::kNull, false, 0, false), true}};
  for (const Case& c : cases) {
    SCOPED_TRACE("data " + c.data.ToString());
    std::mt19937_64 rng(c.data.Size());
    int64_t outer, k, inner;
    if (c.p.multi_output) {
      outer = c.data[0], k = c.data[1], inner = c.data.Size(2, c.data.ndim());
    } else if (c.p.preserve_shape) {
      outer = c.data.Size() / c.data[c.data.ndim() - 1], k = c.data[c.data.ndim() - 1], inner = 1;
    } else {
      outer = c.data[0], k = c.data.Size() / c.data[0], inner = 1;
    }
    auto x = RandomVector(c.data.Size(), rng, -2, 2), head = RandomVector(c.data.Size(), rng);
    std::vector<double> label;
    if (c.soft) {
      label = RandomVector(c.data.Size(), rng, 0, 1);
    } else {
      for (int64_t i = 0; i < outer * inner; ++i)
        label.push_back(double(test::RandomInt(rng, 0, k - 1)));
    }
    std::vector<double> out(x.size()), grad(x.size());
    SoftmaxOutputForward(c.p, View(x, c.data), View(out, c.data), OpReq::kWriteTo);
    SoftmaxOutputBackward(c.p, View(out, c.data), View(label, Shape{int64_t(label.size())}),
                          View(head, c.data), View(grad, c.data), OpReq::kWriteTo);
    const auto ref =
        reference::SoftmaxOutputGrad(c.p, outer, k, inner, c.data[0], out, label, head);
    ExpectAllNear(grad, ref, 1e-14, 1e-14, "grad");
    // Float32 agrees too.
    auto xf = test::Convert<float>(x), headf = test::Convert<float>(head);
    std::vector<float> outf(x.size()), gradf(x.size());
    SoftmaxOutputForward(c.p, View(xf, c.data), View(outf, c.data), OpReq::kWriteTo);
    SoftmaxOutputBackward(c.p, View(outf, c.data), View(label, Shape{int64_t(label.size())}),
                          View(headf, c.data), View(gradf, c.data), OpReq::kWriteTo);
    ExpectAllNear(gradf, ref, 1e-5, 1e-5, "float32 grad");
  }
}

// The gradient is that of the cross-entropy loss -sum log p[label] (times grad_scale / N).
TEST(KernelsSoftmaxOutput, GradientIsCrossEntropyGradient) {
  std::mt19937_64 rng(5);
  const Shape s{3, 4};
  auto x = RandomVector(12, rng, -2, 2);
  std::vector<double> label{3, 0, 2};
  SoftmaxOutputParams p;
  p.normalization = SoftmaxNormalization::kBatch;
  p.grad_scale = 2;
  auto loss = [&] {
    std::vector<double> out(12);
    SoftmaxOutputForward(p, View(x, s), View(out, s), OpReq::kWriteTo);
    double l = 0;
    for (int r = 0; r < 3; ++r) l -= std::log(out[r * 4 + static_cast<int>(label[r])]);
    return std::vector<double>{l * p.grad_scale / 3};
  };
  std::vector<double> out(12), grad(12), unused(12);
  SoftmaxOutputForward(p, View(x, s), View(out, s), OpReq::kWriteTo);
  SoftmaxOutputBackward(p, View(out, s), View(label, Shape{3}), View(unused, s), View(grad, s),
                        OpReq::kWriteTo);
  test::ExpectGradientNear("data", loss, x, {1.0}, grad);
}

TEST(KernelsSoftmaxOutput, LabelOutOfRangeIsAnErrorNamingIt) {
  std::vector<float> out(6, 0.5f), grad(6), label{1, 3};
  try {
    SoftmaxOutputBackward(SoftmaxOutputParams{}, View(out, Shape{2, 3}), View(label, Shape{2}),
                          View(out, Shape{2, 3}), View(grad, Shape{2, 3}), OpReq::kWriteTo);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 3"), std::string::npos) << e.what();
  }
}

TEST(KernelsRegressionOutput, GradientsAndScaling) {
  // data (2, 2): num_output = 2, so the gradient is divided by 2.
  std::vector<double> data{0.5, -1, 2, 0}, label{1, -1, 0, 0.5}, out(4), grad(4);
  const Shape s{2, 2};
  RegressionOutputForward(RegressionType::kLinear, View(data, s), View(out, s), OpReq::kWriteTo);
  EXPECT_EQ(out, data);
  RegressionOutputBackward(RegressionType::kLinear, 3.0, View(out, s), View(label, s),
                           View(grad, s), OpReq::kWriteTo);
  ExpectAllNear(grad, std::vector<double>{-0.75, 0, 3, -0.75}, 1e-15, 1e-15, "linear");
  RegressionOutputBackward(RegressionType::kMAE, 1.0, View(out, s), View(label, s), View(grad, s),
                           OpReq::kWriteTo);
  ExpectAllNear(grad, std::vector<double>{-0.5, 0, 0.5, -0.5}, 1e-15, 1e-15, "mae");
  RegressionOutputForward(RegressionType::kLogistic, View(data, s), View(out, s), OpReq::kWriteTo);
  EXPECT_NEAR(out[0], 1 / (1 + std::exp(-0.5)), 1e-15);
  RegressionOutputBackward(RegressionType::kLogistic, 1.0, View(out, s), View(label, s),
                           View(grad, s), OpReq::kWriteTo);
  EXPECT_NEAR(grad[0], (out[0] - 1) / 2, 1e-15);
  // data (3, 1) with label (3,): num_output 1.
  std::vector<double> d3{1, 2, 3}, l3{0, 0, 0}, o3(3), g3(3);
  RegressionOutputBackward(RegressionType::kLinear, 1.0, View(d3, Shape{3, 1}), View(l3, Shape{3}),
                           View(g3, Shape{3, 1}), OpReq::kWriteTo);
  EXPECT_EQ(g3, d3);
  std::vector<double> wrong(2);
  EXPECT_THROW(
      RegressionOutputBackward(RegressionType::kLinear, 1.0, View(d3, Shape{3, 1}),
                               View(wrong, Shape{2}), View(g3, Shape{3, 1}), OpReq::kWriteTo),
      ShapeError);
}

// Each regression head's gradient is that of its loss: squared error / 2 (linear), cross-entropy
// of the sigmoid (logistic), absolute error (MAE), times grad_scale / (label.size / N).
TEST(KernelsRegressionOutput, GradientsAreLossGradients) {
  std::mt19937_64 rng(8);
  const Shape s{3, 2};
  auto x = test::RandomAwayFromZero(6, rng, 0.1, -2, 2);
  std::vector<double> label = RandomVector(6, rng, 0, 1);
  const double scale = 1.5, num_output = 2;
  for (RegressionType type :
       {RegressionType::kLinear, RegressionType::kLogistic, RegressionType::kMAE}) {
    SCOPED_TRACE(static_cast<int>(type));
    auto loss = [&] {
      std::vector<double> out(6);
      RegressionOutputForward(type, View(x, s), View(out, s), OpReq::kWriteTo);
      double l = 0;
      for (int i = 0; i < 6; ++i) {
        if (type == RegressionType::kLinear) l += 0.5 * (out[i] - label[i]) * (out[i] - label[i]);
        if (type == RegressionType::kLogistic) {
          l -= label[i] * std::log(out[i]) + (1 - label[i]) * std::log(1 - out[i]);
        }
        if (type == RegressionType::kMAE) l += std::abs(out[i] - label[i]);
      }
      return std::vector<double>{l * scale / num_output};
    };
    std::vector<double> out(6), grad(6);
    RegressionOutputForward(type, View(x, s), View(out, s), OpReq::kWriteTo);
    RegressionOutputBackward(type, scale, View(out, s), View(label, s), View(grad, s),
                             OpReq::kWriteTo);
    test::ExpectGradientNear("data", loss, x, {1.0}, grad);
  }
}

}  // namespace
}  // namespace loom::cpu
