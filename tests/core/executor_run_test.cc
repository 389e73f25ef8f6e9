// Running: asynchronous Forward/Backward, auxiliary states, kernel errors at the next wait naming
// the node, LOOM_CHECK_NAN, temp space, random generators, executors dying with work pending.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "executor_test_ops.h"
#include "loom/core/executor.h"
#include "loom/core/kernel.h"
#include "loom/core/operator.h"

namespace loom {
namespace {

using test::Array;
using test::Set;
using test::TestOp;
using test::Values;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(ExecutorRun, AuxStateUpdatedInTrainingOnly) {
  Symbol net = TestOp("_test_norm", {Symbol::Variable("data")}, {{"momentum", "0.5"}}, "bn");
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"data", {2, 2}}});
  Set(exe.arg_dict().at("bn_gamma"), NDArray::Ones({2}));
  Set(exe.arg_dict().at("data"), Array({1, 2, 3, 6}, {2, 2}));  // column means 2, 4
  exe.Forward(false);
  EXPECT_EQ(Values(exe.aux_dict().at("bn_moving_mean")), (std::vector<double>{0, 0}));
  exe.Forward(true);
  EXPECT_EQ(Values(exe.aux_dict().at("bn_moving_mean")), (std::vector<double>{1, 2}));
  exe.Backward({NDArray::Ones({2, 2})});
  exe.Forward(true);
  EXPECT_EQ(Values(exe.aux_dict().at("bn_moving_mean")), (std::vector<double>{1.5, 3}));
  exe.Forward(false);  // inference reads the moving mean: x * gamma - mean
  EXPECT_EQ(Values(exe.outputs()[0]), (std::vector<double>{-0.5, -1, 1.5, 3}));
  EXPECT_EQ(Values(exe.aux_dict().at("bn_moving_mean")), (std::vector<double>{1.5, 3}));
  EXPECT_EQ(exe.grad_dict().count("bn_moving_mean"), 0u);
}

TEST(ExecutorRun, KernelErrorSurfacesAtTheNextWaitNamingTheNode) {
  Symbol x = Symbol::Variable("x");
  Symbol net = TestOp(
      "_test_relu", {TestOp("_test_fail", {TestOp("_test_scale", {x})}, {}, "boom")}, {}, "after");
  for (int bulk : {0, 15}) {
    ExecutorOptions o;
    o.bulk_size = bulk;
    Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}}, {}, "null", {}, o);
    exe.Forward(false);  // returns: the failure is inside an engine operation
    EXPECT_THAT([&] { exe.outputs()[0].WaitToRead(); },
                ThrowsMessage<Error>(AllOf(HasSubstr("deliberate failure of _test_fail"),
                                           HasSubstr("in node 'boom' (_test_fail)"))));
    // Reported once; the executor runs again (and fails again) afterwards.
    exe.outputs()[0].WaitToRead();
    exe.Forward(false);
    EXPECT_THROW(Engine::Get().WaitForAll(), Error);
  }
}

TEST(ExecutorRun, CheckNanNamesTheFirstNodeProducingOne) {
  Symbol x = Symbol::Variable("x");
  Symbol net =
      TestOp("_test_scale",
             {TestOp("_test_sqrt", {TestOp("_test_scale", {x}, {}, "s1")}, {}, "root")}, {}, "s2");
  ExecutorOptions o;
  o.check_nan = true;
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}}, {}, "null", {}, o);
  exe.Forward(false, {{"x", Array({4, 1, 9}, {3})}});
  EXPECT_EQ(Values(exe.outputs()[0]), (std::vector<double>{2, 1, 3}));
  exe.Forward(false, {{"x", Array({4, -1, 9}, {3})}});
  EXPECT_THAT([&] { exe.outputs()[0].WaitToRead(); },
              ThrowsMessage<Error>(HasSubstr(
                  "LOOM_CHECK_NAN: node 'root' (_test_sqrt) produced NaN in output "
                  "'root_output' (element 1 of shape (3)); it is the first node to do so")));
  o.check_nan = false;
  Executor unchecked = Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}}, {}, "null", {}, o);
  unchecked.Forward(false, {{"x", Array({4, -1, 9}, {3})}});
  EXPECT_TRUE(std::isnan(Values(unchecked.outputs()[0])[1]));
}

TEST(ExecutorRun, TempSpaceIsSizedToTheLargestRequest) {
  Symbol h = TestOp("_test_fc", {Symbol::Variable("x")}, {{"num_hidden", "7"}}, "fc1");
  Symbol net = TestOp("_test_fc", {h}, {{"num_hidden", "2"}}, "fc2");
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {3, 5}}}, {}, "null");
  EXPECT_EQ(exe.memory_plan().temp_space_bytes, 7u * 5u * 4u);
  exe.CopyParamsFrom({{"x", NDArray::Ones({3, 5})},
                      {"fc1_weight", NDArray::Ones({7, 5})},
                      {"fc2_weight", NDArray::Full({2, 7}, 0.5)}});
  exe.Forward();
  EXPECT_EQ(Values(exe.outputs()[0]), std::vector<double>(6, 17.5));
}

TEST(ExecutorRun, TempSpaceWithoutSizeFunctionIsAnError) {
  static OpSchema& op =
      OpRegistry::Global()
          .Register("_test_temp_unsized", __FILE__, __LINE__)
          .Inputs({"data"})
          .Kernel(DeviceType::kCPU,
                  FCompute([](const NodeAttrs&, const OpContext&, std::span<const TensorView>,
                              std::span<const OpReq>, std::span<const TensorView>) {}))
          .InferShape(ElemwiseShape)
          .Resources(
              [](const NodeAttrs&) { return std::vector<ResourceKind>{ResourceKind::kTempSpace}; });
  Symbol net = TestOp(op.name(), {Symbol::Variable("x")}, {}, "t");
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}}, {}, "null");
      },
      ThrowsMessage<Error>(HasSubstr("node 't' (_test_temp_unsized): operator "
                                     "_test_temp_unsized requests temp space but "
                                     "registers no TempSpace function")));
}

TEST(ExecutorRun, MissingKernelIsAnError) {
  static OpSchema& op = OpRegistry::Global()
                            .Register("_test_no_kernel", __FILE__, __LINE__)
                            .Inputs({"data"})
                            .InferShape(ElemwiseShape);
  Symbol net = TestOp(op.name(), {Symbol::Variable("x")}, {}, "k");
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}}, {}, "null");
      },
      ThrowsMessage<NotSupportedError>(
          HasSubstr("node 'k' (_test_no_kernel): operator _test_no_kernel has no cpu "
                    "kernel")));
  // Planning needs no kernels.
  EXPECT_EQ(Executor::PlanMemory(net, {{"x", {3}}}).planned_bytes, 12u);
}

TEST(ExecutorRun, RandomGeneratorsFollowTheSeed) {
  Symbol net = TestOp("_test_rand", {Symbol::Variable("x")});
  ExecutorOptions o;
  o.seed = 42;
  Executor a = Executor::SimpleBind(net, Context::CPU(), {{"x", {5}}}, {}, "null", {}, o);
  Executor b = Executor::SimpleBind(net, Context::CPU(), {{"x", {5}}}, {}, "null", {}, o);
  a.Forward();
  b.Forward();
  const std::vector<double> first = Values(a.outputs()[0]);
  EXPECT_EQ(first, Values(b.outputs()[0]));
  for (double v : first) {
    EXPECT_GE(v, 0);
    EXPECT_LT(v, 1);
  }
  a.Forward();
  EXPECT_NE(Values(a.outputs()[0]), first);  // the generator moved on
  a.SetSeed(42);
  a.Forward();
  EXPECT_EQ(Values(a.outputs()[0]), first);
}

TEST(ExecutorRun, ForwardReturnsBeforeTheWorkRuns) {
  // A slow first node: Forward must return long before it finishes.
  static std::atomic<int> runs{0};
  static OpSchema& op =
      OpRegistry::Global()
          .Register("_test_slow", __FILE__, __LINE__)
          .Inputs({"data"})
          .InferShape(ElemwiseShape)
          .Kernel(DeviceType::kCPU,
                  FCompute([](const NodeAttrs&, const OpContext&, std::span<const TensorView> in,
                              std::span<const OpReq>, std::span<const TensorView> out) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(300));
                    std::memcpy(out[0].ptr, in[0].ptr, out[0].bytes());
                    ++runs;
                  }));
  if (Engine::Get().kind() == "naive") GTEST_SKIP() << "the naive engine runs at push";
  Symbol net = TestOp(op.name(), {Symbol::Variable("x")});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}}, {}, "null");
  const int before = runs.load();
  const auto start = std::chrono::steady_clock::now();
  exe.Forward();
  const auto pushed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(pushed, std::chrono::milliseconds(200));
  exe.outputs()[0].WaitToRead();
  EXPECT_EQ(runs.load(), before + 1);
}

TEST(ExecutorRun, DestroyingAnExecutorWithWorkPendingIsSafe) {
  NDArray out;
  {
    Symbol net = TestOp("_test_scale", {Symbol::Variable("x")}, {{"alpha", "3"}});
    Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {1000}}}, {}, "null");
    Set(exe.arg_dict().at("x"), NDArray::Ones({1000}));
    for (int i = 0; i < 20; ++i) exe.Forward();
    out = exe.outputs()[0];
  }
  EXPECT_EQ(Values(out), std::vector<double>(1000, 3.0));
}

}  // namespace
}  // namespace loom
