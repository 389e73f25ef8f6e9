// The memory plan: sharing and in-place on chains, training versus inference, identical results
// with planning and bulk execution on or off, DebugStr's totals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "executor_test_ops.h"
#include "loom/core/executor.h"

namespace loom {
namespace {

using test::Array;
using test::Set;
using test::TestOp;
using test::Values;
using ::testing::HasSubstr;

// x -> (scale -> relu) x depth: every node may work in place of its input.
Symbol Chain(int depth) {
  Symbol net = Symbol::Variable("x");
  for (int i = 0; i < depth; ++i) {
    net = TestOp("_test_relu", {TestOp("_test_scale", {net}, {{"alpha", "1.1"}, {"beta", "0.1"}})});
  }
  return net;
}

// The memory plan's entries are views of one pooled block with other shapes and dtypes.
TEST(ExecutorMemory, NDArrayViewSharesTheBlock) {
  NDArray block = NDArray::Zeros({16}, Context::CPU(), DType::kUInt8);
  NDArray f = block.View({2, 2}, DType::kFloat32, 0);
  NDArray d = block.View({1}, DType::kFloat64, 8);
  EXPECT_EQ(f.var(), block.var());
  f.CopyFrom(NDArray::FromHost<float>({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(block.View({2}, DType::kFloat32, 4).ToVector<float>(), (std::vector<float>{2, 3}));
  d.CopyFrom(NDArray::FromHost<double>({0.5}, {1}));
  EXPECT_EQ(f.ToVector<float>()[0], 1.0f);
  EXPECT_EQ(d.ToVector<double>(), std::vector<double>{0.5});
  EXPECT_THAT([&] { block.View({3}, DType::kFloat64, 0); },
              ::testing::ThrowsMessage<ShapeError>(HasSubstr(
                  "a view of shape (3) and dtype float64 (24 bytes) at byte offset 0 does not "
                  "fit in a block of 16 bytes")));
}

TEST(ExecutorMemory, ChainPlansLessThanUnplanned) {
  const ShapeDict shapes{{"x", {64, 32}}};
  const size_t entry = 64 * 32 * 4;
  MemoryPlanStats infer = Executor::PlanMemory(Chain(6), shapes);
  EXPECT_FALSE(infer.training);
  EXPECT_EQ(infer.unplanned_bytes, 12 * entry);
  EXPECT_EQ(infer.planned_bytes, entry);  // the first node takes a buffer, the rest in place
  EXPECT_EQ(infer.num_inplace, 11u);
  EXPECT_EQ(infer.external_bytes, entry);  // x

  MemoryPlanStats train = Executor::PlanMemory(Chain(6), shapes, {}, "write");
  EXPECT_TRUE(train.training);
  EXPECT_LT(train.planned_bytes, train.unplanned_bytes);
  EXPECT_GT(train.planned_bytes, infer.planned_bytes);
  EXPECT_GT(train.num_inplace, 0u);

  ExecutorOptions off;
  off.inplace = false;
  off.match_range = 0;
  MemoryPlanStats none = Executor::PlanMemory(Chain(6), shapes, {}, "write", off);
  EXPECT_EQ(none.planned_bytes, none.unplanned_bytes);
  EXPECT_EQ(none.planned_bytes, train.unplanned_bytes);
  EXPECT_EQ(none.num_inplace, 0u);

  ExecutorOptions sharing_only;
  sharing_only.inplace = false;
  MemoryPlanStats shared = Executor::PlanMemory(Chain(6), shapes, {}, "null", sharing_only);
  EXPECT_EQ(shared.planned_bytes, 2 * entry);  // ping-pong between two buffers
}

TEST(ExecutorMemory, MultiplyChainReusesFreedBuffers) {
  // x*x reads its input twice, so no in-place; freed buffers are shared instead (T9's chain).
  Symbol net = Symbol::Variable("data");
  for (int i = 0; i < 10; ++i) net = TestOp("_test_mul", {net, net});
  const ShapeDict shapes{{"data", {10, 3, 8, 8}}};
  const size_t entry = 10 * 3 * 8 * 8 * 4;
  MemoryPlanStats st = Executor::PlanMemory(net, shapes);
  EXPECT_EQ(st.num_inplace, 0u);
  EXPECT_EQ(st.unplanned_bytes, 10 * entry);
  EXPECT_EQ(st.planned_bytes, 2 * entry);
}

TEST(ExecutorMemory, DebugStrReportsTotalsAndStorage) {
  Symbol data = Symbol::Variable("data");
  Symbol net = TestOp("_test_mul", {data, data}, {}, "sq");
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"data", {512, 1024}}});
  const std::string s = exe.DebugStr();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(s, m, std::regex("Total (\\d+) MB allocated"))) << s;
  // 2 MiB each: the product (kept for the backward pass) and the backward node's two outputs,
  // summed into the gradient array.
  EXPECT_EQ(m[1], "6");
  EXPECT_THAT(s, HasSubstr("node 'sq' (_test_mul) on cpu(0)"));
  EXPECT_THAT(s, HasSubstr("node 'sq_backward' (_backward_test_mul)"));
  EXPECT_THAT(s, HasSubstr("storage 0 (2097152 bytes)"));
  EXPECT_THAT(s, HasSubstr("external (a bound array)"));
  const MemoryPlanStats st = exe.memory_plan();
  EXPECT_EQ(st.planned_bytes, 3 * 2097152u);
  EXPECT_TRUE(st.training);
}

TEST(ExecutorMemory, BulkSegmentsEndAfterGradients) {
  Symbol h = TestOp("_test_relu",
                    {TestOp("_test_fc", {Symbol::Variable("data")}, {{"num_hidden", "3"}}, "fc1")},
                    {}, "relu1");
  Symbol net =
      TestOp("_test_loss",
             {TestOp("_test_fc", {h}, {{"num_hidden", "2"}}, "fc2"), Symbol::Variable("label")}, {},
             "loss");
  const ShapeDict shapes{{"data", {4, 5}}};
  ExecutorOptions bulk;
  bulk.bulk_size = 15;
  Executor a = Executor::SimpleBind(net, Context::CPU(), shapes, {}, "write", {}, bulk);
  const std::string s = a.DebugStr();
  EXPECT_THAT(s, HasSubstr("forward engine operations (1): [fc1...loss (4 nodes)]"));
  // fc2_backward writes fc2_weight's gradient, fc1_backward data's and fc1_weight's, the zeros
  // node label's.
  EXPECT_THAT(s, HasSubstr("backward engine operations (3): [loss_backward...fc2_backward "
                           "(2 nodes)] [relu1_backward...fc1_backward (2 nodes)] "
                           "[label_zero_grad]"));
  ExecutorOptions single;
  single.bulk_size = 1;
  Executor b = Executor::SimpleBind(net, Context::CPU(), shapes, {}, "write", {}, single);
  EXPECT_THAT(b.DebugStr(), HasSubstr("forward engine operations (4): [fc1] [relu1] [fc2] [loss]"));
}

// Runs a small training graph with the given options and returns outputs, gradients and the
// auxiliary state after two steps.
std::vector<std::vector<double>> TrainTwice(const ExecutorOptions& options) {
  Symbol data = Symbol::Variable("data");
  Symbol fc1 = TestOp("_test_fc", {data}, {{"num_hidden", "6"}}, "fc1");
  Symbol h = TestOp("_test_relu", {TestOp("_test_scale", {fc1}, {{"alpha", "0.5"}})}, {}, "r1");
  Symbol n = TestOp("_test_norm", {h}, {}, "n1");
  Symbol a = TestOp("_test_add", {TestOp("_test_mul", {n, h}), n});
  Symbol fc2 = TestOp("_test_fc", {a}, {{"num_hidden", "3"}}, "fc2");
  Symbol net = TestOp("_test_loss", {fc2, Symbol::Variable("label")});
  Executor exe =
      Executor::SimpleBind(net, Context::CPU(), {{"data", {5, 4}}}, {}, "write", {}, options);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  for (const auto& [name, arr] : exe.arg_dict()) {
    std::vector<double> v(static_cast<size_t>(arr.size()));
    for (double& x : v) x = u(rng);
    Set(arr, Array(v, arr.shape()));
  }
  std::vector<std::vector<double>> out;
  for (int step = 0; step < 2; ++step) {
    exe.Forward(true);
    exe.Backward();
    out.push_back(Values(exe.outputs()[0]));
    for (const auto& [name, g] : exe.grad_dict()) out.push_back(Values(g));
  }
  out.push_back(Values(exe.aux_dict().at("n1_moving_mean")));
  exe.Forward(false);
  out.push_back(Values(exe.outputs()[0]));
  return out;
}

TEST(ExecutorMemory, ResultsIdenticalWithPlanningAndBulkOnOrOff) {
  ExecutorOptions base;
  base.bulk_size = 15;
  const auto reference = TrainTwice(base);
  for (int bulk : {0, 1, 3, 15}) {
    for (bool plan : {true, false}) {
      ExecutorOptions o;
      o.bulk_size = bulk;
      o.inplace = plan;
      o.match_range = plan ? 16 : 0;
      EXPECT_EQ(TrainTwice(o), reference) << "bulk " << bulk << " planning " << plan;
    }
  }
}

}  // namespace
}  // namespace loom
