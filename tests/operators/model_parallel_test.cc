// Model parallelism with real operators: MXNet's test_load_000800 (T13: the C++-built ctx_group
// MLP against the 0.8 file save_000800.json, attributes and training on three devices), and a
// two-layer unrolled LSTM with one layer per device training exactly as on one device.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "loom/core/attr_scope.h"
#include "loom/core/device_info.h"
#include "loom/core/executor.h"
#include "loom/core/name_manager.h"
#include "loom/core/storage.h"
#include "loom/operators/rnn_cell.h"
#include "loom/operators/symbol_ops.h"

namespace loom {
namespace {

using ::testing::HasSubstr;

const Context kCpu0 = Context::CPU(0), kCpu1 = Context::CPU(1), kCpu2 = Context::CPU(2);

std::vector<double> Values(const NDArray& a) {
  const NDArray host = a.ctx().is_host() ? a : a.CopyTo(Context::CPU());
  NDArray d = host.dtype() == DType::kFloat64 ? host : host.AsType(DType::kFloat64);
  return d.ToVector<double>();
}

void FillRandom(const NDArray& a, std::mt19937_64& rng, double scale = 0.5) {
  std::uniform_real_distribution<float> u(static_cast<float>(-scale), static_cast<float>(scale));
  std::vector<float> v(static_cast<size_t>(a.size()));
  for (float& x : v) x = u(rng);
  NDArray(a).CopyFromHost(v.data(), v.size());
}

// T13 (test_symbol.py::test_load_000800 of MXNet 1.6), built with AttrScope.
Symbol BuildT13() {
  Symbol act1;
  {
    AttrScope scope({{"ctx_group", "stage1"}});
    Symbol data = Symbol::Variable("data", {.lr_mult = 0.2});
    Symbol weight = Symbol::Variable("fc1_weight", {.lr_mult = 1.2});
    Symbol fc1 = op::FullyConnected(
        data, {.num_hidden = 128, .weight = weight, .attr = {{"wd_mult", "0.3"}}}, "fc1");
    act1 = op::Activation(fc1, {.act_type = "relu"}, "relu1");
  }
  AttrScope scope({{"ctx_group", "stage2"}});
  Symbol fc2 = op::FullyConnected(act1, {.num_hidden = 64, .attr = {{"lr_mult", "0.01"}}}, "fc2");
  Symbol act2 = op::Activation(fc2, {.act_type = "relu"}, "relu2");
  Symbol fc3 = op::FullyConnected(act2, {.num_hidden = 10}, "fc3");
  Symbol bn = op::BatchNorm(fc3, {}, "batchnorm0");
  return op::SoftmaxOutput(bn, {}, "softmax");
}

Symbol LoadLegacy() {
  return Symbol::Load(std::string(LOOM_TEST_DATA_DIR) +
                      "/mxnet-json/legacy-mlp-batchnorm-ctxgroup-v0.8.json");
}

TEST(ModelParallel, T13LegacyFileHasTheAttributesOfTheBuiltSymbol) {
  NameScope names;
  Symbol built = BuildT13();
  Symbol loaded = LoadLegacy();
  auto built_attrs = built.AttrDict();
  auto loaded_attrs = loaded.AttrDict();
  int compared = 0;
  for (const auto& [node, attrs] : built_attrs) {
    for (const auto& [key, value] : attrs) {
      if (!(key.size() > 4 && key.starts_with("__") && key.ends_with("__"))) continue;
      if (key == "__profiler_scope__") continue;
      ASSERT_TRUE(loaded_attrs.count(node)) << node;
      ASSERT_TRUE(loaded_attrs.at(node).count(key)) << node << " " << key;
      EXPECT_EQ(loaded_attrs.at(node).at(key), value) << node << " " << key;
      ++compared;
    }
  }
  // ctx_group on all 17 nodes, plus the lr/wd multipliers of data, fc1*, fc2*.
  EXPECT_GE(compared, 17);
  EXPECT_EQ(built_attrs.at("fc1_weight").at("__lr_mult__"), "1.2");
  EXPECT_EQ(built_attrs.at("fc2_bias").at("__lr_mult__"), "0.01");
  EXPECT_EQ(built_attrs.at("batchnorm0_moving_var").at("__ctx_group__"), "stage2");
  EXPECT_EQ(built.ListArguments(), loaded.ListArguments());
  EXPECT_EQ(built.ListAuxiliaryStates(), loaded.ListAuxiliaryStates());
  EXPECT_EQ(built.ListOutputs(), loaded.ListOutputs());
}

// Forward (training) and backward on cpu(0) with stage1 on cpu(1) and stage2 on cpu(2), the
// same random parameters for both symbols: outputs, gradients and moving statistics agree.
TEST(ModelParallel, T13BuiltAndLoadedTrainIdenticallyOnThreeDevices) {
  NameScope names;
  const ContextMap group2ctx{{"stage1", kCpu1}, {"stage2", kCpu2}};
  std::vector<std::vector<double>> results[2];
  std::vector<Symbol> symbols{BuildT13(), LoadLegacy()};
  for (int s = 0; s < 2; ++s) {
    Executor exe =
        Executor::SimpleBind(symbols[s], kCpu0, {{"data", {1, 200}}}, {}, "write", group2ctx);
    std::mt19937_64 rng(3);
    for (const std::string& name : exe.symbol().ListArguments()) {
      const NDArray& a = exe.arg_dict().at(name);
      if (name == "softmax_label") {
        NDArray(a).CopyFromHost(std::vector<float>{7}.data(), 1);
      } else {
        FillRandom(a, rng);
      }
      EXPECT_EQ(a.ctx(), name == "data" || name.starts_with("fc1") ? kCpu1 : kCpu2) << name;
    }
    exe.Forward(true);
    exe.Backward();
    results[s].push_back(Values(exe.outputs()[0]));
    for (const auto& [name, g] : exe.grad_dict()) results[s].push_back(Values(g));
    for (const auto& [name, a] : exe.aux_dict()) results[s].push_back(Values(a));
    if (s == 0) {
      bool copies = false;
      for (const ExecNodeInfo& n : exe.Nodes()) copies |= n.name == "relu1_0_copy";
      EXPECT_TRUE(copies);
    }
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  for (size_t i = 0; i < results[0].size(); ++i) EXPECT_EQ(results[0][i], results[1][i]) << i;
}

// A two-layer unrolled LSTM, each layer's cell constructed and unrolled inside its own
// ctx_group scope; a softmax head per step in the layer-1 group.
Symbol TwoLayerLSTM(int64_t steps, int64_t hidden) {
  std::vector<Symbol> x;
  for (int64_t t = 0; t < steps; ++t)
    x.push_back(Symbol::Variable("t" + std::to_string(t) + "_data"));
  for (int layer = 0; layer < 2; ++layer) {
    AttrScope scope({{"ctx_group", "layer" + std::to_string(layer)}});
    rnn::LSTMCell cell(hidden, "l" + std::to_string(layer) + "_");
    x = cell.Unroll(static_cast<int>(steps), x).first;
  }
  AttrScope scope({{"ctx_group", "layer1"}});
  Symbol cls_weight = Symbol::Variable("cls_weight"), cls_bias = Symbol::Variable("cls_bias");
  std::vector<Symbol> losses;
  for (int64_t t = 0; t < steps; ++t) {
    const std::string name = "t" + std::to_string(t);
    Symbol fc = op::FullyConnected(x[t], {.num_hidden = 5, .weight = cls_weight, .bias = cls_bias},
                                   name + "_cls");
    losses.push_back(op::SoftmaxOutput(fc, {}, name + "_sm"));
  }
  return Symbol::Group(losses);
}

// Three SGD steps of TwoLayerLSTM bound on ctx with group2ctx: outputs, gradients and weights.
std::vector<std::vector<double>> TrainTwoLayerLSTM(int64_t steps, int64_t hidden, int64_t batch,
                                                   int64_t input, Context ctx,
                                                   const ContextMap& group2ctx,
                                                   std::vector<ExecNodeInfo>* nodes) {
  NameScope names;
  Symbol net = TwoLayerLSTM(steps, hidden);
  ShapeDict shapes;
  std::map<std::string, std::string, std::less<>> req;
  for (const std::string& name : net.ListArguments()) {
    const bool data = name.ends_with("_data"), label = name.ends_with("_label");
    if (data) shapes[name] = Shape{batch, input};
    if (label) shapes[name] = Shape{batch};
    req[name] = data || label ? "null" : "write";
  }
  Executor exe = Executor::SimpleBind(net, ctx, shapes, {}, req, group2ctx);
  std::mt19937_64 rng(17);
  for (const std::string& name : net.ListArguments()) {
    const NDArray& a = exe.arg_dict().at(name);
    if (name.ends_with("_label")) {
      std::vector<float> labels{0, 3, 1, 4};
      NDArray(a).CopyFromHost(labels.data(), labels.size());
    } else {
      FillRandom(a, rng);
    }
  }
  std::vector<std::vector<double>> out;
  for (int step = 0; step < 3; ++step) {
    exe.Forward(true);
    exe.Backward();
    for (const NDArray& o : exe.outputs()) out.push_back(Values(o));
    for (const auto& [name, g] : exe.grad_dict()) out.push_back(Values(g));
    for (const auto& [name, g] : exe.grad_dict()) {
      NDArray w = exe.arg_dict().at(name);
      if (w.ctx().is_host() && g.ctx().is_host()) {
        w -= g * 0.5;
      } else {  // NDArray arithmetic runs on the host
        NDArray host = w.CopyTo(Context::CPU());
        host -= g.CopyTo(Context::CPU()) * 0.5;
        w.CopyFrom(host);
      }
    }
  }
  for (const auto& [name, w] : exe.arg_dict()) out.push_back(Values(w));
  if (nodes) *nodes = exe.Nodes();
  return out;
}

TEST(ModelParallel, TwoLayerLSTMOnTwoDevicesTrainsLikeOnOne) {
  const int64_t steps = 3, hidden = 6, batch = 4, input = 5;
  auto run = [&](const ContextMap& group2ctx, std::vector<ExecNodeInfo>* nodes) {
    return TrainTwoLayerLSTM(steps, hidden, batch, input, kCpu0, group2ctx, nodes);
  };
  const auto one = run({}, nullptr);
  std::vector<ExecNodeInfo> nodes;
  const auto two = run({{"layer0", kCpu0}, {"layer1", kCpu1}}, &nodes);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].size(), two[i].size());
    for (size_t k = 0; k < one[i].size(); ++k) EXPECT_NEAR(one[i][k], two[i][k], 1e-5) << i;
  }
  std::map<std::string, Context> dev;
  for (const ExecNodeInfo& n : nodes) dev[n.name] = n.ctx;
  EXPECT_EQ(dev.at("l0_t1_i2h"), kCpu0);
  EXPECT_EQ(dev.at("l1_t1_i2h"), kCpu1);
  EXPECT_EQ(dev.at("l1_begin_state_0"), kCpu1);
  EXPECT_EQ(dev.at("t2_sm"), kCpu1);
  // Layer 0's per-step outputs cross to cpu(1) once each; nothing else crosses forward.
  int forward_copies = 0;
  for (const ExecNodeInfo& n : nodes) {
    if (n.op == "_CrossDeviceCopy" && !n.backward) {
      ++forward_copies;
      EXPECT_THAT(n.name, HasSubstr("l0_t")) << n.name;
      EXPECT_EQ(n.ctx, kCpu1) << n.name;
    }
  }
  EXPECT_EQ(forward_copies, steps);
}

}  // namespace
}  // namespace loom

namespace loom {
namespace {

// The same on GPUs: layer 0 on gpu(0), layer 1 on gpu(1) (on cpu(1) with one GPU, so that the
// copies cross between host and device), against one CPU.
TEST(ModelParallelGpu, TwoLayerLSTMOnGpusTrainsLikeOnOneCpu) {
  if (const std::string reason = NoGpuReason(); !reason.empty()) GTEST_SKIP() << reason;
  const int64_t steps = 3, hidden = 6, batch = 4, input = 5;
  const Context second = NumGpus() > 1 ? Context::GPU(1) : kCpu1;
  const auto one = TrainTwoLayerLSTM(steps, hidden, batch, input, kCpu0, {}, nullptr);
  std::vector<ExecNodeInfo> nodes;
  const auto two = TrainTwoLayerLSTM(steps, hidden, batch, input, Context::GPU(0),
                                     {{"layer0", Context::GPU(0)}, {"layer1", second}}, &nodes);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].size(), two[i].size());
    for (size_t k = 0; k < one[i].size(); ++k) EXPECT_NEAR(one[i][k], two[i][k], 1e-4) << i;
  }
  std::map<std::string, Context> dev;
  for (const ExecNodeInfo& n : nodes) dev[n.name] = n.ctx;
  EXPECT_EQ(dev.at("l0_t1_i2h"), Context::GPU(0));
  EXPECT_EQ(dev.at("l1_t1_i2h"), second);
}

}  // namespace
}  // namespace loom
