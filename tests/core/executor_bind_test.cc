// Binding: arrays by list and by name, SimpleBind, every bad input named in its error, Reshape
// (T33) sharing parameters and memory, CopyParamsFrom.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "executor_test_ops.h"
#include "loom/core/executor.h"

namespace loom {
namespace {

using test::Array;
using test::Set;
using test::TestOp;
using test::Values;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

using GradReqMap = std::map<std::string, std::string, std::less<>>;

// data (4,5) -> fc (3) -> norm (aux moving_mean) -> loss with label.
Symbol SmallNet() {
  Symbol fc = TestOp("_test_fc", {Symbol::Variable("data")}, {{"num_hidden", "3"}}, "fc");
  Symbol norm = TestOp("_test_norm", {fc}, {}, "norm");
  return TestOp("_test_loss", {norm, Symbol::Variable("label")}, {}, "loss");
}

struct Arrays {
  NDArray data = NDArray::Ones({4, 5}), weight = NDArray::Ones({3, 5}), gamma = NDArray::Ones({3}),
          label = NDArray::Zeros({4, 3}), mm = NDArray::Zeros({3});
  std::vector<NDArray> args() const { return {data, weight, gamma, label}; }
};

TEST(ExecutorBind, ListsNamesAndDictionaries) {
  Symbol net = SmallNet();
  EXPECT_EQ(net.ListArguments(),
            (std::vector<std::string>{"data", "fc_weight", "norm_gamma", "label"}));
  EXPECT_EQ(net.ListAuxiliaryStates(), std::vector<std::string>{"norm_moving_mean"});
  Arrays a;
  Executor exe = Executor::Bind(net, Context::CPU(), a.args(), {}, "write", {a.mm});
  EXPECT_EQ(exe.arg_arrays().size(), 4u);
  EXPECT_EQ(exe.arg_dict().at("fc_weight").var(), a.weight.var());
  EXPECT_EQ(exe.aux_dict().at("norm_moving_mean").var(), a.mm.var());
  EXPECT_TRUE(exe.grad_dict().empty());  // no gradient arrays: everything "null"
  EXPECT_EQ(exe.grad_req(), std::vector<GradReq>(4, GradReq::kNull));
  exe.Forward();
  EXPECT_EQ(Values(exe.outputs()[0]), std::vector<double>(12, 5.0));
  EXPECT_EQ(exe.symbol().ListOutputs(), std::vector<std::string>{"loss_output"});
  EXPECT_EQ(exe.context(), Context::CPU());
}

TEST(ExecutorBind, SimpleBindAllocatesZerosAndGradients) {
  Executor exe = Executor::SimpleBind(SmallNet(), Context::CPU(), {{"data", {4, 5}}}, {},
                                      GradReqMap{{"fc_weight", "write"}, {"norm_gamma", "add"}});
  EXPECT_EQ(exe.arg_dict().at("fc_weight").shape(), (Shape{3, 5}));
  EXPECT_EQ(exe.arg_dict().at("label").shape(), (Shape{4, 3}));
  EXPECT_EQ(exe.aux_dict().at("norm_moving_mean").shape(), (Shape{3}));
  EXPECT_EQ(Values(exe.arg_dict().at("fc_weight")), std::vector<double>(15, 0.0));
  EXPECT_EQ(exe.grad_dict().size(), 2u);
  EXPECT_EQ(exe.grad_req(),
            (std::vector<GradReq>{GradReq::kNull, GradReq::kWrite, GradReq::kAdd, GradReq::kNull}));
  EXPECT_EQ(exe.grad_dict().at("norm_gamma").dtype(), DType::kFloat32);
}

TEST(ExecutorBind, SimpleBindDTypes) {
  Symbol net = TestOp("_test_scale", {Symbol::Variable("x")});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {2}}}, {{"x", DType::kFloat64}});
  EXPECT_EQ(exe.outputs()[0].dtype(), DType::kFloat64);
  EXPECT_EQ(exe.grad_dict().at("x").dtype(), DType::kFloat64);
}

TEST(ExecutorBind, MissingArgument) {
  Arrays a;
  EXPECT_THAT(
      [&] {
        Executor::Bind(SmallNet(), Context::CPU(),
                       NDArrayMap{{"data", a.data}, {"norm_gamma", a.gamma}, {"label", a.label}},
                       {}, "write", {a.mm});
      },
      ThrowsMessage<Error>(HasSubstr("missing argument 'fc_weight' in args")));
  EXPECT_THAT(
      [&] {
        Executor::Bind(SmallNet(), Context::CPU(), {a.data, a.weight, a.gamma}, {}, "write",
                       {a.mm});
      },
      ThrowsMessage<Error>(
          HasSubstr("expected 4 args (data, fc_weight, norm_gamma, label) but got 3")));
  EXPECT_THAT(
      [&] {
        Executor::Bind(SmallNet(), Context::CPU(), NDArrayMap{{"dta", a.data}}, {}, "write",
                       {a.mm});
      },
      ThrowsMessage<Error>(HasSubstr("'dta' in args is not an argument of the symbol")));
}

TEST(ExecutorBind, WrongNumberOfAuxStates) {
  Arrays a;
  EXPECT_THAT(
      [&] {
        Executor::Bind(SmallNet(), Context::CPU(), a.args(), {}, "write", {a.mm, a.mm});
      },
      ThrowsMessage<Error>(HasSubstr("expected 1 aux_states (norm_moving_mean) but got 2")));
  EXPECT_THAT([&] { Executor::Bind(SmallNet(), Context::CPU(), a.args()); },
              ThrowsMessage<Error>(HasSubstr("missing auxiliary state 'norm_moving_mean'")));
}

TEST(ExecutorBind, WrongShapeNamesNodeArgumentAndBothShapes) {
  Arrays a;
  a.weight = NDArray::Ones({3, 6});
  EXPECT_THAT([&] { Executor::Bind(SmallNet(), Context::CPU(), a.args(), {}, "write", {a.mm}); },
              ThrowsMessage<ShapeError>(
                  AllOf(HasSubstr("fc: _test_fc input 'weight' ('fc_weight')"), HasSubstr("(3,6)"),
                        HasSubstr("(3,5)"), HasSubstr("while binding"))));
  Arrays b;
  NDArray bad_grad = NDArray::Zeros({2, 2});
  EXPECT_THAT(
      [&] {
        Executor::Bind(SmallNet(), Context::CPU(), b.args(), NDArrayMap{{"fc_weight", bad_grad}},
                       "write", {b.mm});
      },
      ThrowsMessage<ShapeError>(HasSubstr(
          "the gradient array of argument 'fc_weight' has shape (2,2) but the argument has "
          "shape (3,5)")));
}

TEST(ExecutorBind, BadGradReqString) {
  Arrays a;
  EXPECT_THAT(
      [&] { Executor::Bind(SmallNet(), Context::CPU(), a.args(), {}, "wirte", {a.mm}); },
      ThrowsMessage<Error>(HasSubstr("grad_req 'wirte' for argument 'data' is not one of the "
                                     "accepted values 'write', 'add', 'null'")));
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(SmallNet(), Context::CPU(), {{"data", {4, 5}}}, {},
                             GradReqMap{{"fc_weight", "inplace"}});
      },
      ThrowsMessage<Error>(HasSubstr("grad_req 'inplace' for argument 'fc_weight'")));
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(SmallNet(), Context::CPU(), {{"data", {4, 5}}}, {},
                             GradReqMap{{"fc_wieght", "write"}});
      },
      ThrowsMessage<Error>(HasSubstr("'fc_wieght' in grad_req is not an argument")));
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(SmallNet(), Context::CPU(), {{"data", {4, 5}}}, {},
                             std::vector<std::string>{"write"});
      },
      ThrowsMessage<Error>(HasSubstr("expected one grad_req per argument (4:")));
}

TEST(ExecutorBind, ArraysOnTheWrongContext) {
  Arrays a;
  a.weight = NDArray::Ones({3, 5}, Context::CPU(1));
  EXPECT_THAT(
      [&] { Executor::Bind(SmallNet(), Context::CPU(), a.args(), {}, "write", {a.mm}); },
      ThrowsMessage<Error>(HasSubstr("argument 'fc_weight' is on cpu(1) but the executor is "
                                     "bound to cpu(0)")));
  Arrays b;
  b.mm = NDArray::Zeros({3}, Context::CPU(2));
  EXPECT_THAT([&] { Executor::Bind(SmallNet(), Context::CPU(), b.args(), {}, "write", {b.mm}); },
              ThrowsMessage<Error>(HasSubstr("auxiliary state 'norm_moving_mean' is on cpu(2)")));
}

TEST(ExecutorBind, SimpleBindNamesWhatCannotBeInferred) {
  Symbol net = TestOp("_test_add", {Symbol::Variable("a"), Symbol::Variable("b")});
  EXPECT_THAT(
      [&] { Executor::SimpleBind(net, Context::CPU(), {}); },
      ThrowsMessage<Error>(AllOf(HasSubstr("cannot bind"), HasSubstr("a ()"), HasSubstr("b ()"))));
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(net, Context::CPU(), {{"c", {2}}});
      },
      ThrowsMessage<Error>(HasSubstr("'c' in shapes is not an argument or auxiliary "
                                     "state of the symbol")));
}

TEST(ExecutorBind, ForwardCopiesNamedInputs) {
  Symbol net = TestOp("_test_scale", {Symbol::Variable("x")}, {{"alpha", "2"}});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}}, {}, "null");
  exe.Forward(false, {{"x", NDArray::FromHost<double>({1, 2, 3}, {3})}});  // converted
  EXPECT_EQ(Values(exe.outputs()[0]), (std::vector<double>{2, 4, 6}));
  EXPECT_THAT(
      [&] {
        exe.Forward(false, {{"y", NDArray::Ones({3})}});
      },
      ThrowsMessage<Error>(HasSubstr("Forward: 'y' is not an argument of the symbol")));
  EXPECT_THAT(
      [&] {
        exe.Forward(false, {{"x", NDArray::Ones({4})}});
      },
      ThrowsMessage<ShapeError>(
          HasSubstr("Forward: input 'x' has shape (4) but the executor was bound with (3)")));
}

// T33 test_reshape.
TEST(ExecutorBind, T33ReshapeSharesParametersAndMemory) {
  Symbol y = TestOp("_test_fc", {Symbol::Variable("x")}, {{"num_hidden", "4"}}, "fc");
  Executor exe = Executor::SimpleBind(y, Context::CPU(), {{"x", {5, 4}}}, {}, "null");
  Set(exe.arg_arrays()[0], NDArray::Ones({5, 4}));
  Set(exe.arg_arrays()[1], NDArray::Ones({4, 4}));
  Executor small = exe.Reshape({{"x", {3, 4}}});
  small.Forward(false);
  EXPECT_EQ(Values(small.outputs()[0]), std::vector<double>(12, 4.0));
  std::vector<double> old = Values(exe.outputs()[0]);
  EXPECT_EQ(std::vector<double>(old.begin(), old.begin() + 12), std::vector<double>(12, 4.0));
  exe.Forward();
  EXPECT_EQ(Values(exe.outputs()[0]), std::vector<double>(20, 4.0));

  Executor big = exe.Reshape({{"x", {6, 4}}}, false, true);
  Set(big.arg_arrays()[0], NDArray::Zeros({6, 4}));
  EXPECT_EQ(Values(exe.arg_arrays()[0]), std::vector<double>(20, 1.0));
  EXPECT_EQ(Values(big.arg_arrays()[1]), std::vector<double>(16, 1.0));
  EXPECT_EQ(big.arg_arrays()[1].var(), exe.arg_arrays()[1].var());
  EXPECT_THAT(
      [&] {
        exe.Reshape({{"x", {6, 4}}});
      },
      ThrowsMessage<Error>(HasSubstr("set allow_up_sizing=true")));
}

TEST(ExecutorBind, ReshapeOfUnnamedArgumentsNeedsPartialShaping) {
  Symbol net = TestOp("_test_add", {Symbol::Variable("a"), Symbol::Variable("b")});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"a", {4}}});
  EXPECT_THAT(
      [&] {
        exe.Reshape({{"a", {2}}});
      },
      ThrowsMessage<Error>(
          HasSubstr("the shape of 'b' changed from (4) to (2) though it was not given")));
  Executor half = exe.Reshape({{"a", {2}}}, true);
  EXPECT_EQ(half.arg_dict().at("b").var(), exe.arg_dict().at("b").var());
  EXPECT_EQ(half.grad_dict().at("b").shape(), (Shape{2}));
}

TEST(ExecutorBind, CopyParamsFrom) {
  Executor exe = Executor::SimpleBind(SmallNet(), Context::CPU(), {{"data", {4, 5}}});
  exe.CopyParamsFrom({{"fc_weight", NDArray::Full({3, 5}, 2, Context::CPU(), DType::kFloat64)}},
                     {{"norm_moving_mean", NDArray::Full({3}, 7)}});
  EXPECT_EQ(Values(exe.arg_dict().at("fc_weight")), std::vector<double>(15, 2.0));
  EXPECT_EQ(Values(exe.aux_dict().at("norm_moving_mean")), std::vector<double>(3, 7.0));
  EXPECT_THAT(
      [&] {
        exe.CopyParamsFrom({{"extra", NDArray::Ones({1})}});
      },
      ThrowsMessage<Error>(HasSubstr("'extra' is not an argument")));
  exe.CopyParamsFrom({{"extra", NDArray::Ones({1})}}, {}, true);
  EXPECT_THAT(
      [&] {
        exe.CopyParamsFrom({{"fc_weight", NDArray::Ones({2})}});
      },
      ThrowsMessage<ShapeError>(HasSubstr("copying 'fc_weight'")));
}

}  // namespace
}  // namespace loom
