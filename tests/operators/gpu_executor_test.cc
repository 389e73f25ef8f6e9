// Executors on GPUs: Bind with arrays, gradients and auxiliary states on gpu(0), grad_req
// write/add/null, several outputs, SimpleBind, and group2ctx placement across host and GPUs —
// each against the same executor on the CPU. Without a GPU they skip, and binding on gpu(0) is
// a clear error.
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
#include "loom/operators/symbol_ops.h"

namespace loom {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

#define LOOM_REQUIRE_GPU()                                                  \
  do {                                                                      \
    if (const std::string reason = NoGpuReason(); !reason.empty()) {        \
      GTEST_SKIP() << reason;                                               \
    }                                                                       \
  } while (0)

std::vector<double> Values(const NDArray& a) {
  const NDArray host = a.ctx().is_host() ? a : a.CopyTo(Context::CPU());
  return host.AsType(DType::kFloat64).ToVector<double>();
}

void ExpectClose(const NDArray& got, const NDArray& want, const std::string& what) {
  const std::vector<double> g = Values(got), w = Values(want);
  ASSERT_EQ(g.size(), w.size()) << what;
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_NEAR(g[i], w[i], 1e-4 * (1 + std::abs(w[i]))) << what << "[" << i << "]";
  }
}

NDArray Random(const Shape& shape, Context ctx, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(static_cast<size_t>(shape.Size()));
  for (float& x : v) x = u(rng);
  return NDArray::FromHost<float>(v, shape).CopyTo(ctx);
}

// conv -> BatchNorm -> relu -> pool -> fc, with a second output (the pooled features).
Symbol ConvNet() {
  Symbol data = Symbol::Variable("data");
  Symbol conv = op::Convolution(data, {.kernel = Shape{3, 3}, .num_filter = 4}, "conv");
  Symbol bn = op::BatchNorm(conv, {}, "bn");
  Symbol act = op::Activation(bn, {.act_type = "relu"}, "relu");
  Symbol pool = op::Pooling(act, {.kernel = Shape{2, 2}, .pool_type = "max", .stride = Shape{2, 2}},
                            "pool");
  Symbol fc = op::FullyConnected(pool, {.num_hidden = 3}, "fc");
  return Symbol::Group({op::SoftmaxOutput(fc, {}, "softmax"), pool});
}

// Binds ConvNet on ctx with the given argument values (copied there), gradient arrays and aux
// states, grad_req per argument; runs forward and backward `rounds` times.
Executor BindConvNet(Context ctx, const std::map<std::string, NDArray>& values,
                const std::map<std::string, std::string, std::less<>>& req, int rounds) {
  Symbol net = ConvNet();
  NDArrayMap args, grads, aux;
  for (const std::string& a : net.ListArguments()) {
    args[a] = values.at(a).CopyTo(ctx);
    if (req.at(a) != "null") grads[a] = values.at("grad:" + a).CopyTo(ctx);
  }
  for (const std::string& a : net.ListAuxiliaryStates()) aux[a] = values.at(a).CopyTo(ctx);
  Executor exe = Executor::Bind(net, ctx, args, grads, req, aux);
  std::mt19937_64 rng(9);
  const NDArray head = Random(exe.outputs()[1].shape(), Context::CPU(), rng);
  for (int r = 0; r < rounds; ++r) {
    exe.Forward(true);
    exe.Backward({NDArray(), head});
  }
  return exe;
}

TEST(GpuExecutor, BindWithGradReqWriteAddNullAndAuxStatesMatchesCpu) {
  LOOM_REQUIRE_GPU();
  NameScope names;
  Symbol net = ConvNet();
  std::map<std::string, Shape> arg_shapes, aux_shapes;
  {
    const InferredShapes shapes = *net.InferShape({{"data", Shape{2, 1, 8, 8}}});
    for (size_t i = 0; i < shapes.arguments.size(); ++i) {
      arg_shapes[net.ListArguments()[i]] = shapes.arguments[i];
    }
    for (size_t i = 0; i < shapes.auxiliary_states.size(); ++i) {
      aux_shapes[net.ListAuxiliaryStates()[i]] = shapes.auxiliary_states[i];
    }
  }
  std::mt19937_64 rng(4);
  std::map<std::string, NDArray> values;
  std::map<std::string, std::string, std::less<>> req;
  for (const auto& [name, shape] : arg_shapes) {
    values[name] = Random(shape, Context::CPU(), rng);
    values["grad:" + name] = Random(shape, Context::CPU(), rng);
    req[name] = name == "data" || name == "softmax_label" ? "null"
                : name == "conv_weight" || name == "fc_bias" ? "add"
                                                              : "write";
  }
  values["softmax_label"] = NDArray::FromHost<float>({0, 2}, Shape{2});
  for (const auto& [name, shape] : aux_shapes) values[name] = Random(shape, Context::CPU(), rng);
  for (auto& [name, v] : values) {
    if (name == "bn_moving_var") v = NDArray::Full(v.shape(), 1.5);
  }
  Executor cpu = BindConvNet(Context::CPU(), values, req, 2);
  Executor gpu = BindConvNet(Context::GPU(0), values, req, 2);
  for (size_t j = 0; j < 2; ++j) {
    EXPECT_EQ(gpu.outputs()[j].ctx(), Context::GPU(0));
    ExpectClose(gpu.outputs()[j], cpu.outputs()[j], "output " + std::to_string(j));
  }
  for (const auto& [name, g] : cpu.grad_dict()) {
    ExpectClose(gpu.grad_dict().at(name), g, "gradient of " + name + " (" + req[name] + ")");
  }
  for (const auto& [name, a] : cpu.aux_dict()) {
    ExpectClose(gpu.aux_dict().at(name), a, "auxiliary state " + name);
  }
}

TEST(GpuExecutor, SimpleBindAllocatesOnTheGpu) {
  LOOM_REQUIRE_GPU();
  NameScope names;
  Executor exe = Executor::SimpleBind(ConvNet(), Context::GPU(0), {{"data", Shape{2, 1, 8, 8}}});
  for (const auto& [name, a] : exe.arg_dict()) EXPECT_EQ(a.ctx(), Context::GPU(0)) << name;
  for (const auto& [name, a] : exe.grad_dict()) EXPECT_EQ(a.ctx(), Context::GPU(0)) << name;
  exe.Forward(false);
  EXPECT_EQ(Values(exe.outputs()[0]).size(), 6u);
}

// Stage 1 on the host, stage 2 on gpu(0) (and stage 3 on gpu(1) when there is one): the same
// outputs and gradients as on one CPU.
TEST(GpuExecutor, Group2CtxAcrossHostAndGpusMatchesOneCpu) {
  LOOM_REQUIRE_GPU();
  auto build = [] {
    NameScope names;
    Symbol x = Symbol::Variable("data");
    Symbol h;
    {
      AttrScope s({{"ctx_group", "stage1"}});
      h = op::Activation(op::FullyConnected(x, {.num_hidden = 16}, "fc1"), {.act_type = "tanh"},
                         "tanh1");
    }
    {
      AttrScope s({{"ctx_group", "stage2"}});
      h = op::Activation(op::FullyConnected(h, {.num_hidden = 16}, "fc2"), {.act_type = "relu"},
                         "relu2");
    }
    AttrScope s({{"ctx_group", "stage3"}});
    return op::SoftmaxOutput(op::FullyConnected(h, {.num_hidden = 4}, "fc3"), {}, "softmax");
  };
  const ContextMap group2ctx{{"stage1", Context::CPU(1)},
                             {"stage2", Context::GPU(0)},
                             {"stage3", NumGpus() > 1 ? Context::GPU(1) : Context::GPU(0)}};
  Executor one = Executor::SimpleBind(build(), Context::CPU(), {{"data", Shape{5, 8}}});
  Executor split =
      Executor::SimpleBind(build(), Context::CPU(), {{"data", Shape{5, 8}}}, {}, "write", group2ctx);
  std::mt19937_64 rng(2);
  for (const auto& [name, a] : one.arg_dict()) {
    NDArray v = name == "softmax_label" ? NDArray::FromHost<float>({0, 1, 2, 3, 1}, Shape{5})
                                        : Random(a.shape(), Context::CPU(), rng);
    NDArray(a).CopyFrom(v);
    NDArray(split.arg_dict().at(name)).CopyFrom(v);
  }
  EXPECT_EQ(split.arg_dict().at("fc2_weight").ctx(), Context::GPU(0));
  EXPECT_EQ(split.arg_dict().at("fc1_weight").ctx(), Context::CPU(1));
  for (Executor* e : {&one, &split}) {
    e->Forward(true);
    e->Backward();
  }
  ExpectClose(split.outputs()[0], one.outputs()[0], "softmax output");
  for (const auto& [name, g] : one.grad_dict()) {
    ExpectClose(split.grad_dict().at(name), g, "gradient of " + name);
  }
}

TEST(GpuExecutor, BindingOnAMissingGpuIsAClearError) {
  if (NumGpus() > 0) GTEST_SKIP() << "this machine has a GPU: the error cannot be provoked";
  NameScope names;
  try {
    Executor::SimpleBind(ConvNet(), Context::GPU(0), {{"data", Shape{2, 1, 8, 8}}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("gpu(0)"));
    EXPECT_THAT(e.what(), AnyOf(HasSubstr("built without CUDA"), HasSubstr("no GPU available")));
  }
}

}  // namespace
}  // namespace loom
