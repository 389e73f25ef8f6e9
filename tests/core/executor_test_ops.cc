#include "executor_test_ops.h"

#include <cmath>
#include <cstring>
#include <random>

#include "loom/core/attr_scope.h"
#include "loom/core/gradient.h"
#include "loom/core/kernel.h"
#include "loom/core/operator.h"

namespace loom::test {
namespace {

using Views = std::span<const TensorView>;
using Reqs = std::span<const OpReq>;

// Calls f with a zero value of the element type (float or double).
template <typename F>
void Typed(DType dtype, F&& f) {
  if (dtype == DType::kFloat64) {
    f(double{});
  } else if (dtype == DType::kFloat32) {
    f(float{});
  } else {
    throw Error("test operators run on float32 and float64 only, not " +
                std::string(ToString(dtype)));
  }
}

// out[i] (req) = fn(i) for every element of out.
template <typename T, typename Fn>
void Fill(const TensorView& out, OpReq req, Fn fn) {
  T* y = out.data<T>();
  for (int64_t i = 0; i < out.size(); ++i) Assign(req, y[i], static_cast<T>(fn(i)));
}

using Pairs = std::vector<std::pair<int, int>>;
Pairs InplaceFirst(const NodeAttrs&) { return {{0, 0}}; }

NodeEntry Out(const NodePtr& n, uint32_t i) { return NodeEntry{n, i, 0}; }

// ---- _test_add, _test_mul ----

void AddKernel(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* a = in[0].data<T>();
    const T* b = in[1].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return a[i] + b[i]; });
  });
}

void MulKernel(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* a = in[0].data<T>();
    const T* b = in[1].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return a[i] * b[i]; });
  });
}

// inputs (out_grad, lhs, rhs) -> (d lhs, d rhs)
void MulBackward(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* g = in[0].data<T>();
    const T* a = in[1].data<T>();
    const T* b = in[2].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return g[i] * b[i]; });
    Fill<T>(out[1], req[1], [&](int64_t i) { return g[i] * a[i]; });
  });
}

LOOM_REGISTER_OP(_test_add)
    .Inputs({"lhs", "rhs"})
    .InferShape(ElemwiseShape)
    .InplaceOptions([](const NodeAttrs&) {
      return Pairs{{0, 0}, {1, 0}};
    })
    .Gradient([](const NodePtr&, const std::vector<NodeEntry>& g) {
      return std::vector<NodeEntry>{g[0], g[0]};
    })
    .Kernel(DeviceType::kCPU, FCompute(AddKernel));

LOOM_REGISTER_OP(_test_mul)
    .Inputs({"lhs", "rhs"})
    .InferShape(ElemwiseShape)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_test_mul", n, {g[0], n->inputs[0], n->inputs[1]});
      return std::vector<NodeEntry>{Out(bw, 0), Out(bw, 1)};
    })
    .Kernel(DeviceType::kCPU, FCompute(MulKernel));

LOOM_REGISTER_OP(_backward_test_mul)
    .Inputs({"out_grad", "lhs", "rhs"})
    .NumOutputs(2)
    .Kernel(DeviceType::kCPU, FCompute(MulBackward));

// ---- _test_scale ----

struct ScaleParam {
  double alpha = 1;
  double beta = 0;
  static void Declare(ParamDeclarer<ScaleParam>& d) {
    d("alpha", &ScaleParam::alpha).Default(1.0).Describe("Factor.");
    d("beta", &ScaleParam::beta).Default(0.0).Describe("Offset.");
  }
};

void ScaleKernel(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<ScaleParam>();
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in[0].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return p.alpha * x[i] + p.beta; });
  });
}

LOOM_REGISTER_OP(_test_scale)
    .Params<ScaleParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InplaceOptions(InplaceFirst)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      const double alpha = n->attrs.param<ScaleParam>().alpha;
      NodePtr bw =
          MakeGradOpNode("_test_scale", n, "_backward", {g[0]}, {{"alpha", FormatParam(alpha)}});
      return std::vector<NodeEntry>{Out(bw, 0)};
    })
    .Kernel(DeviceType::kCPU, FCompute(ScaleKernel));

// ---- _test_fc ----

struct FcParam {
  int64_t num_hidden = 0;
  static void Declare(ParamDeclarer<FcParam>& d) {
    d("num_hidden", &FcParam::num_hidden).Min(1).Describe("Output features.");
  }
};

void FcShape(ShapeContext& ctx) {
  const auto& p = ctx.param<FcParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 2) {
    ctx.SetIn(1, Shape{p.num_hidden, data[1]});
    ctx.SetOut(0, Shape{data[0], p.num_hidden});
  }
  if (ctx.out(0).ndim() == 2 && ctx.in(1).ndim() == 2) {
    ctx.SetIn(0, Shape{ctx.out(0)[0], ctx.in(1)[1]});
  }
}

// out = data · weightᵀ, reading the weight from a transposed copy in temp space.
void FcKernel(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  const int64_t k = in[0].shape[1], h = in[1].shape[0];
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    LOOM_CHECK(ctx.temp_space.size() >= static_cast<size_t>(k * h) * sizeof(T),
               "temp space too small: ", ctx.temp_space.size());
    T* wt = reinterpret_cast<T*>(ctx.temp_space.data());
    const T* w = in[1].data<T>();
    for (int64_t r = 0; r < h; ++r) {
      for (int64_t c = 0; c < k; ++c) wt[c * h + r] = w[r * k + c];
    }
    const T* x = in[0].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) {
      const int64_t row = i / h, col = i % h;
      T s = 0;
      for (int64_t c = 0; c < k; ++c) s += x[row * k + c] * wt[c * h + col];
      return s;
    });
  });
}

// inputs (out_grad, data, weight) -> (d data = g · W, d weight = gᵀ · data)
void FcBackward(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  const int64_t n = in[1].shape[0], k = in[1].shape[1], h = in[2].shape[0];
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* g = in[0].data<T>();
    const T* x = in[1].data<T>();
    const T* w = in[2].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) {
      const int64_t row = i / k, c = i % k;
      T s = 0;
      for (int64_t j = 0; j < h; ++j) s += g[row * h + j] * w[j * k + c];
      return s;
    });
    Fill<T>(out[1], req[1], [&](int64_t i) {
      const int64_t j = i / k, c = i % k;
      T s = 0;
      for (int64_t row = 0; row < n; ++row) s += g[row * h + j] * x[row * k + c];
      return s;
    });
  });
}

LOOM_REGISTER_OP(_test_fc)
    .Params<FcParam>()
    .Inputs({"data", "weight"})
    .InferShape(FcShape)
    .Resources([](const NodeAttrs&) { return std::vector<ResourceKind>{ResourceKind::kTempSpace}; })
    .TempSpace([](const NodeAttrs&, std::span<const Shape> in, std::span<const DType> types,
                  std::span<const Shape>) {
      return static_cast<size_t>(in[1].Size()) * DTypeSize(types[1]);
    })
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_test_fc", n, {g[0], n->inputs[0], n->inputs[1]});
      return std::vector<NodeEntry>{Out(bw, 0), Out(bw, 1)};
    })
    .Kernel(DeviceType::kCPU, FCompute(FcKernel));

LOOM_REGISTER_OP(_backward_test_fc)
    .Inputs({"out_grad", "data", "weight"})
    .NumOutputs(2)
    .Kernel(DeviceType::kCPU, FCompute(FcBackward));

// ---- _test_relu ----

void ReluKernel(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in[0].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return x[i] > 0 ? x[i] : T(0); });
  });
}

// inputs (out_grad, out) -> d data
void ReluBackward(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* g = in[0].data<T>();
    const T* y = in[1].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return y[i] > 0 ? g[i] : T(0); });
  });
}

LOOM_REGISTER_OP(_test_relu)
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InplaceOptions(InplaceFirst)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_test_relu", n, {g[0], Out(n, 0)});
      return std::vector<NodeEntry>{Out(bw, 0)};
    })
    .Kernel(DeviceType::kCPU, FCompute(ReluKernel));

LOOM_REGISTER_OP(_backward_test_relu)
    .Inputs({"out_grad", "out"})
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute(ReluBackward));

// ---- _test_sum ----

void SumKernel(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in[0].data<T>();
    T s = 0;
    for (int64_t i = 0; i < in[0].size(); ++i) s += x[i];
    Fill<T>(out[0], req[0], [&](int64_t) { return s; });
  });
}

// inputs (out_grad, data) -> d data: the output shape comes from the executor's preset.
void SumBackward(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T g = in[0].data<T>()[0];
    Fill<T>(out[0], req[0], [&](int64_t) { return g; });
  });
}

LOOM_REGISTER_OP(_test_sum)
    .Inputs({"data"})
    .InferShape([](ShapeContext& ctx) { ctx.SetOut(0, Shape{1}); })
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_test_sum", n, {g[0], n->inputs[0]});
      return std::vector<NodeEntry>{Out(bw, 0)};
    })
    .Kernel(DeviceType::kCPU, FCompute(SumKernel));

LOOM_REGISTER_OP(_backward_test_sum)
    .Inputs({"out_grad", "data"})
    .InferType([](TypeContext& ctx) { ctx.SetOut(0, ctx.in(1)); })
    .Kernel(DeviceType::kCPU, FCompute(SumBackward));

// ---- _test_loss, _test_blockgrad, _test_nograd ----

void IdentityKernel(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in[0].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return x[i]; });
  });
}

// inputs (data, label) -> d data = data - label
void LossBackward(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in[0].data<T>();
    const T* y = in[1].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return x[i] - y[i]; });
  });
}

LOOM_REGISTER_OP(_test_loss)
    .Inputs({"data", "label"})
    .InferShape(ElemwiseShape)
    .InplaceOptions(InplaceFirst)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>&) {
      NodePtr bw = MakeBackwardNode("_backward_test_loss", n, {n->inputs[0], n->inputs[1]});
      return std::vector<NodeEntry>{Out(bw, 0), NodeEntry{}};
    })
    .Kernel(DeviceType::kCPU, FCompute(IdentityKernel));

LOOM_REGISTER_OP(_backward_test_loss)
    .Inputs({"data", "label"})
    .Kernel(DeviceType::kCPU, FCompute(LossBackward));

LOOM_REGISTER_OP(_test_blockgrad)
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .Gradient([](const NodePtr&, const std::vector<NodeEntry>&) {
      return std::vector<NodeEntry>{NodeEntry{}};
    })
    .Kernel(DeviceType::kCPU, FCompute(IdentityKernel));

LOOM_REGISTER_OP(_test_nograd)
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .Kernel(DeviceType::kCPU, FCompute(IdentityKernel));

// ---- _test_norm ----

struct NormParam {
  double momentum = 0.9;
  static void Declare(ParamDeclarer<NormParam>& d) {
    d("momentum", &NormParam::momentum).Default(0.9).Describe("Moving average momentum.");
  }
};

void NormShape(ShapeContext& ctx) {
  const Shape& data = ctx.in(0);
  if (data.ndim() != 2) return;
  ctx.SetIn(1, Shape{data[1]});
  ctx.SetIn(2, Shape{data[1]});
  ctx.SetOut(0, data);
}

// inputs (data, gamma, moving_mean)
void NormKernel(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const double m = attrs.param<NormParam>().momentum;
  const int64_t rows = in[0].shape[0], cols = in[0].shape[1];
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in[0].data<T>();
    const T* gamma = in[1].data<T>();
    T* mm = in[2].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) {
      return x[i] * gamma[i % cols] - (ctx.is_train ? T(0) : mm[i % cols]);
    });
    if (!ctx.is_train) return;
    for (int64_t c = 0; c < cols; ++c) {
      T mean = 0;
      for (int64_t r = 0; r < rows; ++r) mean += x[r * cols + c];
      mm[c] = static_cast<T>(m * mm[c] + (1 - m) * (mean / rows));
    }
  });
}

// inputs (out_grad, data, gamma) -> (d data, d gamma)
void NormBackward(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  const int64_t rows = in[1].shape[0], cols = in[1].shape[1];
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* g = in[0].data<T>();
    const T* x = in[1].data<T>();
    const T* gamma = in[2].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return g[i] * gamma[i % cols]; });
    Fill<T>(out[1], req[1], [&](int64_t c) {
      T s = 0;
      for (int64_t r = 0; r < rows; ++r) s += g[r * cols + c] * x[r * cols + c];
      return s;
    });
  });
}

LOOM_REGISTER_OP(_test_norm)
    .Params<NormParam>()
    .Inputs({"data", "gamma", "moving_mean"})
    .AuxStates({"moving_mean"})
    .InferShape(NormShape)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_test_norm", n, {g[0], n->inputs[0], n->inputs[1]});
      return std::vector<NodeEntry>{Out(bw, 0), Out(bw, 1), NodeEntry{}};
    })
    .Kernel(DeviceType::kCPU, FCompute(NormKernel));

LOOM_REGISTER_OP(_backward_test_norm)
    .Inputs({"out_grad", "data", "gamma"})
    .NumOutputs(2)
    .InferType([](TypeContext& ctx) {
      for (size_t i = 0; i < 2; ++i) ctx.SetOut(i, ctx.in(1));
    })
    .Kernel(DeviceType::kCPU, FCompute(NormBackward));

// ---- _test_split2 ----

void Split2Kernel(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in[0].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return x[i]; });
    Fill<T>(out[1], req[1], [&](int64_t i) { return 2 * x[i]; });
  });
}

// inputs (g0, g1) -> g0 + 2 * g1
void Split2Backward(const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* g0 = in[0].data<T>();
    const T* g1 = in[1].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return g0[i] + 2 * g1[i]; });
  });
}

LOOM_REGISTER_OP(_test_split2)
    .Inputs({"data"})
    .NumOutputs(2)
    .InferShape(ElemwiseShape)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      NodePtr bw = MakeBackwardNode("_backward_test_split2", n, {g[0], g[1]});
      return std::vector<NodeEntry>{Out(bw, 0)};
    })
    .Kernel(DeviceType::kCPU, FCompute(Split2Kernel));

LOOM_REGISTER_OP(_backward_test_split2)
    .Inputs({"out_grad0", "out_grad1"})
    .Kernel(DeviceType::kCPU, FCompute(Split2Backward));

// ---- _test_rand, _test_fail, _test_sqrt ----

void RandKernel(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  LOOM_CHECK(ctx.rng != nullptr, "_test_rand got no random generator");
  std::uniform_real_distribution<double> u(0, 1);
  Typed(out[0].dtype, [&](auto t) {
    using T = decltype(t);
    const T* x = in[0].data<T>();
    Fill<T>(out[0], req[0], [&](int64_t i) { return x[i] + u(*ctx.rng); });
  });
}

LOOM_REGISTER_OP(_test_rand)
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .Resources([](const NodeAttrs&) { return std::vector<ResourceKind>{ResourceKind::kRandom}; })
    .Kernel(DeviceType::kCPU, FCompute(RandKernel));

LOOM_REGISTER_OP(_test_fail)
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs&, const OpContext&, Views, Reqs, Views) {
              throw Error("deliberate failure of _test_fail");
            }));

LOOM_REGISTER_OP(_test_sqrt)
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .Kernel(DeviceType::kCPU,
            FCompute([](const NodeAttrs&, const OpContext&, Views in, Reqs req, Views out) {
              Typed(out[0].dtype, [&](auto t) {
                using T = decltype(t);
                const T* x = in[0].data<T>();
                Fill<T>(out[0], req[0], [&](int64_t i) { return std::sqrt(x[i]); });
              });
            }));

}  // namespace

Symbol TestOp(const std::string& op, const std::vector<Symbol>& inputs, const StrMap& params,
              const std::string& name) {
  OpCall call = Symbol::Op(op);
  for (const Symbol& s : inputs) call.Input(s);
  call.Params(params);
  if (!name.empty()) call.Name(name);
  return call.Build();
}

std::vector<double> Values(const NDArray& a) {
  if (a.dtype() == DType::kFloat64) return a.ToVector<double>();
  std::vector<float> v = a.ToVector<float>();
  return std::vector<double>(v.begin(), v.end());
}

void Set(NDArray dst, const NDArray& src) { dst.CopyFrom(src); }

NDArray Array(const std::vector<double>& values, const Shape& shape, DType dtype, Context ctx) {
  if (dtype == DType::kFloat64) return NDArray::FromHost<double>(values, shape, ctx);
  std::vector<float> f(values.begin(), values.end());
  return NDArray::FromHost<float>(f, shape, ctx).AsType(dtype);
}

Symbol T34Chain() {
  Symbol data1 = Symbol::Variable("data1"), data2 = Symbol::Variable("data2"),
         data3 = Symbol::Variable("data3");
  Symbol net;
  {
    AttrScope scope({{"ctx_group", "dev1"}});
    net = TestOp("_test_scale", {TestOp("_test_add", {data1, data2}, {}, "plus")}, {{"alpha", "3"}},
                 "times3");
  }
  AttrScope scope({{"ctx_group", "dev2"}});
  return TestOp("_test_add", {net, data3}, {}, "plus3");
}

}  // namespace loom::test
