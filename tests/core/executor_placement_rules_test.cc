// Placement rules beyond T34/T35 (executor_placement_test.cc): what DebugStr reports about devices
// and copies, MXNet's treatment of unused groups, arrays on the wrong device with and without
// group2ctx, and auxiliary states whose own group differs from their node's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "executor_test_ops.h"
#include "loom/core/attr_scope.h"
#include "loom/core/executor.h"

namespace loom {
namespace {

using test::TestOp;
using test::Values;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

const Context kCtx0 = Context::CPU(0), kCtx1 = Context::CPU(1), kCtx2 = Context::CPU(2);

TEST(ExecutorPlacementRules, DebugStrShowsDevicesCopiesAndMemoryPerDevice) {
  Executor exe = Executor::SimpleBind(test::T34Chain(), kCtx0,
                                      {{"data1", {4, 5}}, {"data2", {4, 5}}, {"data3", {4, 5}}}, {},
                                      "write", {{"dev1", kCtx1}, {"dev2", kCtx2}});
  const std::string s = exe.DebugStr();
  EXPECT_THAT(s, HasSubstr("node 'plus' (_test_add) on cpu(1)"));
  EXPECT_THAT(s, HasSubstr("node 'plus3' (_test_add) on cpu(2)"));
  // The data variables have no group: SimpleBind puts them on the bind context, cpu(0), and
  // they are copied to their consumers; times3's output goes to dev2, the head gradient comes
  // back to dev1, and the gradients computed on dev1/dev2 go to their arrays on cpu(0).
  EXPECT_THAT(s, HasSubstr("cross-device copies (8): data1_0_copy cpu(0)->cpu(1) data2_0_copy "
                           "cpu(0)->cpu(1) times3_0_copy cpu(1)->cpu(2) data3_0_copy "
                           "cpu(0)->cpu(2) _head_grad_0_0_copy cpu(2)->cpu(1) "
                           "times3_backward_0_copy cpu(1)->cpu(0) data2_grad_copy_0_copy "
                           "cpu(1)->cpu(0) data3_grad_copy_0_copy cpu(2)->cpu(0)\n"));
  // One line per device; their planned bytes add up to the plan's.
  std::regex line(R"(device (cpu\(\d\)): (\d+) nodes, (\d+) bytes planned in (\d+) buffers, (\d+) )"
                  R"(bytes in bound arrays, (\d+) bytes temp space)");
  size_t planned = 0, buffers = 0;
  std::vector<std::string> devices;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), line); it != std::sregex_iterator();
       ++it) {
    devices.push_back((*it)[1]);
    planned += std::stoul((*it)[3]);
    buffers += std::stoul((*it)[4]);
  }
  EXPECT_EQ(devices, (std::vector<std::string>{"cpu(0)", "cpu(1)", "cpu(2)"}));
  EXPECT_EQ(planned, exe.memory_plan().planned_bytes);
  EXPECT_EQ(buffers, exe.memory_plan().num_storage);
  // cpu(0) holds the three arguments and their gradients (4*5 float32 each) and plans nothing.
  EXPECT_THAT(s, HasSubstr("device cpu(0): 6 nodes, 0 bytes planned in 0 buffers, 480 bytes in "
                           "bound arrays, 0 bytes temp space\n"));
}

TEST(ExecutorPlacementRules, OneDeviceDebugStrHasNoCopies) {
  Executor exe = Executor::SimpleBind(test::T34Chain(), kCtx0,
                                      {{"data1", {2}}, {"data2", {2}}, {"data3", {2}}});
  const std::string s = exe.DebugStr();
  EXPECT_THAT(s, HasSubstr("cross-device copies (0):\n"));
  EXPECT_THAT(s, HasSubstr("device cpu(0): "));
  EXPECT_THAT(s, ::testing::Not(HasSubstr("device cpu(1)")));
}

TEST(ExecutorPlacementRules, GroupsNoNodeUsesAreIgnoredAsInMXNet) {
  Executor exe = Executor::SimpleBind(test::T34Chain(), kCtx0,
                                      {{"data1", {3}}, {"data2", {3}}, {"data3", {3}}}, {}, "null",
                                      {{"dev1", kCtx1}, {"dev2", kCtx2}, {"unused", kCtx0}});
  for (const char* name : {"data1", "data2", "data3"}) {
    NDArray a = exe.arg_dict().at(name);
    a += 1.0;
  }
  exe.Forward();
  EXPECT_EQ(Values(exe.outputs()[0]), std::vector<double>(3, 7.0));  // (1 + 1) * 3 + 1
  for (const ExecNodeInfo& n : exe.Nodes()) {
    // Only the group-less data are there.
    if (!n.op.empty()) {
      EXPECT_NE(n.ctx, kCtx0) << n.name;
    }
  }
}

TEST(ExecutorPlacementRules, WithoutGroup2CtxEveryArrayMustBeOnTheBindContext) {
  // As MXNet: ctx_group attributes are ignored, and an array elsewhere is an error naming it.
  std::vector<NDArray> args = {NDArray::Ones({2}, kCtx0), NDArray::Ones({2}, kCtx1),
                               NDArray::Ones({2}, kCtx0)};
  EXPECT_THAT([&] { Executor::Bind(test::T34Chain(), kCtx0, args); },
              ThrowsMessage<Error>(AllOf(HasSubstr("'data2'"), HasSubstr("is on cpu(1) but the "
                                                                         "executor is bound to "
                                                                         "cpu(0)"))));
  std::vector<NDArray> grads = {NDArray::Zeros({2}, kCtx0), NDArray::Zeros({2}, kCtx0),
                                NDArray::Zeros({2}, kCtx2)};
  args[1] = NDArray::Ones({2}, kCtx0);
  EXPECT_THAT([&] { Executor::Bind(test::T34Chain(), kCtx0, args, grads); },
              ThrowsMessage<Error>(HasSubstr("is on cpu(2) but the executor is bound to cpu(0)")));
  // Without group2ctx, the groups are ignored: everything runs on the bind context.
  Executor exe = Executor::Bind(test::T34Chain(), kCtx0, args);
  for (const ExecNodeInfo& n : exe.Nodes()) EXPECT_EQ(n.ctx, kCtx0) << n.name;
}

TEST(ExecutorPlacementRules, GradientArraysOnAnotherDeviceReceiveACopy) {
  // With group2ctx an argument's gradient array may live elsewhere than where the gradient is
  // computed: the gradient is copied into it by a `<src>_<index>_copy` node.
  std::vector<NDArray> args = {NDArray::Ones({2}, kCtx1), NDArray::Ones({2}, kCtx1),
                               NDArray::Ones({2}, kCtx2)};
  std::vector<NDArray> grads = {NDArray::Zeros({2}, kCtx0), NDArray::Zeros({2}, kCtx1),
                                NDArray::Zeros({2}, kCtx2)};
  Executor exe = Executor::Bind(test::T34Chain(), kCtx0, args, grads, "write", {},
                                {{"dev1", kCtx1}, {"dev2", kCtx2}});
  exe.Forward(true);
  exe.Backward({NDArray::Ones({2}, kCtx2)});
  EXPECT_EQ(Values(grads[0]), std::vector<double>(2, 3.0));
  EXPECT_EQ(Values(grads[1]), std::vector<double>(2, 3.0));
  EXPECT_THAT(exe.DebugStr(), HasSubstr("times3_backward_0_copy cpu(1)->cpu(0)"));
}

TEST(ExecutorPlacementRules, AuxStateInAnotherGroupThanItsNodeIsRefused) {
  // moving_mean explicitly created in group g1, the norm node in g2: SimpleBind allocates the
  // auxiliary state on g1's device, and it may not cross to g2's.
  Symbol data = Symbol::Variable("data");
  Symbol mean;
  {
    AttrScope scope({{"ctx_group", "g1"}});
    mean = Symbol::Variable("norm_moving_mean");
  }
  AttrScope scope({{"ctx_group", "g2"}});
  Symbol net = Symbol::Op("_test_norm").Input("data", data).Input("moving_mean", mean).Name("norm");
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(net, kCtx0, {{"data", {2, 3}}}, {}, "write",
                             {{"g1", kCtx1}, {"g2", kCtx2}});
      },
      ThrowsMessage<Error>(HasSubstr("auxiliary state 'norm_moving_mean' of node 'norm' "
                                     "(_test_norm) is on cpu(1) but the node runs on cpu(2): "
                                     "auxiliary states cannot cross devices")));
  // In the same group it binds and runs.
  Executor ok = Executor::SimpleBind(net, kCtx0, {{"data", {2, 3}}}, {}, "write",
                                     {{"g1", kCtx2}, {"g2", kCtx2}});
  ok.Forward(true);
  ok.Backward({NDArray::Ones({2, 3}, kCtx2)});
  EXPECT_EQ(ok.aux_arrays()[0].ctx(), kCtx2);
}

}  // namespace
}  // namespace loom
