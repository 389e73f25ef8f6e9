// Loss heads through the executor (mxnet-facts.md §9): SoftmaxOutput's gradient ignores head
// gradients and follows normalization null/batch/valid, grad_scale, ignore_label/use_ignore and
// multi_output; the regression outputs, MakeLoss and make_loss; Backward() needs no head gradient
// for any of them. Values computed by hand; a small MLP's gradient against the finite difference
// of its cross-entropy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"

namespace loom {
namespace {

using nn_test::Get;
using nn_test::Op;
using nn_test::Set;

struct SoftmaxRun {
  std::vector<double> out, grad, label_grad;
};

// SoftmaxOutput over data (2, 3) = [[1, 2, 3], [1, 1, 1]] with labels (2, 0).
SoftmaxRun RunSoftmaxOutput(const std::vector<std::pair<std::string, std::string>>& params,
                            bool head_grads = false) {
  Symbol sm = Op("SoftmaxOutput", params);
  Executor exe =
      Executor::SimpleBind(sm, Context::CPU(), {{"op_data", {2, 3}}},
                           {{"op_data", DType::kFloat64}, {"op_label", DType::kFloat64}});
  Set(exe.arg_dict().at("op_data"), {1, 2, 3, 1, 1, 1});
  Set(exe.arg_dict().at("op_label"), {2, 0});
  exe.Forward(true);
  if (head_grads) {
    exe.Backward({NDArray::Full({2, 3}, 100.0, Context::CPU(), DType::kFloat64)});
  } else {
    exe.Backward();
  }
  return {Get(exe.outputs()[0]), Get(exe.grad_dict().at("op_data")),
          Get(exe.grad_dict().at("op_label"))};
}

const double kE = std::exp(1.0), kZ = 1 + kE + kE * kE;
const std::vector<double> kProbs{1 / kZ, kE / kZ, kE* kE / kZ, 1 / 3., 1 / 3., 1 / 3.};
const std::vector<double> kGrad{1 / kZ, kE / kZ, kE* kE / kZ - 1, 1 / 3. - 1, 1 / 3., 1 / 3.};

TEST(NnSoftmaxOutput, GradientIsProbabilitiesMinusOneHotWhateverTheHeadGradient) {
  for (bool heads : {false, true}) {
    SCOPED_TRACE(heads ? "head gradients of 100 given" : "Backward() without head gradients");
    const SoftmaxRun r = RunSoftmaxOutput({}, heads);
    test::ExpectAllNear(r.out, kProbs, 1e-14, 1e-14, "probabilities");
    test::ExpectAllNear(r.grad, kGrad, 1e-14, 1e-14, "data gradient");
    EXPECT_EQ(r.label_grad, (std::vector<double>{0, 0})) << "the label gets no gradient";
  }
}

TEST(NnSoftmaxOutput, NormalizationAndGradScale) {
  // batch: divided by N = 2; grad_scale 3.
  SoftmaxRun r = RunSoftmaxOutput({{"normalization", "batch"}, {"grad_scale", "3"}});
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(r.grad[i], kGrad[i] * 1.5, 1e-14);
  // valid without use_ignore: every label counts (2).
  r = RunSoftmaxOutput({{"normalization", "valid"}});
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(r.grad[i], kGrad[i] / 2, 1e-14);
  // valid with label 0 ignored: the second row gets zero, the first is divided by 1.
  r = RunSoftmaxOutput({{"normalization", "valid"}, {"use_ignore", "True"}, {"ignore_label", "0"}});
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(r.grad[i], kGrad[i], 1e-14);
  for (size_t i = 3; i < 6; ++i) EXPECT_EQ(r.grad[i], 0.0);
  // null with the ignored label: zero for row 2, row 1 unscaled.
  r = RunSoftmaxOutput({{"use_ignore", "True"}, {"ignore_label", "0"}, {"grad_scale", "2"}});
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(r.grad[i], 2 * kGrad[i], 1e-14);
  for (size_t i = 3; i < 6; ++i) EXPECT_EQ(r.grad[i], 0.0);
  // out_grad=True multiplies by the head gradient (100).
  r = RunSoftmaxOutput({{"out_grad", "True"}}, true);
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(r.grad[i], 100 * kGrad[i], 1e-12);
}

// multi_output: softmax over axis 1 of (N, C, positions) with one label per position.
TEST(NnSoftmaxOutput, MultiOutputSoftmaxOverChannels) {
  Symbol sm = Op("SoftmaxOutput", {{"multi_output", "True"}, {"normalization", "valid"}});
  Executor exe =
      Executor::SimpleBind(sm, Context::CPU(), {{"op_data", {1, 3, 2}}},
                           {{"op_data", DType::kFloat64}, {"op_label", DType::kFloat64}});
  EXPECT_EQ(exe.arg_dict().at("op_label").shape(), (Shape{1, 2}));
  // Position 0 holds (1, 2, 3) over the channels, position 1 (1, 1, 1).
  Set(exe.arg_dict().at("op_data"), {1, 1, 2, 1, 3, 1});
  Set(exe.arg_dict().at("op_label"), {2, 0});
  exe.Forward(true);
  exe.Backward();
  const std::vector<double> out = Get(exe.outputs()[0]), grad = Get(exe.grad_dict().at("op_data"));
  const std::vector<double> channel_major{kProbs[0], kProbs[3], kProbs[1],
                                          kProbs[4], kProbs[2], kProbs[5]};
  test::ExpectAllNear(out, channel_major, 1e-14, 1e-14, "probabilities");
  const std::vector<double> expected{kGrad[0] / 2, kGrad[3] / 2, kGrad[1] / 2,
                                     kGrad[4] / 2, kGrad[2] / 2, kGrad[5] / 2};
  test::ExpectAllNear(grad, expected, 1e-14, 1e-14, "gradient (valid: 2 labels)");
}

TEST(NnSoftmaxOutput, LabelOutOfRangeNamesTheNode) {
  Symbol sm = Op("SoftmaxOutput", {}, {}, "softmax");
  Executor exe = Executor::SimpleBind(sm, Context::CPU(), {{"softmax_data", {2, 3}}});
  Set(exe.arg_dict().at("softmax_label"), {1, 3});
  exe.Forward(true);
  exe.Backward();
  EXPECT_THAT([&] { exe.grad_dict().at("softmax_data").WaitToRead(); },
              ::testing::ThrowsMessage<Error>(
                  ::testing::AllOf(::testing::HasSubstr("label 3 at position 1 is outside [0, 3)"),
                                   ::testing::HasSubstr("softmax_backward"))));
}

// An MLP's SoftmaxOutput gradient is the gradient of the summed cross-entropy -sum log p[label].
TEST(NnSoftmaxOutput, MlpGradientIsTheCrossEntropyGradient) {
  Symbol x = Symbol::Variable("data");
  Symbol fc1 = Op("FullyConnected", {{"num_hidden", "5"}}, {x}, "fc1");
  Symbol act = Op("Activation", {{"act_type", "tanh"}}, {fc1}, "tanh1");
  Symbol fc2 = Op("FullyConnected", {{"num_hidden", "3"}}, {act}, "fc2");
  Symbol net = Op("SoftmaxOutput", {}, {fc2}, "softmax");
  nn_test::GradientCase c{net, {{"data", {4, 6}}}, {}, {{"softmax_label", {0, 2, 1, 2}}}};
  c.no_grad = {"data", "softmax_label"};
  nn_test::Bound b = nn_test::BindCase(c, "write");
  b.exe.Forward(true);
  b.exe.Backward();
  auto loss = [&] {
    b.exe.Forward(true);
    const std::vector<double> p = Get(b.exe.outputs()[0]);
    double l = 0;
    for (int i = 0; i < 4; ++i)
      l -= std::log(p[i * 3 + static_cast<int>(c.values["softmax_label"][i])]);
    return l;
  };
  for (const char* name : {"fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"}) {
    const std::vector<double> analytic = Get(b.exe.grad_dict().at(name));
    std::vector<double> w = b.args.at(name), numeric(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      const double saved = w[i];
      w[i] = saved + 1e-6;
      Set(b.exe.arg_dict().at(name), w);
      const double plus = loss();
      w[i] = saved - 1e-6;
      Set(b.exe.arg_dict().at(name), w);
      const double minus = loss();
      w[i] = saved;
      Set(b.exe.arg_dict().at(name), w);
      numeric[i] = (plus - minus) / 2e-6;
    }
    test::ExpectAllNear(analytic, numeric, 1e-5, 1e-7, name);
  }
}

struct HeadRun {
  std::vector<double> out, grad;
};

HeadRun RunHead(const std::string& op,
                const std::vector<std::pair<std::string, std::string>>& params,
                const Shape& data_shape, const std::vector<double>& data,
                const std::vector<double>& label = {}) {
  Symbol head = Op(op, params);
  TypeDict dtypes{{"op_data", DType::kFloat64}};
  if (!label.empty()) dtypes["op_label"] = DType::kFloat64;
  Executor exe = Executor::SimpleBind(head, Context::CPU(), {{"op_data", data_shape}}, dtypes);
  Set(exe.arg_dict().at("op_data"), data);
  if (!label.empty()) Set(exe.arg_dict().at("op_label"), label);
  exe.Forward(true);
  exe.Backward();
  return {Get(exe.outputs()[0]), Get(exe.grad_dict().at("op_data"))};
}

TEST(NnRegressionOutput, GradientsIgnoreHeadGradientsAndScaleByLabelSizePerSample) {
  // data (3, 1), label (3,): label.size / N = 1.
  HeadRun r =
      RunHead("LinearRegressionOutput", {{"grad_scale", "2"}}, {3, 1}, {1, 2, 3}, {0, 2, 5});
  EXPECT_EQ(r.out, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(r.grad, (std::vector<double>{2, 0, -4}));
  // data (2, 2): divided by label.size / N = 2.
  r = RunHead("LinearRegressionOutput", {}, {2, 2}, {1, 2, 3, 4}, {0, 0, 0, 0});
  EXPECT_EQ(r.grad, (std::vector<double>{0.5, 1, 1.5, 2}));
  r = RunHead("MAERegressionOutput", {}, {2, 2}, {1, -2, 3, 0.5}, {0, 0, 5, 0});
  EXPECT_EQ(r.grad, (std::vector<double>{0.5, -0.5, -0.5, 0.5}));
  r = RunHead("LogisticRegressionOutput", {}, {2, 1}, {0, std::log(3.0)}, {1, 0});
  test::ExpectAllNear(r.out, std::vector<double>{0.5, 0.75}, 1e-14, 1e-14, "sigmoid");
  test::ExpectAllNear(r.grad, std::vector<double>{-0.5, 0.75}, 1e-14, 1e-14, "gradient");
}

TEST(NnMakeLoss, GradientIsTheScaledConstant) {
  const std::vector<double> data{0.2, 0.7, 0.9, 0.1, 0.6, 0.3};
  HeadRun r = RunHead("MakeLoss", {{"grad_scale", "3"}}, {2, 3}, data);
  EXPECT_EQ(r.out, data);
  EXPECT_EQ(r.grad, std::vector<double>(6, 3.0));
  r = RunHead("MakeLoss", {{"grad_scale", "3"}, {"normalization", "batch"}}, {2, 3}, data);
  EXPECT_EQ(r.grad, std::vector<double>(6, 1.5));
  // valid: 3 elements above 0.5.
  r = RunHead("MakeLoss", {{"normalization", "valid"}, {"valid_thresh", "0.5"}}, {2, 3}, data);
  test::ExpectAllNear(r.grad, std::vector<double>(6, 1 / 3.), 1e-15, 1e-15, "valid");
  r = RunHead("make_loss", {}, {2, 3}, data);
  EXPECT_EQ(r.grad, std::vector<double>(6, 1.0));
}

// A loss over a computed value: make_loss(sum of squares) trains through the graph.
TEST(NnMakeLoss, GradientFlowsThroughTheGraphBelowIt) {
  Symbol x = Symbol::Variable("x");
  Symbol sq = Op("Activation", {{"act_type", "tanh"}}, {x}, "t");
  Symbol loss = Op("MakeLoss", {{"grad_scale", "0.5"}}, {sq}, "loss");
  Executor exe = Executor::SimpleBind(loss, Context::CPU(), {{"x", {3}}}, {{"x", DType::kFloat64}});
  Set(exe.arg_dict().at("x"), {0.1, -0.5, 2});
  exe.Forward(true);
  exe.Backward();
  const std::vector<double> g = Get(exe.grad_dict().at("x"));
  const double xs[] = {0.1, -0.5, 2};
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(g[i], 0.5 * (1 - std::tanh(xs[i]) * std::tanh(xs[i])), 1e-14);
}

}  // namespace
}  // namespace loom
