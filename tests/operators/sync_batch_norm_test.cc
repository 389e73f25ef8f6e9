// Cross-replica (synchronized) BatchNorm: replicas that each see part of a batch, summing their
// statistics through an in-process ReplicaReducer (threads meeting at a barrier), must compute
// what one replica computes on the whole batch: kernels, finite differences of the global loss,
// and executors (outputs, moving statistics, summed weight gradients), including independent
// branches whose reducer calls must come in the same order on every replica.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "gradient_check.h"
#include "loom/core/executor.h"
#include "loom/core/replica_reducer.h"
#include "operators/cpu/batch_norm.h"

namespace loom {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;
using ::testing::HasSubstr;

// N replicas in one process: SumInPlace waits until every replica has called, then gives each
// the sum (added in replica order). Records each replica's call sizes; a call whose size differs
// from another replica's at the same position (calls out of order) fails every replica.
class ThreadReducerGroup {
 public:
  explicit ThreadReducerGroup(int replicas)
      : replicas_(replicas), slots_(replicas), calls_(replicas) {}

  std::shared_ptr<ReplicaReducer> Replica(int r) { return std::make_shared<Handle>(this, r); }

  std::vector<size_t> calls(int r) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[r];
  }

 private:
  class Handle final : public ReplicaReducer {
   public:
    Handle(ThreadReducerGroup* group, int r) : group_(group), r_(r) {}
    int num_replicas() const override { return group_->replicas_; }
    void SumInPlace(double* data, size_t n) override { group_->Sum(r_, data, n); }

   private:
    ThreadReducerGroup* group_;
    int r_;
  };

  void Sum(int r, double* data, size_t n) {
    constexpr auto kTimeout = std::chrono::seconds(30);
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, kTimeout, [&] { return !releasing_; })) {
      throw Error("fake reducer: replica " + std::to_string(r) + " timed out entering a sum");
    }
    slots_[r].assign(data, data + n);
    calls_[r].push_back(n);
    if (++arrived_ == replicas_) {
      mismatch_.clear();
      result_.assign(n, 0.0);
      for (int k = 0; k < replicas_; ++k) {
        if (slots_[k].size() != n) {
          mismatch_ = "replica " + std::to_string(k) + " sums " + std::to_string(slots_[k].size()) +
                      " values but replica " + std::to_string(r) + " sums " + std::to_string(n);
          continue;
        }
        for (size_t i = 0; i < n; ++i) result_[i] += slots_[k][i];
      }
      releasing_ = true;
      left_ = replicas_;
      ++generation_;
      cv_.notify_all();
    } else {
      const uint64_t generation = generation_;
      if (!cv_.wait_for(lock, kTimeout, [&] { return generation_ != generation; })) {
        throw Error("fake reducer: replica " + std::to_string(r) + " timed out in a sum of " +
                    std::to_string(n) + " values (another replica never called)");
      }
    }
    const std::string mismatch = mismatch_;
    if (mismatch.empty()) std::copy(result_.begin(), result_.end(), data);
    if (--left_ == 0) {
      releasing_ = false;
      arrived_ = 0;
      cv_.notify_all();
    }
    if (!mismatch.empty()) throw Error("fake reducer: calls out of order: " + mismatch);
  }

  const int replicas_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<double>> slots_;
  std::vector<std::vector<size_t>> calls_;
  std::vector<double> result_;
  std::string mismatch_;
  int arrived_ = 0, left_ = 0;
  bool releasing_ = false;
  uint64_t generation_ = 0;
};

// Runs body(r) for r in [0, n) on n threads.
void OnReplicas(int n, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(n);
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      try {
        body(r);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// ---- kernels ------------------------------------------------------------------------------

// Data (N, C, W) with C = 3 split along N into `parts` replicas.
struct KernelCase {
  int64_t n = 6, c = 3, w = 4;
  cpu::BatchNormParams p;
  int64_t PerReplica(int parts) const { return n / parts * c * w; }
};

template <typename T>
struct KernelRun {
  std::vector<T> y, mean, var, mm, mv, dx, dg, db;
};

// Forward then backward of `parts` replicas (or, with parts == 1 and no reducer, the whole
// batch); outputs concatenated along N, gamma's and beta's gradients summed over replicas, the
// moving statistics replica 0's (with sync, every replica's must be equal: checked).
template <typename T>
KernelRun<T> RunKernels(const KernelCase& k, int parts, bool sync, const std::vector<double>& x,
                        const std::vector<double>& gamma, const std::vector<double>& beta,
                        const std::vector<double>& dy) {
  const int64_t per = k.PerReplica(parts);
  const Shape part{k.n / parts, k.c, k.w}, cs{k.c};
  ThreadReducerGroup group(parts);
  std::vector<KernelRun<T>> runs(parts);
  OnReplicas(parts, [&](int r) {
    KernelRun<T>& o = runs[r];
    std::shared_ptr<ReplicaReducer> reducer = sync ? group.Replica(r) : nullptr;
    std::vector<T> xr(x.begin() + r * per, x.begin() + (r + 1) * per),
        dyr(dy.begin() + r * per, dy.begin() + (r + 1) * per);
    auto g = test::Convert<T>(gamma), b = test::Convert<T>(beta);
    o.y.resize(per);
    o.dx.resize(per);
    o.mean.resize(k.c);
    o.var.resize(k.c);
    o.dg.resize(k.c);
    o.db.resize(k.c);
    o.mm.assign(k.c, T(0.25));
    o.mv.assign(k.c, T(1.5));
    cpu::BatchNormForward(k.p, true, View(xr, part), View(g, cs), View(b, cs), View(o.mm, cs),
                          View(o.mv, cs), View(o.y, part), OpReq::kWriteTo, View(o.mean, cs),
                          View(o.var, cs), reducer.get());
    cpu::BatchNormBackward(k.p, true, View(dyr, part), View(xr, part), View(g, cs),
                           View(o.mean, cs), View(o.var, cs), View(o.dx, part), OpReq::kWriteTo,
                           View(o.dg, cs), OpReq::kWriteTo, View(o.db, cs), OpReq::kWriteTo,
                           reducer.get());
  });
  KernelRun<T> all = runs[0];
  for (int r = 1; r < parts; ++r) {
    if (sync) {
      EXPECT_EQ(runs[r].mean, runs[0].mean) << "replica " << r << " mean";
      EXPECT_EQ(runs[r].mv, runs[0].mv) << "replica " << r << " moving_var";
    }
    all.y.insert(all.y.end(), runs[r].y.begin(), runs[r].y.end());
    all.dx.insert(all.dx.end(), runs[r].dx.begin(), runs[r].dx.end());
    for (int64_t c = 0; c < k.c; ++c) {
      all.dg[c] += runs[r].dg[c];
      all.db[c] += runs[r].db[c];
    }
  }
  return all;
}

template <typename T>
void ExpectReplicasMatchWholeBatch(double tol) {
  KernelCase k;
  k.p.fix_gamma = false;
  std::mt19937_64 rng(11);
  // Per-replica halves with different means, so local statistics would differ from global ones.
  std::vector<double> x = RandomVector(k.n * k.c * k.w, rng, -1, 1);
  for (size_t i = x.size() / 2; i < x.size(); ++i) x[i] = 3 * x[i] + 2;
  const auto gamma = RandomVector(k.c, rng, 0.5, 1.5), beta = RandomVector(k.c, rng),
             dy = RandomVector(x.size(), rng);
  const KernelRun<T> whole = RunKernels<T>(k, 1, false, x, gamma, beta, dy);
  const KernelRun<T> sync = RunKernels<T>(k, 2, true, x, gamma, beta, dy);
  ExpectAllNear(sync.y, whole.y, tol, tol, "out");
  ExpectAllNear(sync.mean, whole.mean, tol, tol, "mean");
  ExpectAllNear(sync.var, whole.var, tol, tol, "var");
  ExpectAllNear(sync.mm, whole.mm, tol, tol, "moving_mean");
  ExpectAllNear(sync.mv, whole.mv, tol, tol, "moving_var");
  ExpectAllNear(sync.dx, whole.dx, tol, tol, "data_grad");
  ExpectAllNear(sync.dg, whole.dg, tol, tol, "gamma_grad (summed over replicas)");
  ExpectAllNear(sync.db, whole.db, tol, tol, "beta_grad (summed over replicas)");
  // Without the reducer each replica normalises by its own half: not the whole batch's.
  const KernelRun<T> local = RunKernels<T>(k, 2, false, x, gamma, beta, dy);
  EXPECT_GT(std::abs(static_cast<double>(local.mean[0] - whole.mean[0])), 0.1);
}

TEST(SyncBatchNormKernel, TwoReplicasEqualWholeBatchFloat64) {
  ExpectReplicasMatchWholeBatch<double>(1e-12);
}

TEST(SyncBatchNormKernel, TwoReplicasEqualWholeBatchFloat32) {
  ExpectReplicasMatchWholeBatch<float>(2e-5);
}

TEST(SyncBatchNormKernel, OneReplicaReducerIsBitwiseTheLocalPath) {
  KernelCase k;
  k.p.fix_gamma = false;
  std::mt19937_64 rng(5);
  const auto x = RandomVector(k.n * k.c * k.w, rng, -1, 3), gamma = RandomVector(k.c, rng),
             beta = RandomVector(k.c, rng), dy = RandomVector(x.size(), rng);
  const KernelRun<double> local = RunKernels<double>(k, 1, false, x, gamma, beta, dy);
  const KernelRun<double> sync = RunKernels<double>(k, 1, true, x, gamma, beta, dy);
  EXPECT_EQ(sync.y, local.y);
  EXPECT_EQ(sync.mv, local.mv);
  EXPECT_EQ(sync.dx, local.dx);
  EXPECT_EQ(sync.dg, local.dg);
}

// The gradient of the global loss L = sum over replicas of head . out, with respect to the whole
// batch's data and to gamma (whose gradient is the sum of the replicas').
TEST(SyncBatchNormKernel, FiniteDifferencesOfTheGlobalLoss) {
  KernelCase k;
  k.p.fix_gamma = false;
  k.p.eps = 1e-3;
  std::mt19937_64 rng(3);
  std::vector<double> x = RandomVector(k.n * k.c * k.w, rng, -1, 2);
  std::vector<double> gamma = RandomVector(k.c, rng, 0.5, 1.5);
  const auto beta = RandomVector(k.c, rng), head = RandomVector(x.size(), rng);
  const KernelRun<double> analytic = RunKernels<double>(k, 2, true, x, gamma, beta, head);
  auto forward = [&] { return RunKernels<double>(k, 2, true, x, gamma, beta, head).y; };
  test::ExpectGradientNear("data", forward, x, head, analytic.dx);
  test::ExpectGradientNear("gamma", forward, gamma, head, analytic.dg);
}

// ---- executors ----------------------------------------------------------------------------

Symbol ConvBnNet() {
  Symbol data = Symbol::Variable("data");
  Symbol conv = Symbol::Op("Convolution")
                    .Input("data", data)
                    .Param("num_filter", 4)
                    .Param("kernel", "(3, 3)")
                    .Param("pad", "(1, 1)")
                    .Name("conv");
  Symbol bn = Symbol::Op("BatchNorm").Input("data", conv).Param("fix_gamma", false).Name("bn");
  Symbol act = Symbol::Op("Activation").Input("data", bn).Param("act_type", "relu").Name("relu");
  Symbol fc = Symbol::Op("FullyConnected").Input("data", act).Param("num_hidden", 3).Name("fc");
  return Symbol::Op("SoftmaxOutput").Input("data", fc).Name("softmax");
}

// Two BatchNorms of different widths on independent branches.
Symbol BranchNet() {
  Symbol data = Symbol::Variable("data");
  auto branch = [&](const std::string& name, int filters) {
    Symbol conv = Symbol::Op("Convolution")
                      .Input("data", data)
                      .Param("num_filter", filters)
                      .Param("kernel", "(1, 1)")
                      .Name("conv_" + name);
    return Symbol(
        Symbol::Op("BatchNorm").Input("data", conv).Param("fix_gamma", false).Name("bn_" + name));
  };
  Symbol cat =
      Symbol::Op("Concat").Input(branch("a", 3)).Input(branch("b", 5)).Param("dim", 1).Name("cat");
  Symbol fc = Symbol::Op("FullyConnected").Input("data", cat).Param("num_hidden", 3).Name("fc");
  return Symbol::Op("SoftmaxOutput").Input("data", fc).Name("softmax");
}

// In-process replicas must run at the same time; the naive engine runs one operation at a time.
#define LOOM_REQUIRE_CONCURRENT_ENGINE()                                                     \
  do {                                                                                       \
    if (Engine::Get().kind() == "naive") {                                                   \
      GTEST_SKIP() << "in-process replicas need a concurrent engine (LOOM_ENGINE=threaded)"; \
    }                                                                                        \
  } while (0)

struct ExecResult {
  std::vector<double> out;
  std::map<std::string, std::vector<double>> grads, aux;
};

// Binds `parts` executors (replica r on cpu(r), so a worker blocked in a sum never holds up the
// other replica), each on its slice of the batch, runs one training step, and returns the
// outputs concatenated, weight gradients summed and auxiliary states (replica 0's; with sync,
// every replica's checked equal).
ExecResult RunReplicas(const Symbol& net, const Shape& batch, DType dtype, int parts, bool sync,
                       int bulk_size) {
  const int64_t per = batch[0] / parts;
  Shape part = batch;
  part[0] = per;
  std::mt19937_64 rng(21);
  std::vector<double> x = RandomVector(batch.Size(), rng, -1, 1);
  for (size_t i = x.size() / 2; i < x.size(); ++i) x[i] = 2 * x[i] + 1;
  std::vector<double> label(batch[0]);
  for (int64_t i = 0; i < batch[0]; ++i) label[i] = static_cast<double>(i % 3);
  const auto infer = net.InferShape({{"data", part}});
  const std::vector<std::string> arg_names = net.ListArguments();
  NDArrayMap params;
  for (size_t i = 0; i < arg_names.size(); ++i) {
    if (arg_names[i] == "data" || arg_names[i] == "softmax_label") continue;
    const Shape s = infer->arguments[i];
    params[arg_names[i]] = NDArray::FromHost(RandomVector(s.Size(), rng, 0.2, 0.8), s);
  }
  ThreadReducerGroup group(parts);
  std::vector<Executor> exes;
  for (int r = 0; r < parts; ++r) {
    ExecutorOptions options;
    options.bulk_size = bulk_size;
    if (sync) options.replica_reducer = group.Replica(r);
    exes.push_back(Executor::SimpleBind(net, Context::CPU(r), {{"data", part}}, {{"data", dtype}},
                                        "write", {}, options));
    exes.back().CopyParamsFrom(params);
  }
  // Each replica driven from its own thread, as each process drives its own.
  OnReplicas(parts, [&](int r) {
    std::vector<double> xr(x.begin() + r * part.Size(), x.begin() + (r + 1) * part.Size());
    std::vector<double> lr(label.begin() + r * per, label.begin() + (r + 1) * per);
    exes[r].Forward(true, {{"data", NDArray::FromHost(xr, part, Context::CPU(r))},
                           {"softmax_label", NDArray::FromHost(lr, Shape{per}, Context::CPU(r))}});
    exes[r].Backward();
  });
  ExecResult result;
  for (int r = 0; r < parts; ++r) {
    const std::vector<double> out = exes[r].outputs()[0].AsType(DType::kFloat64).ToVector<double>();
    result.out.insert(result.out.end(), out.begin(), out.end());
    for (const auto& [name, g] : exes[r].grad_dict()) {
      if (name == "data" || name == "softmax_label") continue;
      const std::vector<double> v = g.AsType(DType::kFloat64).ToVector<double>();
      std::vector<double>& sum = result.grads[name];
      sum.resize(v.size());
      for (size_t i = 0; i < v.size(); ++i) sum[i] += v[i];
    }
    for (const auto& [name, a] : exes[r].aux_dict()) {
      const std::vector<double> v = a.AsType(DType::kFloat64).ToVector<double>();
      if (r == 0) {
        result.aux[name] = v;
      } else if (sync) {
        EXPECT_EQ(v, result.aux[name]) << name << " of replica " << r;
      }
    }
  }
  if (sync && parts > 1) {
    for (int r = 1; r < parts; ++r) {
      EXPECT_EQ(group.calls(r), group.calls(0)) << "reducer calls of replica " << r;
    }
  }
  return result;
}

void ExpectSameStep(const ExecResult& got, const ExecResult& want, double tol) {
  ExpectAllNear(got.out, want.out, tol, tol, "outputs");
  ASSERT_EQ(got.grads.size(), want.grads.size());
  for (const auto& [name, g] : want.grads) {
    ExpectAllNear(got.grads.at(name), g, tol, tol, "gradient of " + name);
  }
  for (const auto& [name, a] : want.aux) ExpectAllNear(got.aux.at(name), a, tol, tol, name);
}

TEST(SyncBatchNormExecutor, TwoReplicasEqualWholeBatchFloat64) {
  LOOM_REQUIRE_CONCURRENT_ENGINE();
  const Shape batch{8, 2, 5, 5};
  const ExecResult whole = RunReplicas(ConvBnNet(), batch, DType::kFloat64, 1, false, 15);
  const ExecResult sync = RunReplicas(ConvBnNet(), batch, DType::kFloat64, 2, true, 15);
  ExpectSameStep(sync, whole, 1e-10);
  // Without the reducer the replicas' statistics are their own halves'.
  const ExecResult local = RunReplicas(ConvBnNet(), batch, DType::kFloat64, 2, false, 15);
  EXPECT_GT(std::abs(local.grads.at("conv_weight")[0] - whole.grads.at("conv_weight")[0]), 1e-6);
}

TEST(SyncBatchNormExecutor, TwoReplicasEqualWholeBatchFloat32) {
  LOOM_REQUIRE_CONCURRENT_ENGINE();
  const Shape batch{8, 2, 5, 5};
  const ExecResult whole = RunReplicas(ConvBnNet(), batch, DType::kFloat32, 1, false, 15);
  const ExecResult sync = RunReplicas(ConvBnNet(), batch, DType::kFloat32, 2, true, 15);
  ExpectSameStep(sync, whole, 1e-4);
}

// One engine operation per node: the two branches' BatchNorms could run in either order, but
// the reducer's calls come in push order on both replicas (the fake reducer fails otherwise:
// the branches' channel counts differ). Without the executor's ordering variable this fails in
// about one of seven 5-run attempts on a 2-core machine.
TEST(SyncBatchNormExecutor, IndependentBranchesReduceInPushOrder) {
  LOOM_REQUIRE_CONCURRENT_ENGINE();
  const Shape batch{6, 2, 3, 3};
  const ExecResult whole = RunReplicas(BranchNet(), batch, DType::kFloat64, 1, false, 0);
  for (int run = 0; run < 20; ++run) {
    const ExecResult sync = RunReplicas(BranchNet(), batch, DType::kFloat64, 2, true, 0);
    ExpectSameStep(sync, whole, 1e-10);
  }
}

class FailingReducer final : public ReplicaReducer {
 public:
  int num_replicas() const override { return 2; }
  void SumInPlace(double*, size_t) override { throw CommError("allreduce #1 timed out (test)"); }
};

TEST(SyncBatchNormExecutor, ReducerErrorNamesTheNode) {
  ExecutorOptions options;
  options.replica_reducer = std::make_shared<FailingReducer>();
  Executor exe = Executor::SimpleBind(ConvBnNet(), Context::CPU(), {{"data", Shape{4, 2, 5, 5}}},
                                      {}, "write", {}, options);
  exe.Forward(true);
  try {
    exe.outputs()[0].WaitToRead();
    FAIL() << "expected the reducer's error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("allreduce #1 timed out (test)"));
    EXPECT_THAT(e.what(), HasSubstr("'bn' (BatchNorm)"));
  }
}

TEST(SyncBatchNormExecutor, InferenceNeverReduces) {
  ExecutorOptions options;
  options.replica_reducer = std::make_shared<FailingReducer>();
  Executor exe = Executor::SimpleBind(ConvBnNet(), Context::CPU(), {{"data", Shape{4, 2, 5, 5}}},
                                      {}, "write", {}, options);
  exe.Forward(false);
  EXPECT_NO_THROW(exe.outputs()[0].WaitToRead());
}

}  // namespace
}  // namespace loom
