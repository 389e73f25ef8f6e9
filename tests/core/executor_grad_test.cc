// Gradients through the executor: MXNet's executor tests T8-T12, T31, T32 expressed with the
// test operators, grad_req semantics, summed and pruned gradients, loss heads, and a
// finite-difference check in float64.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "executor_test_ops.h"
#include "loom/core/executor.h"
#include "loom/core/gradient.h"
#include "loom/core/operator.h"

namespace loom {
namespace {

using test::Array;
using test::Set;
using test::TestOp;
using test::Values;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

using GradReqMap = std::map<std::string, std::string, std::less<>>;

std::vector<double> Random(size_t n, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

void ExpectAllNear(const std::vector<double>& got, const std::vector<double>& want, double tol,
                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << " element " << i;
  }
}

std::vector<std::string> NodeNames(const Executor& exe, bool backward) {
  std::vector<std::string> out;
  for (const ExecNodeInfo& n : exe.Nodes()) {
    if (!n.op.empty() && n.backward == backward) out.push_back(n.name);
  }
  return out;
}

// T31 test_bind: ret = lhs OP rhs bound three ways, forward against a reference, backward with
// ones, bulk execution on and off.
void CheckBinary(const std::string& op, int bulk) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 4; ++trial) {
    const int ndim = 1 + trial % 3;
    std::vector<int64_t> dims;
    for (int d = 0; d < ndim; ++d) dims.push_back(1 + static_cast<int64_t>(rng() % 4));
    const Shape shape(dims);
    Symbol lhs = Symbol::Variable("lhs"), rhs = Symbol::Variable("rhs");
    Symbol ret = TestOp(op, {lhs, rhs});
    ASSERT_EQ(ret.ListArguments(), (std::vector<std::string>{"lhs", "rhs"}));
    const size_t n = static_cast<size_t>(shape.Size());
    const std::vector<double> x = Random(n, rng), y = Random(n, rng);
    std::vector<double> out(n), gx(n), gy(n);
    for (size_t i = 0; i < n; ++i) {
      out[i] = op == "_test_add" ? x[i] + y[i] : x[i] * y[i];
      gx[i] = op == "_test_add" ? 1 : y[i];
      gy[i] = op == "_test_add" ? 1 : x[i];
    }
    ExecutorOptions options;
    options.bulk_size = bulk;

    NDArray a = Array(x, shape), b = Array(y, shape);
    NDArray ga = NDArray::Zeros(shape), gb = NDArray::Zeros(shape);
    Executor e1 = Executor::Bind(ret, Context::CPU(), {a, b}, {ga, gb}, "write", {}, {}, options);
    e1.Forward(true);
    ExpectAllNear(Values(e1.outputs()[0]), out, 1e-5, op + " forward (list)");
    e1.Backward({NDArray::Ones(shape)});
    ExpectAllNear(Values(ga), gx, 1e-5, op + " lhs grad");
    ExpectAllNear(Values(gb), gy, 1e-5, op + " rhs grad");

    Executor e2 = Executor::Bind(ret, Context::CPU(), {a, b}, {}, "write", {}, {}, options);
    e2.Forward();
    ExpectAllNear(Values(e2.outputs()[0]), out, 1e-5, op + " forward (no grads)");
    EXPECT_TRUE(e2.grad_dict().empty());

    Executor e3 = Executor::Bind(ret, Context::CPU(), NDArrayMap{{"lhs", a}, {"rhs", b}},
                                 NDArrayMap{{"lhs", ga}, {"rhs", gb}}, "write", {}, {}, options);
    e3.Forward(true);
    ExpectAllNear(Values(e3.outputs()[0]), out, 1e-5, op + " forward (dict)");
    e3.Backward({NDArray::Ones(shape)});
    ExpectAllNear(Values(e3.grad_dict().at("lhs")), gx, 1e-5, op + " lhs grad (dict)");
    ExpectAllNear(Values(e3.grad_dict().at("rhs")), gy, 1e-5, op + " rhs grad (dict)");
  }
}

TEST(ExecutorGrad, T31BindAddAndMulWithAndWithoutBulk) {
  for (int bulk : {0, 15}) {
    CheckBinary("_test_add", bulk);
    CheckBinary("_test_mul", bulk);
  }
}

// T32 test_dot: (s0,s1)·(s1,s2) with grads (g·yᵀ, xᵀ·g); _test_fc is data · weightᵀ.
TEST(ExecutorGrad, T32DotGradients) {
  const int64_t s0 = 3, s1 = 4, s2 = 2;
  std::mt19937_64 rng(3);
  const std::vector<double> x = Random(s0 * s1, rng), w = Random(s2 * s1, rng),
                            g = Random(s0 * s2, rng);
  Symbol net = TestOp("_test_fc", {Symbol::Variable("x"), Symbol::Variable("w")},
                      {{"num_hidden", "2"}}, "fc");
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {s0, s1}}}, {}, "write");
  exe.CopyParamsFrom({{"x", Array(x, {s0, s1})}, {"w", Array(w, {s2, s1})}});
  exe.Forward(true);
  exe.Backward({Array(g, {s0, s2})});
  std::vector<double> out(s0 * s2, 0), gx(s0 * s1, 0), gw(s2 * s1, 0);
  for (int64_t i = 0; i < s0; ++i) {
    for (int64_t j = 0; j < s2; ++j) {
      for (int64_t k = 0; k < s1; ++k) {
        out[i * s2 + j] += x[i * s1 + k] * w[j * s1 + k];
        gx[i * s1 + k] += g[i * s2 + j] * w[j * s1 + k];
        gw[j * s1 + k] += g[i * s2 + j] * x[i * s1 + k];
      }
    }
  }
  ExpectAllNear(Values(exe.outputs()[0]), out, 1e-5, "dot");
  ExpectAllNear(Values(exe.grad_dict().at("x")), gx, 1e-5, "dot x grad");
  ExpectAllNear(Values(exe.grad_dict().at("w")), gw, 1e-5, "dot w grad");
}

// T8 test_blockgrad: BlockGrad(2 * a) binds; a's gradient is zero and nothing runs backward.
TEST(ExecutorGrad, T8BlockGradBindsAndStopsTheGradient) {
  Symbol a = Symbol::Variable("a");
  Symbol net = TestOp("_test_blockgrad", {TestOp("_test_scale", {a}, {{"alpha", "2"}})});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"a", {10, 10}}});
  Set(exe.arg_dict().at("a"), NDArray::Ones({10, 10}));
  Set(exe.grad_dict().at("a"), NDArray::Full({10, 10}, 5));
  exe.Forward(true);
  exe.Backward();  // BlockGrad ignores the head gradient: none needed
  EXPECT_EQ(Values(exe.outputs()[0]), std::vector<double>(100, 2.0));
  EXPECT_EQ(Values(exe.grad_dict().at("a")), std::vector<double>(100, 0.0));
  EXPECT_THAT(NodeNames(exe, true), ::testing::ElementsAre("a_zero_grad"));
}

// T9 test_zero_prop: a zero gradient prunes the backward graph, so its plan equals inference.
TEST(ExecutorGrad, T9ZeroGradientsPruneTheBackwardGraph) {
  Symbol data = Symbol::Variable("data");
  Symbol net = data;
  for (int i = 0; i < 10; ++i) net = TestOp("_test_mul", {net, net});
  const ShapeDict shapes{{"data", {10, 3, 256, 256}}};
  const MemoryPlanStats big = Executor::PlanMemory(net, shapes, {}, "write");
  const MemoryPlanStats small1 = Executor::PlanMemory(net, shapes, {}, "null");
  const MemoryPlanStats small2 =
      Executor::PlanMemory(TestOp("_test_blockgrad", {net}), shapes, {}, "write");
  EXPECT_GT(big.planned_bytes, small2.planned_bytes);
  EXPECT_EQ(small1.planned_bytes, small2.planned_bytes);
  EXPECT_TRUE(big.training);
  EXPECT_FALSE(small1.training);
}

// T10 test_zero_prop2: a non-differentiable operator behind BlockGrad is fine; without it,
// binding for gradients fails naming the operator.
TEST(ExecutorGrad, T10NonDifferentiableOperator) {
  Symbol x = Symbol::Variable("x");
  Symbol z = TestOp("_test_blockgrad", {TestOp("_test_nograd", {x}, {}, "take")});
  Executor exe = Executor::SimpleBind(z, Context::CPU(), {{"x", {10, 10}}});
  exe.Forward(true);
  exe.Backward();
  EXPECT_EQ(Values(exe.grad_dict().at("x")), std::vector<double>(100, 0.0));

  Symbol y = TestOp("_test_nograd", {x}, {}, "take");
  EXPECT_THAT(
      [&] {
        Executor::SimpleBind(y, Context::CPU(), {{"x", {10, 10}}});
      },
      ThrowsMessage<Error>(
          HasSubstr("Operator _test_nograd (node 'take') is non-differentiable because it "
                    "registers no Gradient function")));
  // With grad_req null nothing needs the gradient, so binding works.
  Executor::SimpleBind(y, Context::CPU(), {{"x", {10, 10}}}, {}, "null");
}

// T11: shapes need both inference sweeps (the weight's shape flows from the data).
TEST(ExecutorGrad, T11IncompleteShapeInferenceInOneForwardPass) {
  Symbol fc = TestOp("_test_fc", {Symbol::Variable("data")}, {{"num_hidden", "1"}}, "fc");
  Symbol weight = fc.GetInternals()["fc_weight"];
  Symbol net = TestOp("_test_add", {TestOp("_test_sum", {TestOp("_test_relu", {weight})}),
                                    TestOp("_test_sum", {fc})});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"data", {5, 13}}});
  EXPECT_EQ(exe.arg_dict().at("fc_weight").shape(), (Shape{1, 13}));
  exe.Forward(true);
  exe.Backward({NDArray::Ones({1})});
  exe.outputs()[0].WaitToRead();
}

// T12: data + data + ... (8 terms): the gradient of a reused entry is one sum, no cycle.
TEST(ExecutorGrad, T12GradientSumOfARepeatedEntry) {
  Symbol data = Symbol::Variable("data");
  Symbol net = data;
  for (int i = 0; i < 7; ++i) net = TestOp("_test_add", {net, data});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"data", {1}}});
  Set(exe.arg_dict().at("data"), NDArray::Full({1}, 1.5));
  exe.Forward(true);
  exe.Backward({NDArray::Ones({1})});
  EXPECT_EQ(Values(exe.outputs()[0]), std::vector<double>{12.0});
  EXPECT_EQ(Values(exe.grad_dict().at("data")), std::vector<double>{8.0});
  EXPECT_THAT(NodeNames(exe, true), ::testing::Contains("data_sum_grad"));
}

TEST(ExecutorGrad, ReusedEntryGradientsAreSummed) {
  // y = x*x + 3x: dy/dx = 2x + 3.
  Symbol x = Symbol::Variable("x");
  Symbol y = TestOp("_test_add",
                    {TestOp("_test_mul", {x, x}), TestOp("_test_scale", {x}, {{"alpha", "3"}})});
  Executor exe = Executor::SimpleBind(y, Context::CPU(), {{"x", {4}}});
  Set(exe.arg_dict().at("x"), Array({1, -2, 0.5, 3}, {4}));
  exe.Forward(true);
  exe.Backward({NDArray::Ones({4})});
  ExpectAllNear(Values(exe.grad_dict().at("x")), {5, -1, 4, 9}, 1e-6, "dx");
}

TEST(ExecutorGrad, GradReqWriteAddNull) {
  // out = a * b; a "write", b "add", c (unused by the gradient: "null").
  Symbol a = Symbol::Variable("a"), b = Symbol::Variable("b"), c = Symbol::Variable("c");
  Symbol net = TestOp("_test_add", {TestOp("_test_mul", {a, b}), c});
  NDArray av = Array({1, 2}, {2}), bv = Array({3, 4}, {2}), cv = Array({0, 0}, {2});
  NDArray ga = NDArray::Full({2}, 100), gb = NDArray::Full({2}, 10), gc = NDArray::Full({2}, 7);
  Executor exe = Executor::Bind(net, Context::CPU(), {av, bv, cv}, {ga, gb, gc},
                                GradReqMap{{"a", "write"}, {"b", "add"}, {"c", "null"}});
  EXPECT_EQ(exe.grad_req(), (std::vector<GradReq>{GradReq::kWrite, GradReq::kAdd, GradReq::kNull}));
  for (int step = 0; step < 2; ++step) {
    exe.Forward(true);
    exe.Backward({NDArray::Ones({2})});
  }
  EXPECT_EQ(Values(ga), (std::vector<double>{3, 4}));    // overwritten
  EXPECT_EQ(Values(gb), (std::vector<double>{12, 14}));  // 10 + 1 + 1, 10 + 2 + 2
  EXPECT_EQ(Values(gc), (std::vector<double>{7, 7}));    // untouched
  EXPECT_EQ(exe.grad_dict().count("c"), 0u);
  EXPECT_TRUE(exe.grad_arrays()[2].is_none());
}

TEST(ExecutorGrad, GradReqAddOfAnEntryOthersReadGetsACopy) {
  // x's gradient g flows on to y's: with "add" on x, y must not read the accumulated array.
  Symbol x = Symbol::Variable("x"), w = Symbol::Variable("w");
  Symbol net = TestOp("_test_mul", {TestOp("_test_add", {x, w}), w});
  NDArray gx = NDArray::Full({1}, 100), gw = NDArray::Zeros({1});
  Executor exe = Executor::Bind(net, Context::CPU(), {Array({2}, {1}), Array({3}, {1})}, {gx, gw},
                                std::vector<std::string>{"add", "write"});
  exe.Forward(true);
  exe.Backward({NDArray::Ones({1})});
  // d/dx = w = 3; d/dw = (x + w) + w = 8.
  EXPECT_EQ(Values(gx), std::vector<double>{103});
  EXPECT_EQ(Values(gw), std::vector<double>{8});
}

TEST(ExecutorGrad, NullRequestsPruneBackwardNodes) {
  // data -> fc1(w1) -> relu -> fc2(w2): only w2 needs a gradient, so nothing behind fc2 runs.
  Symbol h = TestOp("_test_relu",
                    {TestOp("_test_fc", {Symbol::Variable("data")}, {{"num_hidden", "3"}}, "fc1")},
                    {}, "relu1");
  Symbol net = TestOp("_test_fc", {h}, {{"num_hidden", "2"}}, "fc2");
  Executor only_w2 = Executor::SimpleBind(net, Context::CPU(), {{"data", {4, 5}}}, {},
                                          GradReqMap{{"fc2_weight", "write"}});
  EXPECT_THAT(NodeNames(only_w2, true), ::testing::ElementsAre("fc2_backward"));
  Executor all = Executor::SimpleBind(net, Context::CPU(), {{"data", {4, 5}}});
  EXPECT_THAT(NodeNames(all, true),
              ::testing::ElementsAre("fc2_backward", "relu1_backward", "fc1_backward"));
}

TEST(ExecutorGrad, LossHeadNeedsNoHeadGradient) {
  Symbol pred = TestOp("_test_scale", {Symbol::Variable("x")}, {{"alpha", "2"}});
  Symbol net = TestOp("_test_loss", {pred, Symbol::Variable("label")}, {}, "loss");
  EXPECT_EQ(net.ListArguments(), (std::vector<std::string>{"x", "label"}));
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}, {"label", {3}}});
  exe.Forward(true, {{"x", Array({1, 2, 3}, {3})}, {"label", Array({1, 1, 1}, {3})}});
  exe.Backward();
  // d loss / d pred = pred - label = (1, 3, 5); d/dx = 2 * that.
  EXPECT_EQ(Values(exe.grad_dict().at("x")), (std::vector<double>{2, 6, 10}));
  EXPECT_EQ(Values(exe.grad_dict().at("label")), (std::vector<double>{0, 0, 0}));
}

TEST(ExecutorGrad, MissingHeadGradientIsMXNetsError) {
  Symbol net = TestOp("_test_scale", {Symbol::Variable("x")}, {{"alpha", "2"}}, "s");
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}});
  exe.Forward(true);
  EXPECT_THAT([&] { exe.Backward(); },
              ThrowsMessage<Error>(AllOf(
                  HasSubstr("Because the last operator is not Loss function, head_gradient is "
                            "required when calling backward."),
                  HasSubstr("s_output"))));
  EXPECT_THAT([&] { exe.Backward({NDArray::Ones({4})}); },
              ThrowsMessage<ShapeError>(HasSubstr(
                  "the head gradient of output 's_output' has shape (4) but the output has "
                  "shape (3)")));
  exe.Backward({NDArray::Full({3}, 0.5)});
  EXPECT_EQ(Values(exe.grad_dict().at("x")), (std::vector<double>{1, 1, 1}));
  EXPECT_THAT([&] { exe.Backward({NDArray::Ones({3})}); },
              ThrowsMessage<Error>(HasSubstr("Backward needs a Forward(is_train=true)")));
}

TEST(ExecutorGrad, UnusedOutputOfAMultiOutputNodeGetsAZeroHeadGradient) {
  // Only output 0 of split2 is used: the backward node gets a _grad_zeros for output 1.
  Symbol x = Symbol::Variable("x");
  Symbol split = TestOp("_test_split2", {x}, {}, "split");
  Symbol net = TestOp("_test_scale", {split[0]}, {{"alpha", "3"}});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {2}}});
  exe.Forward(true);
  exe.Backward({NDArray::Ones({2})});
  EXPECT_EQ(Values(exe.grad_dict().at("x")), (std::vector<double>{3, 3}));
  EXPECT_THAT(NodeNames(exe, true), ::testing::Contains("split_output1_zero_grad"));
  // Both outputs as heads: dx = g0 + 2 g1.
  Executor both = Executor::SimpleBind(split, Context::CPU(), {{"x", {2}}});
  both.Forward(true);
  both.Backward({NDArray::Ones({2}), NDArray::Full({2}, 10)});
  EXPECT_EQ(Values(both.grad_dict().at("x")), (std::vector<double>{21, 21}));
}

TEST(ExecutorGrad, GradientOfAnOutputThatIsAnArgument) {
  // Group(x, 2x): x's gradient is the head gradient of output 0 plus 2 times output 1's.
  Symbol x = Symbol::Variable("x");
  Symbol net = Symbol::Group({x, TestOp("_test_scale", {x}, {{"alpha", "2"}})});
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {2}}});
  exe.Forward(true, {{"x", Array({4, 5}, {2})}});
  EXPECT_EQ(Values(exe.outputs()[0]), (std::vector<double>{4, 5}));
  exe.Backward({NDArray::Ones({2}), NDArray::Ones({2})});
  EXPECT_EQ(Values(exe.grad_dict().at("x")), (std::vector<double>{3, 3}));
  Symbol only = TestOp("_test_blockgrad", {x});
  Executor id = Executor::SimpleBind(Symbol::Group({x, only}), Context::CPU(), {{"x", {2}}});
  id.Forward(true);
  id.Backward({NDArray::Full({2}, 7), NDArray::Ones({2})});
  EXPECT_EQ(Values(id.grad_dict().at("x")), (std::vector<double>{7, 7}));
  EXPECT_THAT(NodeNames(id, true), ::testing::ElementsAre("x_grad_copy"));
}

TEST(ExecutorGrad, BuildGradientRejectsUnreachableVariables) {
  Symbol x = Symbol::Variable("x"), other = Symbol::Variable("other");
  Symbol y = TestOp("_test_relu", {x});
  EXPECT_THAT(
      [&] {
        BuildGradient(y.outputs(), {x.outputs()[0], other.outputs()[0]});
      },
      ThrowsMessage<Error>(HasSubstr("Cannot differentiate with respect to the 1-th variable "
                                     "'other' because it is unreachable from the outputs")));
  GradientGraph gg = BuildGradient(y.outputs(), {x.outputs()[0]});
  ASSERT_EQ(gg.grads.size(), 1u);
  EXPECT_EQ(gg.grads[0].node->attrs.op->name(), "_backward_test_relu");
  EXPECT_EQ(gg.head_grads[0]->attrs.name, "_head_grad_0");
  EXPECT_FALSE(IsZeroGradient(gg.grads[0]));
}

// Central finite differences of L = sum(head ⊙ f(params)) against the executor's gradients, in
// float64, for a graph using every differentiable test operator.
TEST(ExecutorGrad, FiniteDifferencesFloat64) {
  Symbol data = Symbol::Variable("data"), y = Symbol::Variable("y");
  Symbol fc = TestOp("_test_fc", {data}, {{"num_hidden", "3"}}, "fc");
  Symbol h =
      TestOp("_test_relu", {TestOp("_test_scale", {fc}, {{"alpha", "1.5"}, {"beta", "0.2"}})});
  Symbol n = TestOp("_test_norm", {h}, {}, "norm");
  Symbol split = TestOp("_test_split2", {n});
  Symbol z = TestOp("_test_add", {TestOp("_test_mul", {split[0], y}), split[1]});
  Symbol net = Symbol::Group({z, TestOp("_test_sum", {TestOp("_test_mul", {h, h})})});

  const ShapeDict shapes{{"data", {4, 5}}, {"y", {4, 3}}};
  const TypeDict types{{"data", DType::kFloat64}, {"y", DType::kFloat64}};
  Executor exe = Executor::SimpleBind(net, Context::CPU(), shapes, types);
  std::mt19937_64 rng(11);
  std::map<std::string, std::vector<double>> params;
  for (const auto& [name, arr] : exe.arg_dict()) {
    params[name] = Random(static_cast<size_t>(arr.size()), rng, -1, 1);
    Set(arr, Array(params[name], arr.shape(), DType::kFloat64));
  }
  const std::vector<double> head0 = Random(12, rng), head1 = {0.7};
  auto loss = [&] {
    exe.Forward(true);  // _test_norm's training output (its inference output subtracts a mean)
    std::vector<double> o0 = Values(exe.outputs()[0]), o1 = Values(exe.outputs()[1]);
    double l = 0;
    for (size_t i = 0; i < o0.size(); ++i) l += head0[i] * o0[i];
    return l + head1[0] * o1[0];
  };
  exe.Forward(true);
  exe.Backward({Array(head0, {4, 3}, DType::kFloat64), Array(head1, {1}, DType::kFloat64)});
  const double eps = 1e-6;
  for (const auto& [name, arr] : exe.arg_dict()) {
    std::vector<double> analytic = Values(exe.grad_dict().at(name));
    std::vector<double> p = params[name];
    for (size_t i = 0; i < p.size(); ++i) {
      const double saved = p[i];
      p[i] = saved + eps;
      Set(arr, Array(p, arr.shape(), DType::kFloat64));
      const double plus = loss();
      p[i] = saved - eps;
      Set(arr, Array(p, arr.shape(), DType::kFloat64));
      const double minus = loss();
      p[i] = saved;
      Set(arr, Array(p, arr.shape(), DType::kFloat64));
      EXPECT_NEAR(analytic[i], (plus - minus) / (2 * eps), 1e-6) << name << "[" << i << "]";
    }
  }
}

}  // namespace
}  // namespace loom
