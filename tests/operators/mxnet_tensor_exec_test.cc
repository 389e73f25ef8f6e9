// MXNet's tests that run the tensor operators' kernels (mxnet-facts §8): T31 test_bind (+ - * /
// maximum minimum bound three ways, forward and backward, bulk execution on and off), T32
// test_dot (matrices and vectors), the graphs of T20, T23, T25 and T28 (dot, batch_dot,
// transpose, Embedding, pick) executed forward and backward, and Reshape's special codes (0, -1,
// -2, -3, -4, reverse) executed.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "loom/core/executor.h"
#include "loom/core/symbol.h"

namespace loom {
namespace {

std::vector<double> Random(size_t n, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

NDArray Array(const std::vector<double>& v, const Shape& shape, DType dtype = DType::kFloat32) {
  NDArray a = NDArray::FromHost(v, shape);
  return dtype == DType::kFloat64 ? a : a.AsType(dtype);
}

std::vector<double> Values(const NDArray& a) {
  return a.dtype() == DType::kFloat64 ? a.ToVector<double>()
                                      : a.AsType(DType::kFloat64).ToVector<double>();
}

void Set(NDArray dst, const std::vector<double>& v) {
  dst.CopyFrom(Array(v, dst.shape(), dst.dtype()));
}

void ExpectAllNear(const std::vector<double>& got, const std::vector<double>& want, double tol,
                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << " element " << i;
  }
}

// ---- T31 test_bind ----------------------------------------------------------------------------

struct BinaryRule {
  const char* name;
  std::function<Symbol(const Symbol&, const Symbol&)> build;
  std::function<double(double, double)> f;
  std::function<double(double, double, double)> ga;  // (x, y, g) -> d lhs
  std::function<double(double, double, double)> gb;  // (x, y, g) -> d rhs
};

std::vector<BinaryRule> BinaryRules() {
  auto op = [](const char* name) {
    return [name](const Symbol& a, const Symbol& b) {
      return Symbol::Op(name).Input("lhs", a).Input("rhs", b).Build();
    };
  };
  return {
      {"+", [](const Symbol& a, const Symbol& b) { return a + b; },
       [](double x, double y) { return x + y; }, [](double, double, double g) { return g; },
       [](double, double, double g) { return g; }},
      {"-", [](const Symbol& a, const Symbol& b) { return a - b; },
       [](double x, double y) { return x - y; }, [](double, double, double g) { return g; },
       [](double, double, double g) { return -g; }},
      {"*", [](const Symbol& a, const Symbol& b) { return a * b; },
       [](double x, double y) { return x * y; }, [](double, double y, double g) { return y * g; },
       [](double x, double, double g) { return x * g; }},
      {"/", [](const Symbol& a, const Symbol& b) { return a / b; },
       [](double x, double y) { return x / y; }, [](double, double y, double g) { return g / y; },
       [](double x, double y, double g) { return -x * g / (y * y); }},
      {"maximum", op("_maximum"), [](double x, double y) { return std::max(x, y); },
       [](double x, double y, double g) { return x >= y ? g : 0.0; },
       [](double x, double y, double g) { return y > x ? g : 0.0; }},
      {"minimum", op("_minimum"), [](double x, double y) { return std::min(x, y); },
       [](double x, double y, double g) { return x <= y ? g : 0.0; },
       [](double x, double y, double g) { return y < x ? g : 0.0; }},
  };
}

void CheckBind(const BinaryRule& rule, int bulk) {
  std::mt19937_64 rng(31);
  for (int trial = 0; trial < 6; ++trial) {
    const int ndim = 1 + trial % 3;
    std::vector<int64_t> dims;
    for (int d = 0; d < ndim; ++d) dims.push_back(1 + static_cast<int64_t>(rng() % 5));
    const Shape shape(dims);
    Symbol lhs = Symbol::Variable("lhs"), rhs = Symbol::Variable("rhs");
    Symbol ret = rule.build(lhs, rhs);
    ASSERT_EQ(ret.ListArguments(), (std::vector<std::string>{"lhs", "rhs"}));
    const size_t n = static_cast<size_t>(shape.Size());
    const std::vector<double> x = Random(n, rng), y = Random(n, rng, 0.5, 1.5);
    std::vector<double> out(n), gx(n), gy(n);
    for (size_t i = 0; i < n; ++i) {
      out[i] = rule.f(x[i], y[i]);
      gx[i] = rule.ga(x[i], y[i], 1.0);
      gy[i] = rule.gb(x[i], y[i], 1.0);
    }
    const std::string what =
        std::string(rule.name) + " " + shape.ToString() + " bulk " + std::to_string(bulk);
    ExecutorOptions options;
    options.bulk_size = bulk;
    NDArray a = Array(x, shape), b = Array(y, shape);

    NDArray ga = NDArray::Zeros(shape), gb = NDArray::Zeros(shape);
    Executor e1 = Executor::Bind(ret, Context::CPU(), {a, b}, {ga, gb}, "write", {}, {}, options);
    e1.Forward(true);
    ExpectAllNear(Values(e1.outputs()[0]), out, 1e-5, what + " forward (list)");
    e1.Backward({NDArray::Ones(shape)});
    ExpectAllNear(Values(ga), gx, 1e-5, what + " lhs grad");
    ExpectAllNear(Values(gb), gy, 1e-5, what + " rhs grad");

    Executor e2 = Executor::Bind(ret, Context::CPU(), {a, b}, {}, "write", {}, {}, options);
    e2.Forward();
    ExpectAllNear(Values(e2.outputs()[0]), out, 1e-5, what + " forward (no grads)");
    EXPECT_TRUE(e2.grad_dict().empty());

    NDArray ga3 = NDArray::Zeros(shape), gb3 = NDArray::Zeros(shape);
    Executor e3 = Executor::Bind(ret, Context::CPU(), NDArrayMap{{"lhs", a}, {"rhs", b}},
                                 NDArrayMap{{"lhs", ga3}, {"rhs", gb3}}, "write", {}, {}, options);
    e3.Forward(true);
    ExpectAllNear(Values(e3.outputs()[0]), out, 1e-5, what + " forward (dict)");
    e3.Backward({NDArray::Ones(shape)});
    ExpectAllNear(Values(e3.grad_dict().at("lhs")), gx, 1e-5, what + " lhs grad (dict)");
    ExpectAllNear(Values(e3.grad_dict().at("rhs")), gy, 1e-5, what + " rhs grad (dict)");
  }
}

TEST(MXNetTensorExec, T31BindEveryArithmeticOperator) {
  for (const BinaryRule& rule : BinaryRules()) {
    for (int bulk : {0, 15}) CheckBind(rule, bulk);
  }
}

// ---- T32 test_dot -----------------------------------------------------------------------------

TEST(MXNetTensorExec, T32DotMatrices) {
  std::mt19937_64 rng(32);
  for (int trial = 0; trial < 3; ++trial) {
    const int64_t s0 = 1 + trial, s1 = 2 + trial, s2 = 3;
    Symbol ret =
        Symbol::Op("dot").Input("lhs", Symbol::Variable("x")).Input("rhs", Symbol::Variable("y"));
    const std::vector<double> x = Random(s0 * s1, rng), y = Random(s1 * s2, rng),
                              g = Random(s0 * s2, rng);
    Executor exe = Executor::SimpleBind(ret, Context::CPU(), {{"x", {s0, s1}}, {"y", {s1, s2}}});
    Set(exe.arg_dict().at("x"), x);
    Set(exe.arg_dict().at("y"), y);
    exe.Forward(true);
    exe.Backward({Array(g, {s0, s2})});
    std::vector<double> out(s0 * s2, 0), gx(s0 * s1, 0), gy(s1 * s2, 0);
    for (int64_t i = 0; i < s0; ++i) {
      for (int64_t j = 0; j < s2; ++j) {
        for (int64_t k = 0; k < s1; ++k) {
          out[i * s2 + j] += x[i * s1 + k] * y[k * s2 + j];
          gx[i * s1 + k] += g[i * s2 + j] * y[k * s2 + j];  // g . y^T
          gy[k * s2 + j] += x[i * s1 + k] * g[i * s2 + j];  // x^T . g
        }
      }
    }
    EXPECT_EQ(exe.outputs()[0].shape(), (Shape{s0, s2}));
    ExpectAllNear(Values(exe.outputs()[0]), out, 1e-5, "dot");
    ExpectAllNear(Values(exe.grad_dict().at("x")), gx, 1e-5, "dot x grad");
    ExpectAllNear(Values(exe.grad_dict().at("y")), gy, 1e-5, "dot y grad");
  }
}

TEST(MXNetTensorExec, T32DotVectors) {
  std::mt19937_64 rng(33);
  const int64_t m = 5;
  Symbol ret =
      Symbol::Op("dot").Input("lhs", Symbol::Variable("x")).Input("rhs", Symbol::Variable("y"));
  const std::vector<double> x = Random(m, rng), y = Random(m, rng), g = Random(1, rng);
  Executor exe = Executor::SimpleBind(ret, Context::CPU(), {{"x", {m}}, {"y", {m}}});
  Set(exe.arg_dict().at("x"), x);
  Set(exe.arg_dict().at("y"), y);
  exe.Forward(true);
  exe.Backward({Array(g, {1})});
  double out = 0;
  std::vector<double> gx(m), gy(m);
  for (int64_t i = 0; i < m; ++i) {
    out += x[i] * y[i];
    gx[i] = g[0] * y[i];
    gy[i] = g[0] * x[i];
  }
  EXPECT_EQ(exe.outputs()[0].shape(), (Shape{1}));
  ExpectAllNear(Values(exe.outputs()[0]), {out}, 1e-5, "dot of vectors");
  ExpectAllNear(Values(exe.grad_dict().at("x")), gx, 1e-5, "x grad (g * y)");
  ExpectAllNear(Values(exe.grad_dict().at("y")), gy, 1e-5, "y grad (g * x)");
}

// ---- T20, T23, T25, T28 executed ------------------------------------------------------------

// T20: FC(data, weight = _identity_with_attr_like_rhs(broadcast_add(w, wshift), w)); only data's
// shape is given, w's (11, 100) comes from backward inference.
TEST(MXNetTensorExec, T20BackwardInferredWeightRunsForwardAndBackward) {
  Symbol data = Symbol::Variable("data");
  Symbol w = Symbol::Variable("w");
  Symbol wshift = Symbol::Variable("wshift", {.shape = Shape{1}});
  Symbol wt = Symbol::Op("broadcast_add").Input("lhs", w).Input("rhs", wshift);
  wt = Symbol::Op("_identity_with_attr_like_rhs").Input("lhs", wt).Input("rhs", w);
  Symbol net = Symbol::Op("FullyConnected")
                   .Input("data", data)
                   .Input("weight", wt)
                   .Param("num_hidden", 11)
                   .Param("no_bias", true);
  const int64_t n = 7, k = 100, h = 11;
  Executor exe = Executor::SimpleBind(
      net, Context::CPU(), {{"data", {n, k}}}, {},
      std::map<std::string, std::string, std::less<>>{{"w", "write"}, {"wshift", "write"}});
  ASSERT_EQ(exe.arg_dict().at("w").shape(), (Shape{h, k}));
  std::mt19937_64 rng(20);
  const std::vector<double> xv = Random(n * k, rng), wv = Random(h * k, rng), shift = {0.25},
                            g = Random(n * h, rng);
  Set(exe.arg_dict().at("data"), xv);
  Set(exe.arg_dict().at("w"), wv);
  Set(exe.arg_dict().at("wshift"), shift);
  exe.Forward(true);
  exe.Backward({Array(g, {n, h})});
  std::vector<double> out(n * h, 0), gw(h * k, 0);
  double gshift = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < h; ++j) {
      for (int64_t l = 0; l < k; ++l) {
        out[i * h + j] += xv[i * k + l] * (wv[j * k + l] + shift[0]);
        gw[j * k + l] += g[i * h + j] * xv[i * k + l];
      }
    }
  }
  for (double v : gw) gshift += v;
  ExpectAllNear(Values(exe.outputs()[0]), out, 1e-4, "FC output");
  ExpectAllNear(Values(exe.grad_dict().at("w")), gw, 1e-4, "w grad");
  ExpectAllNear(Values(exe.grad_dict().at("wshift")), {gshift}, 1e-4, "wshift grad (summed)");
}

// T23: SliceChannel's inputs inferred from the outputs' use, then run: out = a's part + c.
TEST(MXNetTensorExec, T23SliceChannelPartsRunForwardAndBackward) {
  struct Config {
    Shape a_partial;  // as MXNet's test gives it: the unknown dimensions come from c
    Shape a;
    const char* num_outputs;
    bool squeeze;
    Shape c;
    int64_t part_len;  // along axis 1
  };
  for (const Config& cfg : {Config{{0, 10}, {5, 10}, "10", true, {5}, 1},
                            Config{{0, 15, 0}, {3, 15, 2}, "3", false, {3, 5, 2}, 5}}) {
    Symbol a = Symbol::Variable("a", {.shape = cfg.a_partial}), c = Symbol::Variable("c");
    Symbol b = Symbol::Op("SliceChannel")
                   .Input("data", a)
                   .Param("num_outputs", cfg.num_outputs)
                   .Param("axis", 1)
                   .Param("squeeze_axis", cfg.squeeze)
                   .Build();
    Symbol net = b[1] + c;
    Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"c", cfg.c}});
    ASSERT_EQ(exe.arg_dict().at("a").shape(), cfg.a);
    std::mt19937_64 rng(23);
    const std::vector<double> av = Random(cfg.a.Size(), rng), cv = Random(cfg.c.Size(), rng),
                              g = Random(cfg.c.Size(), rng);
    Set(exe.arg_dict().at("a"), av);
    Set(exe.arg_dict().at("c"), cv);
    exe.Forward(true);
    exe.Backward({Array(g, cfg.c)});
    // a viewed as (rows, cols, inner); the part is cols [part_len, 2 * part_len).
    const int64_t rows = cfg.a[0], cols = cfg.a[1], inner = cfg.a.Size() / (rows * cols);
    std::vector<double> out(cfg.c.Size()), ga(cfg.a.Size(), 0.0);
    size_t o = 0;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = cfg.part_len; j < 2 * cfg.part_len; ++j) {
        for (int64_t i = 0; i < inner; ++i, ++o) {
          const int64_t at = (r * cols + j) * inner + i;
          out[o] = av[at] + cv[o];
          ga[at] = g[o];
        }
      }
    }
    ExpectAllNear(Values(exe.outputs()[0]), out, 1e-6, "part + c");
    ExpectAllNear(Values(exe.grad_dict().at("a")), ga, 1e-6, "a grad (only the used part)");
    ExpectAllNear(Values(exe.grad_dict().at("c")), g, 1e-6, "c grad");
  }
}

// T25: Concat of a (2,10) and b (2,5) plus d (2,15), shapes partly inferred, then run.
TEST(MXNetTensorExec, T25ConcatRunsForwardAndBackward) {
  Symbol a = Symbol::Variable("a", {.shape = Shape{0, 10}});
  Symbol b = Symbol::Variable("b", {.shape = Shape{0, 5}});
  Symbol c = Symbol::Op("Concat").Inputs({a, b}).Param("num_args", 2).Param("dim", 1).Build();
  Symbol d = Symbol::Variable("d", {.shape = Shape{2, 0}});
  Symbol net = c + d;
  Executor exe = Executor::SimpleBind(net, Context::CPU(), {});
  ASSERT_EQ(exe.arg_dict().at("a").shape(), (Shape{2, 10}));
  ASSERT_EQ(exe.arg_dict().at("b").shape(), (Shape{2, 5}));
  ASSERT_EQ(exe.arg_dict().at("d").shape(), (Shape{2, 15}));
  std::mt19937_64 rng(25);
  const std::vector<double> av = Random(20, rng), bv = Random(10, rng), dv = Random(30, rng),
                            g = Random(30, rng);
  Set(exe.arg_dict().at("a"), av);
  Set(exe.arg_dict().at("b"), bv);
  Set(exe.arg_dict().at("d"), dv);
  exe.Forward(true);
  exe.Backward({Array(g, {2, 15})});
  std::vector<double> out(30), ga, gb;
  for (int64_t r = 0; r < 2; ++r) {
    for (int64_t j = 0; j < 15; ++j) {
      const double v = j < 10 ? av[r * 10 + j] : bv[r * 5 + j - 10];
      out[r * 15 + j] = v + dv[r * 15 + j];
      (j < 10 ? ga : gb).push_back(g[r * 15 + j]);
    }
  }
  ExpectAllNear(Values(exe.outputs()[0]), out, 1e-6, "concat + d");
  ExpectAllNear(Values(exe.grad_dict().at("a")), ga, 1e-6, "a grad");
  ExpectAllNear(Values(exe.grad_dict().at("b")), gb, 1e-6, "b grad");
  ExpectAllNear(Values(exe.grad_dict().at("d")), g, 1e-6, "d grad");
}

// T28 with the unknown batch set to 2: dot (2,3,4)x(4,5) -> (2,3,5), batch_dot (2,3,4)x(2,4,5)
// -> (2,3,5) and transpose (2,3,224,224) axes (0,3,2,1) -> (2,224,224,3) (smaller images here),
// forward values and the gradient of sum(head * out).
TEST(MXNetTensorExec, T28PartialShapeOperatorsRun) {
  std::mt19937_64 rng(28);
  {
    Symbol net =
        Symbol::Op("dot").Input("lhs", Symbol::Variable("x")).Input("rhs", Symbol::Variable("y"));
    Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {2, 3, 4}}, {"y", {4, 5}}});
    ASSERT_EQ(exe.outputs()[0].shape(), (Shape{2, 3, 5}));
    const auto x = Random(24, rng), y = Random(20, rng), g = Random(30, rng);
    Set(exe.arg_dict().at("x"), x);
    Set(exe.arg_dict().at("y"), y);
    exe.Forward(true);
    exe.Backward({Array(g, {2, 3, 5})});
    std::vector<double> out(30, 0), gy(20, 0);
    for (int64_t i = 0; i < 6; ++i) {
      for (int64_t j = 0; j < 5; ++j) {
        for (int64_t k = 0; k < 4; ++k) {
          out[i * 5 + j] += x[i * 4 + k] * y[k * 5 + j];
          gy[k * 5 + j] += x[i * 4 + k] * g[i * 5 + j];
        }
      }
    }
    ExpectAllNear(Values(exe.outputs()[0]), out, 1e-5, "dot (2,3,4)x(4,5)");
    ExpectAllNear(Values(exe.grad_dict().at("y")), gy, 1e-5, "dot rhs grad");
  }
  {
    Symbol net = Symbol::Op("batch_dot")
                     .Input("lhs", Symbol::Variable("x"))
                     .Input("rhs", Symbol::Variable("y"));
    Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {2, 3, 4}}, {"y", {2, 4, 5}}});
    ASSERT_EQ(exe.outputs()[0].shape(), (Shape{2, 3, 5}));
    const auto x = Random(24, rng), y = Random(40, rng), g = Random(30, rng);
    Set(exe.arg_dict().at("x"), x);
    Set(exe.arg_dict().at("y"), y);
    exe.Forward(true);
    exe.Backward({Array(g, {2, 3, 5})});
    std::vector<double> out(30, 0), gx(24, 0);
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t i = 0; i < 3; ++i) {
        for (int64_t j = 0; j < 5; ++j) {
          for (int64_t k = 0; k < 4; ++k) {
            out[(b * 3 + i) * 5 + j] += x[(b * 3 + i) * 4 + k] * y[(b * 4 + k) * 5 + j];
            gx[(b * 3 + i) * 4 + k] += g[(b * 3 + i) * 5 + j] * y[(b * 4 + k) * 5 + j];
          }
        }
      }
    }
    ExpectAllNear(Values(exe.outputs()[0]), out, 1e-5, "batch_dot");
    ExpectAllNear(Values(exe.grad_dict().at("x")), gx, 1e-5, "batch_dot lhs grad");
  }
  {
    const Shape xs{2, 3, 8, 6};
    Symbol net = Symbol::Op("transpose")
                     .Input("data", Symbol::Variable("x"))
                     .Param("axes", "[0,3,2,1]")
                     .Build();
    Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", xs}}, {{"x", DType::kFloat64}});
    const Shape ys{2, 6, 8, 3};
    ASSERT_EQ(exe.outputs()[0].shape(), ys);
    const auto x = Random(xs.Size(), rng), g = Random(ys.Size(), rng);
    Set(exe.arg_dict().at("x"), x);
    exe.Forward(true);
    exe.Backward({Array(g, ys, DType::kFloat64)});
    std::vector<double> out(ys.Size()), gx(xs.Size());
    for (int64_t n = 0; n < 2; ++n) {
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t h = 0; h < 8; ++h) {
          for (int64_t w = 0; w < 6; ++w) {
            const int64_t xi = ((n * 3 + c) * 8 + h) * 6 + w;
            const int64_t yi = ((n * 6 + w) * 8 + h) * 3 + c;
            out[yi] = x[xi];
            gx[xi] = g[yi];
          }
        }
      }
    }
    ExpectAllNear(Values(exe.outputs()[0]), out, 0, "transpose");
    ExpectAllNear(Values(exe.grad_dict().at("x")), gx, 0, "transpose grad");
  }
}

// T28's index operators with the unknown batch set to 2: Embedding(x (2,5), w (100,10)) gives
// (2,5,10) rows of w; pick(x (2,3,3), index (2,3), axis=1) gives (2,3); gradients scatter back.
TEST(MXNetTensorExec, T28IndexOperatorsRun) {
  std::mt19937_64 rng(128);
  {
    Symbol net = Symbol::Op("Embedding")
                     .Input("data", Symbol::Variable("x"))
                     .Input("weight", Symbol::Variable("w"))
                     .Param("input_dim", 100)
                     .Param("output_dim", 10)
                     .Build();
    Executor exe =
        Executor::SimpleBind(net, Context::CPU(), {{"x", {2, 5}}, {"w", {100, 10}}}, {},
                             std::map<std::string, std::string, std::less<>>{{"w", "write"}});
    ASSERT_EQ(exe.outputs()[0].shape(), (Shape{2, 5, 10}));
    const std::vector<double> idx = {3, 97, 3, 0, 42, 99, 7, 3, 15, 64};
    const auto w = Random(1000, rng), g = Random(100, rng);
    Set(exe.arg_dict().at("x"), idx);
    Set(exe.arg_dict().at("w"), w);
    exe.Forward(true);
    exe.Backward({Array(g, {2, 5, 10})});
    std::vector<double> out(100), gw(1000, 0.0);
    for (size_t i = 0; i < idx.size(); ++i) {
      const auto row = static_cast<size_t>(idx[i]);
      for (size_t j = 0; j < 10; ++j) {
        out[i * 10 + j] = w[row * 10 + j];
        gw[row * 10 + j] += g[i * 10 + j];  // index 3 appears three times: summed
      }
    }
    ExpectAllNear(Values(exe.outputs()[0]), out, 1e-6, "Embedding rows");
    ExpectAllNear(Values(exe.grad_dict().at("w")), gw, 1e-6, "Embedding weight grad");
  }
  {
    Symbol net = Symbol::Op("pick")
                     .Input("data", Symbol::Variable("x"))
                     .Input("index", Symbol::Variable("index"))
                     .Param("axis", 1)
                     .Build();
    Executor exe =
        Executor::SimpleBind(net, Context::CPU(), {{"x", {2, 3, 3}}, {"index", {2, 3}}}, {},
                             std::map<std::string, std::string, std::less<>>{{"x", "write"}});
    ASSERT_EQ(exe.outputs()[0].shape(), (Shape{2, 3}));
    const std::vector<double> index = {0, 2, 1, 1, 1, 0};
    const auto x = Random(18, rng), g = Random(6, rng);
    Set(exe.arg_dict().at("x"), x);
    Set(exe.arg_dict().at("index"), index);
    exe.Forward(true);
    exe.Backward({Array(g, {2, 3})});
    std::vector<double> out(6), gx(18, 0.0);
    for (int64_t n = 0; n < 2; ++n) {
      for (int64_t b = 0; b < 3; ++b) {
        const auto k = static_cast<int64_t>(index[n * 3 + b]);
        out[n * 3 + b] = x[(n * 3 + k) * 3 + b];
        gx[(n * 3 + k) * 3 + b] = g[n * 3 + b];
      }
    }
    ExpectAllNear(Values(exe.outputs()[0]), out, 1e-6, "pick");
    ExpectAllNear(Values(exe.grad_dict().at("x")), gx, 1e-6, "pick data grad");
  }
}

// ---- Reshape's special codes, executed ----------------------------------------------------------

TEST(MXNetTensorExec, ReshapeSpecialCodesRunForwardAndBackward) {
  struct Example {
    Shape data;
    const char* shape;
    bool reverse;
    Shape expected;
  };
  // MXNet's documented examples (mxnet-facts §9).
  const std::vector<Example> examples = {
      {{2, 3, 4}, "(4,0,2)", false, {4, 3, 2}},
      {{2, 3, 4}, "(2,0,0)", false, {2, 3, 4}},
      {{2, 3, 4}, "(6,1,-1)", false, {6, 1, 4}},
      {{2, 3, 4}, "(3,-1,8)", false, {3, 1, 8}},
      {{2, 3, 4}, "(-1,)", false, {24}},
      {{2, 3, 4}, "(-2,)", false, {2, 3, 4}},
      {{2, 3, 4}, "(2,-2)", false, {2, 3, 4}},
      {{2, 3, 4}, "(-2,1,1)", false, {2, 3, 4, 1, 1}},
      {{2, 3, 4}, "(-3,4)", false, {6, 4}},
      {{2, 3, 4, 5}, "(-3,-3)", false, {6, 20}},
      {{2, 3, 4}, "(0,-3)", false, {2, 12}},
      {{2, 3, 4}, "(-3,-2)", false, {6, 4}},
      {{2, 3, 4}, "(-4,1,2,-2)", false, {1, 2, 3, 4}},
      {{2, 3, 4}, "(2,-4,-1,3,-2)", false, {2, 1, 3, 4}},
      {{10, 5, 4}, "(-1,0)", false, {40, 5}},
      {{10, 5, 4}, "(-1,0)", true, {50, 4}},
  };
  std::mt19937_64 rng(4);
  for (const Example& e : examples) {
    const std::string what =
        e.data.ToString() + " shape=" + e.shape + (e.reverse ? " reverse" : "");
    Symbol net = Symbol::Op("Reshape")
                     .Input("data", Symbol::Variable("x"))
                     .Param("shape", e.shape)
                     .Param("reverse", e.reverse)
                     .Build();
    Executor exe =
        Executor::SimpleBind(net, Context::CPU(), {{"x", e.data}}, {{"x", DType::kFloat64}});
    ASSERT_EQ(exe.outputs()[0].shape(), e.expected) << what;
    const auto x = Random(e.data.Size(), rng), g = Random(e.data.Size(), rng);
    Set(exe.arg_dict().at("x"), x);
    exe.Forward(true);
    exe.Backward({Array(g, e.expected, DType::kFloat64)});
    ExpectAllNear(Values(exe.outputs()[0]), x, 0, what + " forward keeps the elements");
    ExpectAllNear(Values(exe.grad_dict().at("x")), g, 0, what + " gradient is the head gradient");
  }
}

}  // namespace
}  // namespace loom
