// Placement with `__ctx_group__` and group2ctx: MXNet's T34 (test_chain) and T35 (ctx_group)
// with the test operators, copy nodes, backward placement, and the errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "executor_test_ops.h"
#include "loom/core/attr_scope.h"
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

const Context kCtx1 = Context::CPU(1), kCtx2 = Context::CPU(2);

std::map<std::string, Context> NodeDevices(const Executor& exe) {
  std::map<std::string, Context> out;
  for (const ExecNodeInfo& n : exe.Nodes()) out[n.name] = n.ctx;
  return out;
}

TEST(ExecutorPlacement, T34ChainOnTwoDevicesMatchesOneDevice) {
  const Shape shape{4, 5};
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    auto full = [&](double v, Context c) { return NDArray::Full(shape, v, c, dtype); };
    std::vector<NDArray> args = {full(1, kCtx1), full(2, kCtx1), full(3, kCtx2)};
    std::vector<NDArray> grads = {full(0, kCtx1), full(0, kCtx1), full(0, kCtx2)};
    Executor exe = Executor::Bind(test::T34Chain(), kCtx1, args, grads, "write", {},
                                  {{"dev1", kCtx1}, {"dev2", kCtx2}});
    exe.Forward(true);
    exe.Backward({NDArray::Ones(shape, kCtx2, dtype)});
    EXPECT_EQ(exe.outputs()[0].ctx(), kCtx2);
    EXPECT_EQ(Values(exe.outputs()[0]), std::vector<double>(20, 12.0));
    EXPECT_EQ(Values(grads[0]), std::vector<double>(20, 3.0));
    EXPECT_EQ(Values(grads[1]), std::vector<double>(20, 3.0));
    EXPECT_EQ(Values(grads[2]), std::vector<double>(20, 1.0));

    std::vector<NDArray> args1 = {full(1, kCtx1), full(2, kCtx1), full(3, kCtx1)};
    std::vector<NDArray> grads1 = {full(0, kCtx1), full(0, kCtx1), full(0, kCtx1)};
    Executor single = Executor::Bind(test::T34Chain(), kCtx1, args1, grads1);
    single.Forward(true);
    single.Backward({NDArray::Ones(shape, kCtx1, dtype)});
    EXPECT_EQ(Values(single.outputs()[0]), Values(exe.outputs()[0]));
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(Values(grads1[i]), Values(grads[i]));
    for (const ExecNodeInfo& n : single.Nodes()) EXPECT_EQ(n.ctx, kCtx1) << n.name;

    // One copy per (source output, destination device), named <src>_<idx>_copy.
    const std::string s = exe.DebugStr();
    EXPECT_THAT(s, HasSubstr("node 'times3_0_copy' (_CrossDeviceCopy) on cpu(2)"));
    const auto dev = NodeDevices(exe);
    EXPECT_EQ(dev.at("plus"), kCtx1);
    EXPECT_EQ(dev.at("plus3"), kCtx2);
    EXPECT_EQ(dev.at("times3_backward"), kCtx1);  // backward nodes follow their forward nodes
    // The head gradient lives with its output and is copied to where it is read.
    EXPECT_EQ(dev.at("_head_grad_0"), kCtx2);
    EXPECT_EQ(dev.at("_head_grad_0_0_copy"), kCtx1);
    EXPECT_EQ(dev.at("data3_grad_copy"), kCtx2);
  }
}

// T35 test_multi_device_exec.py::test_ctx_group.
Symbol CtxGroupNet() {
  Symbol act1;
  {
    AttrScope scope({{"ctx_group", "stage1"}});
    Symbol data = Symbol::Variable("data");
    Symbol fc1 = TestOp("_test_fc", {data}, {{"num_hidden", "8"}}, "fc1");
    act1 = TestOp("_test_relu", {fc1}, {}, "relu1");
  }
  AttrScope scope({{"ctx_group", "stage2"}});
  Symbol fc2 = TestOp("_test_fc", {act1}, {{"num_hidden", "6"}}, "fc2");
  Symbol act2 = TestOp("_test_relu", {fc2}, {}, "relu2");
  Symbol fc3 = TestOp("_test_fc", {act2}, {{"num_hidden", "4"}}, "fc3");
  Symbol norm = TestOp("_test_norm", {fc3}, {}, "norm");
  return TestOp("_test_loss", {norm, Symbol::Variable("softmax_label")}, {}, "softmax");
}

TEST(ExecutorPlacement, T35SimpleBindAllocatesOnTheGroupsDevices) {
  const std::vector<std::string> stage1 = {"data", "fc1_weight"};
  for (const GradReqArgs& req :
       {GradReqArgs("write"), GradReqArgs(GradReqMap{{"data", "null"},
                                                     {"fc1_weight", "write"},
                                                     {"fc2_weight", "write"},
                                                     {"fc3_weight", "write"},
                                                     {"norm_gamma", "write"},
                                                     {"softmax_label", "write"}})}) {
    Executor exe = Executor::SimpleBind(CtxGroupNet(), Context::CPU(0), {{"data", {1, 20}}}, {},
                                        req, {{"stage1", kCtx1}, {"stage2", kCtx2}});
    const std::vector<std::string> names = exe.symbol().ListArguments();
    for (size_t i = 0; i < names.size(); ++i) {
      const bool first = std::find(stage1.begin(), stage1.end(), names[i]) != stage1.end();
      EXPECT_EQ(exe.arg_arrays()[i].ctx(), first ? kCtx1 : kCtx2) << names[i];
      if (!exe.grad_arrays()[i].is_none()) {
        EXPECT_EQ(exe.grad_arrays()[i].ctx(), exe.arg_arrays()[i].ctx()) << names[i];
      }
    }
    EXPECT_EQ(exe.aux_arrays()[0].ctx(), kCtx2);
    const auto dev = NodeDevices(exe);
    EXPECT_EQ(dev.at("fc1"), kCtx1);
    EXPECT_EQ(dev.at("fc2"), kCtx2);
    EXPECT_EQ(dev.at("fc1_backward"), kCtx1);
    EXPECT_EQ(dev.at("fc2_backward"), kCtx2);
    EXPECT_EQ(dev.at("relu1_0_copy"), kCtx2);
  }
}

TEST(ExecutorPlacement, TwoDevicesTrainLikeOne) {
  auto run = [](const ContextMap& group2ctx) {
    Executor exe = Executor::SimpleBind(CtxGroupNet(), Context::CPU(0), {{"data", {3, 20}}}, {},
                                        "write", group2ctx);
    std::mt19937_64 rng(9);
    std::uniform_real_distribution<double> u(-1, 1);
    for (const auto& [name, arr] : exe.arg_dict()) {
      std::vector<double> v(static_cast<size_t>(arr.size()));
      for (double& x : v) x = u(rng);
      Set(arr, Array(v, arr.shape(), DType::kFloat32, arr.ctx()));
    }
    std::vector<std::vector<double>> out;
    for (int step = 0; step < 3; ++step) {
      exe.Forward(true);
      exe.Backward();
      out.push_back(Values(exe.outputs()[0]));
      for (const auto& [name, g] : exe.grad_dict()) out.push_back(Values(g));
      // A plain SGD step, so later steps see different weights.
      for (const auto& [name, g] : exe.grad_dict()) {
        NDArray w = exe.arg_dict().at(name);
        w -= g * 0.1;
      }
    }
    out.push_back(Values(exe.aux_dict().at("norm_moving_mean")));
    return out;
  };
  const auto one = run({});
  const auto two = run({{"stage1", kCtx1}, {"stage2", kCtx2}});
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].size(), two[i].size());
    for (size_t k = 0; k < one[i].size(); ++k) EXPECT_NEAR(one[i][k], two[i][k], 1e-5);
  }
}

TEST(ExecutorPlacement, UnknownGroupNamesTheGroupAndTheKnownOnes) {
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(CtxGroupNet(), Context::CPU(0), {{"data", {1, 20}}}, {}, "write",
                             {{"stage1", kCtx1}, {"stage3", kCtx2}});
      },
      ThrowsMessage<Error>(AllOf(HasSubstr("group 'stage2' of "),
                                 HasSubstr("has no device in group2ctx; the groups given are: "
                                           "stage1=cpu(1), stage3=cpu(2)"))));
}

TEST(ExecutorPlacement, AuxStatesNeverCrossDevices) {
  Symbol net = CtxGroupNet();
  Executor ref = Executor::SimpleBind(net, Context::CPU(0), {{"data", {1, 20}}}, {}, "null",
                                      {{"stage1", kCtx1}, {"stage2", kCtx2}});
  std::vector<NDArray> args;
  for (const NDArray& a : ref.arg_arrays()) args.push_back(a);
  EXPECT_THAT(
      [&] {
        Executor::Bind(net, Context::CPU(0), args, {}, "null", {NDArray::Zeros({4}, kCtx1)},
                       {{"stage1", kCtx1}, {"stage2", kCtx2}});
      },
      ThrowsMessage<Error>(HasSubstr(
          "auxiliary state 'norm_moving_mean' of node 'norm' (_test_norm) is on cpu(1) but the "
          "node runs on cpu(2): auxiliary states cannot cross devices")));
}

TEST(ExecutorPlacement, ArgumentsOnAnotherDeviceAreCopied) {
  // With group2ctx, an argument bound on another device than its consumers is copied to them.
  Symbol net;
  {
    AttrScope scope({{"ctx_group", "g"}});
    net = TestOp("_test_scale", {Symbol::Variable("x")}, {{"alpha", "2"}}, "s");
  }
  NDArray x = NDArray::Ones({3}, kCtx1), gx = NDArray::Zeros({3}, kCtx1);
  Executor exe = Executor::Bind(net, Context::CPU(0), {x}, {gx}, "write", {}, {{"g", kCtx2}});
  exe.Forward(true);
  exe.Backward({NDArray::Ones({3}, kCtx2)});
  EXPECT_EQ(Values(exe.outputs()[0]), std::vector<double>(3, 2.0));
  EXPECT_EQ(Values(gx), std::vector<double>(3, 2.0));
  const auto dev = NodeDevices(exe);
  EXPECT_EQ(dev.at("x_0_copy"), kCtx2);
  EXPECT_EQ(dev.at("s"), kCtx2);
}

}  // namespace
}  // namespace loom
