// The consistency harness (see consistency.h): every registered case run through the executor
// (forward against its naive reference, gradients against finite differences, grad_req "add"),
// and the registry walk requiring a CPU kernel, a gradient or a documented reason for none, and a
// case for every operator.
#include "consistency.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "loom/build_config.h"
#include "loom/core/device_info.h"
#include "loom/core/executor.h"
#include "loom/core/graph.h"
#include "loom/core/ndarray.h"
#include "loom/core/operator.h"
#include "loom/core/storage.h"

namespace loom::consistency {

namespace {

std::map<std::string, CaseGroupFn, std::less<>>& Groups() {
  static std::map<std::string, CaseGroupFn, std::less<>> groups;
  return groups;
}

}  // namespace

bool RegisterGroup(const char* group, CaseGroupFn fn) {
  auto [it, inserted] = Groups().emplace(group, fn);
  LOOM_CHECK(inserted, "consistency case group '", group, "' is registered twice");
  return true;
}

const std::vector<RegisteredCase>& AllCases() {
  static const std::vector<RegisteredCase> all = [] {
    std::vector<RegisteredCase> out;
    std::set<std::string> names;
    const std::regex valid("[A-Za-z0-9_]+");
    for (const auto& [group, fn] : Groups()) {
      CaseList list;
      fn(list);
      for (Case& c : list.cases()) {
        RegisteredCase r{group, std::move(c)};
        LOOM_CHECK(std::regex_match(r.c.name, valid), "consistency case '", r.c.name,
                   "' of group '", group, "': names may use only [A-Za-z0-9_]");
        LOOM_CHECK(names.insert(r.full_name()).second, "consistency case '", r.full_name(),
                   "' is registered twice");
        LOOM_CHECK(r.c.symbol != nullptr, "consistency case '", r.full_name(), "' has no symbol");
        LOOM_CHECK(r.c.reference != nullptr || !r.c.no_reference.empty(), "consistency case '",
                   r.full_name(), "' has neither a reference nor a reason in no_reference");
        out.push_back(std::move(r));
      }
    }
    return out;
  }();
  return all;
}

std::string ShapeName(const Shape& shape) {
  if (shape.ndim() == 0) return "scalar";
  std::string s;
  for (int i = 0; i < shape.ndim(); ++i) {
    if (i > 0) s += "x";
    s += std::to_string(shape[i]);
  }
  return s;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The registry's expectations.

// Operators without a gradient function, each with the reason (MXNet registers no FGradient for
// them either). Every other operator that is not internal must register one.
const std::map<std::string, std::string, std::less<>>& NoGradientTable() {
  static const std::map<std::string, std::string, std::less<>> table = {
      {"_zeros", "no inputs"},
      {"_ones", "no inputs"},
      {"one_hot", "output is a function of integer indices (MXNet: no FGradient)"},
      {"batch_take", "MXNet registers no FGradient (test_zero_prop2 relies on the error)"},
  };
  return table;
}

// The executor's own nodes (core/src/grad_ops.cc): inserted by Bind, never written by users.
const std::set<std::string, std::less<>>& ExecutorInternalOps() {
  static const std::set<std::string, std::less<>> ops = {"_grad_sum", "_grad_zeros", "_grad_copy",
                                                         "_CrossDeviceCopy"};
  return ops;
}

bool IsBackwardOp(std::string_view name) { return name.rfind("_backward_", 0) == 0; }

// Operators that test files register for themselves (`_test_*`): not part of the library.
bool IsTestOp(std::string_view name) { return name.rfind("_test_", 0) == 0; }

std::string Join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Arrays on the host.

std::vector<double> ReadDoubles(const NDArray& a) {
  if (!a.ctx().is_host()) return ReadDoubles(a.CopyTo(Context::CPU()));
  if (a.dtype() == DType::kFloat64) return a.ToVector<double>();
  return a.AsType(DType::kFloat64).ToVector<double>();
}

// Writes values into `dst` (converted to its dtype) and returns them as stored.
std::vector<double> WriteDoubles(NDArray dst, const std::vector<double>& values) {
  NDArray src = NDArray::FromHost(values, dst.shape());
  if (dst.dtype() != DType::kFloat64) src = src.AsType(dst.dtype());
  dst.CopyFrom(src);
  return ReadDoubles(dst);
}

NDArray MakeArray(const std::vector<double>& values, const Shape& shape, DType dtype) {
  NDArray a = NDArray::FromHost(values, shape);
  return dtype == DType::kFloat64 ? a : a.AsType(dtype);
}

std::vector<double> Draw(const InputSpec& spec, size_t n, std::mt19937_64& rng) {
  std::vector<double> v(n);
  if (spec.integer) {
    std::uniform_int_distribution<int64_t> d(static_cast<int64_t>(std::ceil(spec.lo)),
                                             static_cast<int64_t>(std::floor(spec.hi)));
    for (double& x : v) x = static_cast<double>(d(rng));
    return v;
  }
  std::uniform_real_distribution<double> d(spec.lo, spec.hi);
  for (double& x : v) {
    x = d(rng);
    if (std::abs(x) < spec.min_abs) x = x < 0 ? -spec.min_abs : spec.min_abs;
  }
  return v;
}

const InputSpec& SpecOf(const Case& c, const std::string& name) {
  static const InputSpec kDefault;
  auto it = c.inputs.find(name);
  return it == c.inputs.end() ? kDefault : it->second;
}

bool Differentiable(const Case& c, const std::string& name) {
  const InputSpec& s = SpecOf(c, name);
  return !s.integer && s.differentiable;
}

// ---------------------------------------------------------------------------------------------
// One bound configuration of a case.

struct Bound {
  Symbol symbol;
  std::vector<std::string> args, aux;
  HostArrays inputs;  // as stored in the arrays
  Executor exe;
};

TypeDict DTypesFor(const Case& c, const Symbol& s, DType dtype) {
  TypeDict types;
  for (const std::string& a : s.ListArguments()) {
    const InputSpec& spec = SpecOf(c, a);
    types[a] = spec.dtype.value_or(dtype);
  }
  return types;
}

// Binds the case's symbol on `ctx` in `dtype` with grad_req `req` ("null", "write" or "add") for
// the differentiable arguments, draws the inputs (the same values for every bind of one case,
// whatever the device) and writes them.
Bound BindCase(const Case& c, DType dtype, const std::string& req, ExecutorOptions options = {},
               Context ctx = Context::CPU()) {
  Symbol s = c.symbol();
  std::map<std::string, std::string, std::less<>> reqs;
  for (const std::string& a : s.ListArguments()) {
    reqs[a] = req != "null" && Differentiable(c, a) ? req : "null";
  }
  options.seed = c.seed;
  Executor exe =
      Executor::SimpleBind(s, ctx, c.shapes, DTypesFor(c, s, dtype), reqs, {}, options);
  Bound b{s, s.ListArguments(), s.ListAuxiliaryStates(), {}, std::move(exe)};
  std::mt19937_64 rng(c.seed);
  HostArrays raw;
  for (const std::string& a : b.args) {
    const NDArray& arr = b.exe.arg_dict().at(a);
    raw[a] = {arr.shape(), Draw(SpecOf(c, a), static_cast<size_t>(arr.size()), rng)};
  }
  for (const std::string& a : b.aux) {
    const NDArray& arr = b.exe.aux_dict().at(a);
    raw[a] = {arr.shape(), Draw(SpecOf(c, a), static_cast<size_t>(arr.size()), rng)};
  }
  if (c.adjust) c.adjust(raw, rng);
  for (const std::string& a : b.args) {
    b.inputs[a] = {raw[a].shape, WriteDoubles(b.exe.arg_dict().at(a), raw[a].values)};
  }
  for (const std::string& a : b.aux) {
    b.inputs[a] = {raw[a].shape, WriteDoubles(b.exe.aux_dict().at(a), raw[a].values)};
  }
  return b;
}

// Restores the auxiliary states (a training forward updates them) and runs Forward.
void RunForward(const Case& c, Bound& b, bool is_train) {
  for (const std::string& a : b.aux) WriteDoubles(b.exe.aux_dict().at(a), b.inputs.at(a).values);
  b.exe.SetSeed(c.seed);
  b.exe.Forward(is_train);
}

Outputs ReadOutputs(const Bound& b) {
  Outputs out;
  for (const NDArray& o : b.exe.outputs()) out.push_back(ReadDoubles(o));
  return out;
}

// Expects every element within tolerance; reports the first few misses.
void ExpectNear(const std::vector<double>& actual, const std::vector<double>& expected,
                Tolerance tol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what << ": number of elements";
  int reported = 0;
  int misses = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    const bool ok = a == e || (std::isnan(a) && std::isnan(e)) ||
                    std::abs(a - e) <= tol.atol + tol.rtol * std::abs(e);
    if (!ok) {
      ++misses;
      if (reported++ < 5) {
        ADD_FAILURE() << what << "[" << i << "]: got " << a << " but expected " << e << " (rtol "
                      << tol.rtol << ", atol " << tol.atol << ")";
      }
    }
  }
  if (misses > 5) ADD_FAILURE() << what << ": " << misses << " elements differ in all";
}

Tolerance ForwardTolerance(const Case& c, DType dtype) {
  return dtype == DType::kFloat64 ? c.fwd64 : c.fwd32;
}

std::vector<NDArray> HeadGrads(const Bound& b, Outputs* values, std::mt19937_64& rng) {
  std::vector<NDArray> heads;
  for (const NDArray& o : b.exe.outputs()) {
    std::vector<double> v = Draw(InputSpec{}, static_cast<size_t>(o.size()), rng);
    NDArray h = MakeArray(v, o.shape(), o.dtype());
    values->push_back(ReadDoubles(h));
    heads.push_back(h);
  }
  return heads;
}

double Loss(const Outputs& outs, const Outputs& heads) {
  double l = 0;
  for (size_t j = 0; j < outs.size(); ++j) {
    for (size_t i = 0; i < outs[j].size(); ++i) l += heads[j][i] * outs[j][i];
  }
  return l;
}

std::vector<std::string> DifferentiableArgs(const Case& c, const Bound& b) {
  std::vector<std::string> out;
  for (const std::string& a : b.args) {
    if (Differentiable(c, a)) out.push_back(a);
  }
  return out;
}

// The expected gradients: the case's grad_reference, or central finite differences of
// L = sum_j <head_j, output_j> through an executor without gradients on `ctx`.
HostArrays ExpectedGradients(const Case& c, const Bound& b, const Outputs& heads,
                             Context ctx = Context::CPU()) {
  if (c.grad_reference) return c.grad_reference(b.inputs, heads);
  Bound fd = BindCase(c, c.grad_dtype, "null", {}, ctx);
  HostArrays grads;
  for (const std::string& a : DifferentiableArgs(c, b)) {
    NDArray arr = fd.exe.arg_dict().at(a);
    std::vector<double> x = fd.inputs.at(a).values;
    std::vector<double> g(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double saved = x[i];
      x[i] = saved + c.fd_eps;
      const double hi = WriteDoubles(arr, x)[i];
      RunForward(c, fd, true);
      const double plus = Loss(ReadOutputs(fd), heads);
      x[i] = saved - c.fd_eps;
      const double lo = WriteDoubles(arr, x)[i];
      RunForward(c, fd, true);
      const double minus = Loss(ReadOutputs(fd), heads);
      x[i] = saved;
      // An element the outputs ignore (a NaN that nansum skips) has a zero derivative.
      g[i] = plus == minus ? 0.0 : (plus - minus) / (hi - lo);
    }
    WriteDoubles(arr, x);
    grads[a] = {arr.shape(), g};
  }
  return grads;
}

class ConsistencyTest : public ::testing::TestWithParam<const RegisteredCase*> {};

TEST_P(ConsistencyTest, ForwardMatchesReference) {
  const Case& c = GetParam()->c;
  std::map<DType, Outputs> runs;
  for (DType dtype : c.dtypes) {
    ExecutorOptions plain;
    plain.inplace = false;
    plain.match_range = 0;
    plain.bulk_size = 0;
    for (const ExecutorOptions& options : {ExecutorOptions{}, plain}) {
      const std::string what = std::string(ToString(dtype)) +
                               (options.inplace ? " (planned memory, bulk)" : " (no planning)");
      Bound b = BindCase(c, dtype, "null", options);
      RunForward(c, b, c.is_train);
      const Outputs got = ReadOutputs(b);
      runs[dtype] = got;
      if (!c.reference) continue;
      const Outputs want = c.reference(b.inputs);
      ASSERT_EQ(got.size(), want.size()) << what << ": number of outputs";
      for (size_t j = 0; j < got.size(); ++j) {
        ExpectNear(got[j], want[j], ForwardTolerance(c, dtype),
                   what + " output " + std::to_string(j) + " (" + b.symbol.ListOutputs()[j] + ")");
      }
    }
  }
  if (!c.reference && runs.count(DType::kFloat32) && runs.count(DType::kFloat64)) {
    const Outputs& f32 = runs[DType::kFloat32];
    const Outputs& f64 = runs[DType::kFloat64];
    ASSERT_EQ(f32.size(), f64.size());
    for (size_t j = 0; j < f32.size(); ++j) {
      ExpectNear(f32[j], f64[j], c.fwd32, "float32 vs float64 output " + std::to_string(j));
    }
  }
}

TEST_P(ConsistencyTest, GradientMatchesFiniteDifferences) {
  const Case& c = GetParam()->c;
  if (!c.check_grad) GTEST_SKIP() << "check_grad is false for this case";
  Bound b = BindCase(c, c.grad_dtype, "write");
  const std::vector<std::string> diff = DifferentiableArgs(c, b);
  ASSERT_FALSE(diff.empty()) << "no differentiable argument: set check_grad = false";
  std::mt19937_64 rng(c.seed + 1000);
  Outputs heads;
  std::vector<NDArray> head_arrays = HeadGrads(b, &heads, rng);
  RunForward(c, b, true);
  b.exe.Backward(head_arrays);
  const HostArrays expected = ExpectedGradients(c, b, heads);
  for (const std::string& a : diff) {
    ASSERT_TRUE(expected.count(a)) << "no expected gradient for " << a;
    ExpectNear(
        ReadDoubles(b.exe.grad_dict().at(a)), expected.at(a).values, c.grad,
        "d/d" + a + (c.grad_reference ? " (vs grad_reference)" : " (vs finite differences)"));
  }
}

// grad_req "add" on ctx: gradient arrays pre-filled with random values, two Forward/Backward
// rounds, expected: the values plus twice the "write" gradient (within tol(dtype) x 10).
void ExpectGradReqAddAccumulates(const Case& c, Context ctx,
                                 const std::function<Tolerance(DType)>& tol_of,
                                 const std::string& where) {
  Bound w = BindCase(c, c.grad_dtype, "write", {}, ctx);
  Bound add = BindCase(c, c.grad_dtype, "add", {}, ctx);
  std::mt19937_64 rng(c.seed + 1000);
  Outputs heads;
  std::vector<NDArray> head_arrays = HeadGrads(w, &heads, rng);
  RunForward(c, w, true);
  w.exe.Backward(head_arrays);
  std::mt19937_64 base_rng(c.seed + 2000);
  HostArrays base;
  for (const std::string& a : DifferentiableArgs(c, add)) {
    NDArray g = add.exe.grad_dict().at(a);
    base[a] = {g.shape(),
               WriteDoubles(g, Draw(InputSpec{}, static_cast<size_t>(g.size()), base_rng))};
  }
  for (int round = 0; round < 2; ++round) {
    RunForward(c, add, true);
    add.exe.Backward(head_arrays);
  }
  for (const std::string& a : DifferentiableArgs(c, add)) {
    const Tolerance tol = tol_of(add.exe.grad_dict().at(a).dtype());
    const std::vector<double> once = ReadDoubles(w.exe.grad_dict().at(a));
    std::vector<double> want = base.at(a).values;
    for (size_t i = 0; i < want.size(); ++i) want[i] += 2 * once[i];
    ExpectNear(ReadDoubles(add.exe.grad_dict().at(a)), want, {tol.rtol * 10, tol.atol * 10},
               where + "grad_req add: d/d" + a + " = initial + 2 x the write gradient");
  }
}

TEST_P(ConsistencyTest, GradReqAddAccumulates) {
  const Case& c = GetParam()->c;
  if (!c.check_grad) GTEST_SKIP() << "check_grad is false for this case";
  ExpectGradReqAddAccumulates(
      c, Context::CPU(), [&](DType dtype) { return ForwardTolerance(c, dtype); }, "");
}

std::vector<const RegisteredCase*> CasePointers() {
  std::vector<const RegisteredCase*> out;
  for (const RegisteredCase& r : AllCases()) out.push_back(&r);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Ops, ConsistencyTest, ::testing::ValuesIn(CasePointers()),
                         [](const ::testing::TestParamInfo<const RegisteredCase*>& info) {
                           return info.param->full_name();
                         });

// ---------------------------------------------------------------------------------------------
// Every case again on gpu(0), against the CPU executor (the reference above vouches for it):
// forward outputs, "write" gradients and "add" accumulation, in each of the case's dtypes and,
// for float cases, float16 (looser tolerance). Random operators (cases with no_reference) draw
// other numbers on the GPU, so there the GPU is checked against itself: float32 against float64
// forward, gradients against finite differences through the GPU executor.

bool IsRandom(const Case& c) { return !c.no_reference.empty(); }

// A case's inputs may be integer-valued (indices) with their own dtype; float16 makes sense only
// for cases whose float inputs follow the run's dtype and whose values survive half's precision.
bool HalfApplies(const Case& c) {
  return std::find(c.dtypes.begin(), c.dtypes.end(), DType::kFloat32) != c.dtypes.end() &&
         !IsRandom(c);
}

Tolerance GpuTolerance(const Case& c, DType dtype) {
  if (dtype == DType::kFloat16) return {2e-2, 2e-2};
  // Library kernels (cuBLAS, cuDNN) sum in other orders than the CPU's: allow a few ulps more.
  const Tolerance t = ForwardTolerance(c, dtype);
  return dtype == DType::kFloat64 ? Tolerance{t.rtol * 100, t.atol * 100}
                                  : Tolerance{std::max(t.rtol * 10, 1e-4), std::max(t.atol * 10, 1e-5)};
}

void ExpectSameOutputs(const Bound& gpu, const Bound& cpu, Tolerance tol, const std::string& what) {
  const Outputs g = ReadOutputs(gpu), want = ReadOutputs(cpu);
  ASSERT_EQ(g.size(), want.size()) << what << ": number of outputs";
  for (size_t j = 0; j < g.size(); ++j) {
    ExpectNear(g[j], want[j], tol,
               what + " output " + std::to_string(j) + " (" + gpu.symbol.ListOutputs()[j] + ")");
  }
}

class GpuConsistencyTest : public ::testing::TestWithParam<const RegisteredCase*> {
 protected:
  void SetUp() override {
    if (const std::string reason = NoGpuReason(); !reason.empty()) GTEST_SKIP() << reason;
  }
};

TEST_P(GpuConsistencyTest, ForwardMatchesCpu) {
  const Case& c = GetParam()->c;
  std::vector<DType> dtypes = c.dtypes;
  if (HalfApplies(c)) dtypes.push_back(DType::kFloat16);
  std::map<DType, Outputs> runs;
  for (DType dtype : dtypes) {
    const std::string what = std::string("gpu(0) ") + ToString(dtype);
    Bound gpu = BindCase(c, dtype, "null", {}, Context::GPU(0));
    RunForward(c, gpu, c.is_train);
    runs[dtype] = ReadOutputs(gpu);
    if (IsRandom(c)) continue;
    Bound cpu = BindCase(c, dtype == DType::kFloat16 ? DType::kFloat32 : dtype, "null");
    RunForward(c, cpu, c.is_train);
    ExpectSameOutputs(gpu, cpu, GpuTolerance(c, dtype), what + " vs cpu");
  }
  if (IsRandom(c) && runs.count(DType::kFloat32) && runs.count(DType::kFloat64)) {
    const Outputs& f32 = runs[DType::kFloat32];
    const Outputs& f64 = runs[DType::kFloat64];
    ASSERT_EQ(f32.size(), f64.size());
    for (size_t j = 0; j < f32.size(); ++j) {
      ExpectNear(f32[j], f64[j], c.fwd32,
                 "gpu(0) float32 vs float64 output " + std::to_string(j) + " (" + c.no_reference +
                     ")");
    }
  }
}

TEST_P(GpuConsistencyTest, GradientMatchesCpu) {
  const Case& c = GetParam()->c;
  if (!c.check_grad) GTEST_SKIP() << "check_grad is false for this case";
  Bound gpu = BindCase(c, c.grad_dtype, "write", {}, Context::GPU(0));
  std::mt19937_64 rng(c.seed + 1000);
  Outputs heads;
  std::vector<NDArray> head_arrays = HeadGrads(gpu, &heads, rng);
  RunForward(c, gpu, true);
  gpu.exe.Backward(head_arrays);
  HostArrays expected;
  std::string against;
  if (IsRandom(c)) {
    expected = ExpectedGradients(c, gpu, heads, Context::GPU(0));
    against = " (vs finite differences on gpu(0))";
  } else {
    Bound cpu = BindCase(c, c.grad_dtype, "write");
    RunForward(c, cpu, true);
    cpu.exe.Backward(head_arrays);
    for (const std::string& a : DifferentiableArgs(c, cpu)) {
      expected[a] = {cpu.exe.grad_dict().at(a).shape(), ReadDoubles(cpu.exe.grad_dict().at(a))};
    }
    against = " (vs cpu)";
  }
  for (const std::string& a : DifferentiableArgs(c, gpu)) {
    ASSERT_TRUE(expected.count(a)) << "no expected gradient for " << a;
    ExpectNear(ReadDoubles(gpu.exe.grad_dict().at(a)), expected.at(a).values,
               IsRandom(c) ? c.grad : GpuTolerance(c, c.grad_dtype), "gpu(0) d/d" + a + against);
  }
}

TEST_P(GpuConsistencyTest, GradReqAddAccumulates) {
  const Case& c = GetParam()->c;
  if (!c.check_grad) GTEST_SKIP() << "check_grad is false for this case";
  ExpectGradReqAddAccumulates(
      c, Context::GPU(0), [&](DType dtype) { return GpuTolerance(c, dtype); }, "gpu(0) ");
}

INSTANTIATE_TEST_SUITE_P(Ops, GpuConsistencyTest, ::testing::ValuesIn(CasePointers()),
                         [](const ::testing::TestParamInfo<const RegisteredCase*>& info) {
                           return info.param->full_name();
                         });

// ---------------------------------------------------------------------------------------------
// The registry walk.

// Operators appearing in the cases' symbols; cases whose symbol cannot be built go to `broken`.
std::set<std::string, std::less<>> CoveredOps(std::vector<std::string>* broken) {
  std::set<std::string, std::less<>> ops;
  for (const RegisteredCase& r : AllCases()) {
    try {
      PostOrderDFS(r.c.symbol().outputs(), [&](const NodePtr& n) {
        if (!n->is_variable()) ops.insert(n->attrs.op->name());
      });
    } catch (const Error& e) {
      broken->push_back(r.full_name() + " (" + e.what() + ")");
    }
  }
  return ops;
}

TEST(ConsistencyRegistry, EveryOperatorHasAKernelAGradientAndACase) {
  std::vector<std::string> broken;
  const auto covered = CoveredOps(&broken);
  EXPECT_TRUE(broken.empty()) << "cases whose symbol cannot be built: " << Join(broken);
  std::vector<std::string> no_kernel, no_gradient, listed_with_gradient, uncovered;
  for (const OpSchema* op : OpRegistry::Global().List()) {
    const std::string& name = op->name();
    if (ExecutorInternalOps().count(name) || IsTestOp(name)) continue;
    if (!op->has_kernel(DeviceType::kCPU)) no_kernel.push_back(name);
    if (IsBackwardOp(name)) continue;
    const bool listed = NoGradientTable().count(name) > 0;
    if (!op->gradient() && !listed) no_gradient.push_back(name);
    if (op->gradient() && listed) listed_with_gradient.push_back(name);
    if (!covered.count(name)) uncovered.push_back(name);
  }
  EXPECT_TRUE(no_kernel.empty()) << no_kernel.size()
                                 << " operators have no CPU kernel: " << Join(no_kernel);
  EXPECT_TRUE(no_gradient.empty())
      << no_gradient.size() << " operators register no Gradient and are not in the no-gradient "
      << "table of consistency_test.cc: " << Join(no_gradient);
  EXPECT_TRUE(listed_with_gradient.empty())
      << "operators in the no-gradient table that register a Gradient: "
      << Join(listed_with_gradient);
  EXPECT_TRUE(uncovered.empty()) << uncovered.size()
                                 << " operators have no consistency case: " << Join(uncovered);
}

// Operators a CUDA build runs on the CPU only, each with the reason; binding one on a GPU is a
// NotSupportedError naming it (the executor's kernel lookup).
const std::map<std::string, std::string, std::less<>>& NoGpuKernelTable() {
  static const std::map<std::string, std::string, std::less<>> table = {};
  return table;
}

TEST(ConsistencyRegistry, EveryGpuKernelNamesARegisteredOperator) {
  const std::vector<std::string> unattached = OpRegistry::Global().UnattachedKernels();
  EXPECT_TRUE(unattached.empty()) << "kernels registered for names no operator has: "
                                  << Join(unattached);
}

TEST(ConsistencyRegistry, EveryOperatorHasAGpuKernelOrAReason) {
#if LOOM_USE_CUDA
  std::vector<std::string> missing, listed_with_kernel;
  for (const OpSchema* op : OpRegistry::Global().List()) {
    const std::string& name = op->name();
    if (ExecutorInternalOps().count(name) || IsTestOp(name)) continue;
    const bool listed = NoGpuKernelTable().count(name) > 0;
    if (!op->has_kernel(DeviceType::kGPU) && !listed) missing.push_back(name);
    if (op->has_kernel(DeviceType::kGPU) && listed) listed_with_kernel.push_back(name);
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " operators have no GPU kernel and are not "
                               << "in NoGpuKernelTable: " << Join(missing);
  EXPECT_TRUE(listed_with_kernel.empty())
      << "operators in NoGpuKernelTable that have a GPU kernel: " << Join(listed_with_kernel);
#else
  GTEST_SKIP() << "Loom was built without CUDA: no operator has a GPU kernel";
#endif
}

TEST(ConsistencyRegistry, NoGradientTableNamesRegisteredOperators) {
  for (const auto& [name, reason] : NoGradientTable()) {
    const OpSchema* op = OpRegistry::Global().Find(name);
    ASSERT_NE(op, nullptr) << "the no-gradient table lists '" << name
                           << "', which is not registered";
    EXPECT_EQ(op->name(), name) << "the no-gradient table must use canonical names, not aliases";
  }
}

// Every backward operator runs in some case's gradient check (binding each case with gradients
// collects the operators of the bound graphs).
TEST(ConsistencyRegistry, EveryBackwardOperatorIsExercised) {
  std::set<std::string, std::less<>> used;
  std::vector<std::string> unbindable;
  for (const RegisteredCase& r : AllCases()) {
    if (!r.c.check_grad) continue;
    try {
      Bound b = BindCase(r.c, r.c.grad_dtype, "write");
      for (const ExecNodeInfo& n : b.exe.Nodes()) used.insert(n.op);
    } catch (const Error& e) {
      unbindable.push_back(r.full_name() + " (" + e.what() + ")");
    }
  }
  EXPECT_TRUE(unbindable.empty()) << "cases that do not bind with gradients: " << Join(unbindable);
  std::vector<std::string> unused;
  for (const OpSchema* op : OpRegistry::Global().List()) {
    if (IsBackwardOp(op->name()) && !used.count(op->name())) unused.push_back(op->name());
  }
  EXPECT_TRUE(unused.empty()) << unused.size()
                              << " backward operators are used by no case's gradient: "
                              << Join(unused);
}

}  // namespace
}  // namespace loom::consistency
