// Activation, LeakyReLU, softmax, log_softmax and SoftmaxActivation through the executor: outputs
// against the naive references, gradients against finite differences in float64, grad_req 'add',
// and in-place execution inside a network.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "operators/cpu/reference/elementwise.h"
#include "operators/cpu/reference/softmax.h"

namespace loom {
namespace {

using nn_test::CheckGradients;
using nn_test::GradientCase;
using nn_test::Op;

TEST(NnActivation, EveryActTypeMatchesReferenceAndFiniteDifferences) {
  const std::pair<const char*, cpu::UnaryOp> types[] = {{"relu", cpu::UnaryOp::kRelu},
                                                        {"sigmoid", cpu::UnaryOp::kSigmoid},
                                                        {"tanh", cpu::UnaryOp::kTanh},
                                                        {"softrelu", cpu::UnaryOp::kSoftrelu},
                                                        {"softsign", cpu::UnaryOp::kSoftsign}};
  for (const auto& [name, op] : types) {
    SCOPED_TRACE(name);
    Symbol act = Op("Activation", {{"act_type", name}});
    // Keep relu's inputs away from its kink so the finite difference is exact.
    std::mt19937_64 rng(3);
    GradientCase c{
        act, {{"op_data", {3, 4}}}, {}, {{"op_data", test::RandomAwayFromZero(12, rng)}}};
    const auto out = CheckGradients(c);
    for (size_t i = 0; i < out[0].size(); ++i) {
      EXPECT_NEAR(out[0][i], cpu::reference::Unary(op, c.values["op_data"][i]), 1e-14);
    }
  }
}

// Inside FC -> Activation -> FC the activation takes over its input's memory (MXNet's in-place
// option) and every gradient is still right.
TEST(NnActivation, RunsInPlaceInsideANetwork) {
  Symbol x = Symbol::Variable("x");
  Symbol fc1 = Op("FullyConnected", {{"num_hidden", "4"}}, {x}, "fc1");
  Symbol act = Op("Activation", {{"act_type", "sigmoid"}}, {fc1}, "act");
  Symbol fc2 = Op("FullyConnected", {{"num_hidden", "2"}}, {act}, "fc2");
  GradientCase c{fc2, {{"x", {3, 5}}}};
  CheckGradients(c);
  nn_test::Bound b = nn_test::BindCase(c, "write");
  EXPECT_GE(b.exe.memory_plan().num_inplace, 1u);
}

TEST(NnLeakyReLU, EveryActTypeMatchesReferenceAndFiniteDifferences) {
  using cpu::LeakyType;
  const std::pair<const char*, LeakyType> types[] = {{"leaky", LeakyType::kLeaky},
                                                     {"elu", LeakyType::kElu},
                                                     {"selu", LeakyType::kSelu},
                                                     {"gelu", LeakyType::kGelu},
                                                     {"prelu", LeakyType::kPrelu}};
  for (const auto& [name, type] : types) {
    SCOPED_TRACE(name);
    Symbol act = Op("LeakyReLU", {{"act_type", name}, {"slope", "0.3"}});
    std::mt19937_64 rng(5);
    GradientCase c{
        act, {{"op_data", {2, 3, 2}}}, {}, {{"op_data", test::RandomAwayFromZero(12, rng)}}};
    if (type == LeakyType::kPrelu) c.values["op_gamma"] = {0.1, 0.2, 0.4};
    const auto out = CheckGradients(c);
    cpu::LeakyReLUParams p{.type = type, .slope = 0.3f};  // MXNet's slope is a float
    for (size_t i = 0; i < out[0].size(); ++i) {
      const double gamma = type == LeakyType::kPrelu ? c.values["op_gamma"][(i / 2) % 3] : 0;
      EXPECT_NEAR(out[0][i], cpu::reference::LeakyReLU(p, c.values["op_data"][i], gamma), 1e-14);
    }
  }
}

// rrelu: a random slope in [lower, upper] per negative element while training (kept in the
// visible mask output), their mean at inference; the gradient uses the training slopes.
TEST(NnLeakyReLU, RreluDrawsSlopesWhileTrainingAndUsesTheirMeanOtherwise) {
  Symbol act =
      Op("LeakyReLU", {{"act_type", "rrelu"}, {"lower_bound", "0.2"}, {"upper_bound", "0.4"}});
  Executor exe = Executor::SimpleBind(act, Context::CPU(), {{"op_data", {4, 25}}},
                                      {{"op_data", DType::kFloat64}});
  std::vector<double> x(100);
  for (size_t i = 0; i < x.size(); ++i) x[i] = i % 2 ? 1.0 : -1.0;
  nn_test::Set(exe.arg_dict().at("op_data"), x);
  exe.Forward(false);
  for (size_t i = 0; i < x.size(); ++i) {
    // The bounds are float parameters, as in MXNet.
    ASSERT_NEAR(nn_test::Get(exe.outputs()[0])[i],
                x[i] > 0 ? 1.0 : -(double{0.2f} + double{0.4f}) / 2, 1e-12);
  }
  exe.Forward(true);
  const std::vector<double> y = nn_test::Get(exe.outputs()[0]);
  std::set<double> slopes;
  for (size_t i = 0; i < x.size(); i += 2) {
    EXPECT_GE(-y[i], 0.2f);
    EXPECT_LE(-y[i], 0.4f);
    slopes.insert(-y[i]);
  }
  EXPECT_GT(slopes.size(), 10u) << "slopes are drawn per element";
  std::vector<NDArray> heads;
  for (const NDArray& o : exe.outputs())
    heads.push_back(NDArray::Ones(o.shape(), Context::CPU(), o.dtype()));
  exe.Backward(heads);
  const std::vector<double> dx = nn_test::Get(exe.grad_dict().at("op_data"));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(dx[i], x[i] > 0 ? 1.0 : -y[i], 1e-12);
}

TEST(NnSoftmax, SoftmaxAndLogSoftmaxMatchReferenceAndFiniteDifferences) {
  const Shape s{2, 3, 4};
  for (const char* op : {"softmax", "log_softmax"}) {
    for (int axis : {0, 1, -1}) {
      for (const char* t : {"1", "0.5"}) {
        SCOPED_TRACE(std::string(op) + " axis " + std::to_string(axis) + " temperature " + t);
        Symbol sm = Op(op, {{"axis", std::to_string(axis)}, {"temperature", t}});
        GradientCase c{sm, {{"op_data", s}}};
        c.lo = -3;
        c.hi = 3;
        const auto out = CheckGradients(c);
        nn_test::Bound b = nn_test::BindCase(c, "null");
        std::vector<double> ref(out[0].size());
        cpu::reference::Softmax(s, axis < 0 ? axis + 3 : axis, std::stod(t),
                                std::string(op) == "log_softmax", b.args.at("op_data").data(),
                                ref.data());
        test::ExpectAllNear(out[0], ref, 1e-12, 1e-12, "output");
      }
    }
  }
}

TEST(NnSoftmax, SoftmaxActivationInstanceAndChannel) {
  const Shape s{2, 3, 2};
  for (const char* mode : {"instance", "channel"}) {
    SCOPED_TRACE(mode);
    Symbol sm = Op("SoftmaxActivation", {{"mode", mode}});
    GradientCase c{sm, {{"op_data", s}}};
    const auto out = CheckGradients(c);
    nn_test::Bound b = nn_test::BindCase(c, "null");
    std::vector<double> ref(out[0].size());
    const bool instance = std::string(mode) == "instance";
    cpu::reference::Softmax(instance ? Shape{2, 6} : s, 1, 1.0, false, b.args.at("op_data").data(),
                            ref.data());
    test::ExpectAllNear(out[0], ref, 1e-12, 1e-12, "output");
  }
}

// use_length: each softmax covers the first `length` elements along the axis; the rest are 0.
TEST(NnSoftmax, UseLengthNormalisesTheValidPrefix) {
  Symbol sm = Op("softmax", {{"axis", "1"}, {"use_length", "True"}});
  GradientCase c{sm, {{"op_data", {2, 4, 2}}}, {{"op_length", DType::kInt32}}};
  c.values["op_length"] = {4, 1, 0, 3};  // per (row, column): lengths along axis 1
  c.no_grad = {"op_length"};
  const auto out = CheckGradients(c);
  nn_test::Bound b = nn_test::BindCase(c, "null");
  const std::vector<double>& x = b.args.at("op_data");
  for (int row = 0; row < 2; ++row) {
    for (int col = 0; col < 2; ++col) {
      const int len = static_cast<int>(c.values["op_length"][row * 2 + col]);
      double sum = 0;
      for (int j = 0; j < len; ++j) sum += std::exp(x[(row * 4 + j) * 2 + col]);
      for (int j = 0; j < 4; ++j) {
        const size_t at = (row * 4 + j) * 2 + col;
        EXPECT_NEAR(out[0][at], j < len ? std::exp(x[at]) / sum : 0.0, 1e-14) << at;
      }
    }
  }
  nn_test::Set(b.exe.arg_dict().at("op_length"), {4, 5, 0, 3});
  b.exe.Forward(false);
  EXPECT_THAT([&] { b.exe.outputs()[0].WaitToRead(); },
              ::testing::ThrowsMessage<Error>(::testing::AllOf(
                  ::testing::HasSubstr("softmax: length 5 at position 1 is outside [0, 4]"),
                  ::testing::HasSubstr("in node 'op' (softmax)"))));
}

TEST(NnSoftmax, UnsupportedVariantsNameTheOperator) {
  Symbol sm = Op("softmax", {{"dtype", "float64"}});
  Executor exe = Executor::SimpleBind(sm, Context::CPU(), {{"op_data", {2, 3}}},
                                      {{"op_data", DType::kFloat32}}, "null");
  exe.Forward(false);
  EXPECT_THAT([&] { exe.outputs()[0].WaitToRead(); },
              ::testing::ThrowsMessage<NotSupportedError>(::testing::AllOf(
                  ::testing::HasSubstr("softmax: the CPU kernel needs the output in the data's "
                                       "dtype (float32)"),
                  ::testing::HasSubstr("in node 'op' (softmax)"))));
}

}  // namespace
}  // namespace loom
