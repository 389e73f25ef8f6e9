// Engine semantics, run for the naive engine and the threaded engine with 1, 2 and 8 workers.
// Ports of MXNet's engine tests (mxnet-facts.md §8 T36-T41) plus ordering, priority, device-pool,
// lifetime and stress tests against serial evaluation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "loom/scheduler/engine.h"
#include "loom/scheduler/error.h"

namespace loom {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct EngineConfig {
  const char* kind;
  int workers;
};

void PrintTo(const EngineConfig& config, std::ostream* os) {
  *os << config.kind << " engine, " << config.workers << " workers";
}

std::string ConfigName(const ::testing::TestParamInfo<EngineConfig>& info) {
  return std::string(info.param.kind) + "_" + std::to_string(info.param.workers) + "workers";
}

class EngineTest : public ::testing::TestWithParam<EngineConfig> {
 protected:
  void SetUp() override {
    EngineOptions options;
    options.kind = GetParam().kind;
    options.cpu_worker_threads = GetParam().workers;
    engine_ = Engine::Create(options);
  }
  void TearDown() override {
    for (VarHandle v : vars_) engine_->DeleteVariable([](RunContext) {}, Context::CPU(), v);
    engine_->WaitForAll();
  }
  VarHandle NewVar() {
    vars_.push_back(engine_->NewVariable());
    return vars_.back();
  }
  bool naive() const { return std::string(GetParam().kind) == "naive"; }

  std::unique_ptr<Engine> engine_;
  std::vector<VarHandle> vars_;
};

// T37: versions count completed writes, never reads.
TEST_P(EngineTest, VarVersion) {
  VarHandle var = NewVar();
  EXPECT_EQ(engine_->Version(var), 0u);
  for (int i = 0; i < 10; ++i) engine_->Push([](RunContext) {}, Context::CPU(), {var}, {});
  engine_->WaitForAll();
  EXPECT_EQ(engine_->Version(var), 0u);
  for (int i = 0; i < 10; ++i) engine_->Push([](RunContext) {}, Context::CPU(), {}, {var});
  engine_->WaitForAll();
  EXPECT_EQ(engine_->Version(var), 10u);
}

// T38: 10,000 random operations over 100 variables equal serial evaluation exactly (5 repeats).
TEST_P(EngineTest, RandSumExpr) {
  constexpr int kVars = 100, kOps = 10000;
  for (int repeat = 0; repeat < 5; ++repeat) {
    std::mt19937 rng(repeat);
    struct Workload {
      std::vector<int> reads;
      int write;
      int sleep_us;
    };
    std::vector<Workload> workloads(kOps);
    for (auto& w : workloads) {
      int n_reads = std::uniform_int_distribution<int>(2, 19)(rng);
      w.write = std::uniform_int_distribution<int>(0, kVars - 1)(rng);
      for (int i = 0; i < n_reads; ++i) {
        int r = std::uniform_int_distribution<int>(0, kVars - 1)(rng);
        if (r != w.write) w.reads.push_back(r);
      }
      w.sleep_us = std::uniform_int_distribution<int>(1, 9)(rng);
    }
    auto run = [&](std::vector<double>& data, bool sleep) {
      return [&data, sleep](const Workload& w) {
        double sum = 0;
        for (int r : w.reads) sum += data[r];
        data[w.write] = sum / (w.reads.size() + 1);
        if (sleep) std::this_thread::sleep_for(std::chrono::microseconds(w.sleep_us));
      };
    };
    std::vector<double> serial(kVars, 1.0), parallel(kVars, 1.0);
    for (const auto& w : workloads) run(serial, false)(w);

    std::vector<VarHandle> vars(kVars);
    for (auto& v : vars) v = NewVar();
    // Sleep in one op of 50 so the run stays short on two cores but ops still overlap.
    for (int i = 0; i < kOps; ++i) {
      const Workload& w = workloads[i];
      std::vector<VarHandle> reads;
      for (int r : w.reads) reads.push_back(vars[r]);
      VarHandle writes[1] = {vars[w.write]};
      bool sleep = i % 50 == 0;
      engine_->Push([&w, step = run(parallel, sleep)](RunContext) { step(w); }, Context::CPU(),
                    reads, writes);
    }
    engine_->WaitForAll();
    EXPECT_EQ(parallel, serial) << "repeat " << repeat;
  }
}

// T39: everything pushed completes before WaitForAll returns; WaitForVar semantics.
TEST_P(EngineTest, Basics) {
  VarHandle var = NewVar();
  std::atomic<int> done{0};
  for (int i = 0; i < 10; ++i) {
    engine_->Push([&](RunContext) { std::this_thread::sleep_for(1ms), ++done; }, Context::CPU(),
                  {var}, {});
  }
  for (int i = 0; i < 10; ++i) {
    engine_->Push([&](RunContext) { std::this_thread::sleep_for(1ms), ++done; }, Context::CPU(),
                  {}, {var});
  }
  engine_->WaitForAll();
  EXPECT_EQ(done.load(), 20);

  VarHandle fresh = NewVar();
  auto start = std::chrono::steady_clock::now();
  engine_->WaitForVar(fresh);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
}

TEST_P(EngineTest, WaitForVarBlocksOnPendingWriteOnly) {
  if (naive()) GTEST_SKIP() << "the naive engine finishes every push before returning";
  VarHandle var = NewVar();
  std::atomic<bool> release{false}, wrote{false};
  engine_->Push(
      [&](RunContext) {
        while (!release) std::this_thread::sleep_for(1ms);
        wrote = true;
      },
      Context::CPU(), {}, {var});
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    release = true;
  });
  engine_->WaitForVar(var);
  EXPECT_TRUE(wrote.load());
  releaser.join();

  // A pending read does not block WaitForVar.
  std::atomic<bool> read_release{false};
  engine_->Push(
      [&](RunContext) {
        while (!read_release) std::this_thread::sleep_for(1ms);
      },
      Context::CPU(), {var}, {});
  engine_->WaitForVar(var);
  read_release = true;
  engine_->WaitForAll();
}

// Per variable: reads between two writes see the first write and never the second.
TEST_P(EngineTest, ReadWriteOrdering) {
  VarHandle var = NewVar();
  int value = 0;
  std::vector<int> seen(64);
  for (int round = 0; round < 8; ++round) {
    engine_->Push([&, round](RunContext) { value = round; }, Context::CPU(), {}, {var});
    for (int r = 0; r < 8; ++r) {
      engine_->Push([&, round, r](RunContext) { seen[round * 8 + r] = value; }, Context::CPU(),
                    {var}, {});
    }
  }
  engine_->WaitForAll();
  for (int i = 0; i < 64; ++i) EXPECT_EQ(seen[i], i / 8);
  EXPECT_EQ(engine_->Version(var), 8u);
}

// Duplicate or overlapping read/write lists are merged, never a deadlock.
TEST_P(EngineTest, DuplicateVariablesAreNormalised) {
  VarHandle a = NewVar(), b = NewVar();
  int x = 0;
  engine_->Push([&](RunContext) { ++x; }, Context::CPU(), {a, a, b}, {b, b});
  engine_->Push([&](RunContext) { ++x; }, Context::CPU(), {a, b, a}, {a, b, a});
  engine_->WaitForAll();
  EXPECT_EQ(x, 2);
  EXPECT_EQ(engine_->Version(a), 1u);
  EXPECT_EQ(engine_->Version(b), 2u);
}

// T40/T41: an error surfaces at the next wait with the operation's name, once.
TEST_P(EngineTest, ErrorSurfacesOnceAtWaitForVar) {
  VarHandle a = NewVar(), b = NewVar();
  engine_->Push([](RunContext) { throw Error("sigma must be positive"); }, Context::CPU(), {},
                {a}, 0, "random_normal0");
  bool ran_dependent = false;
  engine_->Push([&](RunContext) { ran_dependent = true; }, Context::CPU(), {a}, {b}, 0, "dot0");
  try {
    engine_->WaitForVar(b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("sigma must be positive"));
    EXPECT_THAT(e.what(), HasSubstr("random_normal0"));
  }
  EXPECT_FALSE(ran_dependent) << "operations depending on a failed one are skipped";
  // Cleared on rethrow: the same error is not raised again, by the other variable or WaitForAll.
  EXPECT_NO_THROW(engine_->WaitForVar(a));
  EXPECT_NO_THROW(engine_->WaitForAll());
  // A new failure raises again.
  engine_->Push([](RunContext) { throw std::runtime_error("second"); }, Context::CPU(), {}, {a},
                0, "second_op");
  EXPECT_THROW(engine_->WaitForVar(a), Error);
}

TEST_P(EngineTest, ErrorPropagatesAlongMutatedVariable) {
  // T41 test_exc_mutable_var_fail: a = dot(a, b) with b failed raises at a's wait and at WaitForAll.
  for (bool wait_all : {false, true}) {
    VarHandle a = NewVar(), b = NewVar();
    engine_->Push([](RunContext) { throw Error("bad sigma"); }, Context::CPU(), {}, {b}, 0,
                  "normal_b");
    engine_->Push([](RunContext) {}, Context::CPU(), {a, b}, {a}, 0, "dot");
    if (wait_all) {
      EXPECT_THROW(engine_->WaitForAll(), Error);
    } else {
      EXPECT_THROW(engine_->WaitForVar(a), Error);
      EXPECT_NO_THROW(engine_->WaitForAll()) << "the shared error was cleared";
    }
  }
}

TEST_P(EngineTest, WaitForAllRethrowsFirstAndClearsAll) {
  VarHandle a = NewVar(), b = NewVar();
  std::atomic<bool> first_ran{false};
  engine_->Push(
      [&](RunContext) {
        first_ran = true;
        throw Error("first failure");
      },
      Context::CPU(), {}, {a}, 0, "op_a");
  while (!first_ran) std::this_thread::yield();
  engine_->Push([](RunContext) { throw Error("second failure"); }, Context::CPU(), {}, {b}, 0,
                "op_b");
  try {
    engine_->WaitForAll();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("first failure"));
    EXPECT_THAT(e.what(), HasSubstr("op_a"));
  }
  EXPECT_NO_THROW(engine_->WaitForAll());
  EXPECT_NO_THROW(engine_->WaitForVar(a));
  EXPECT_NO_THROW(engine_->WaitForVar(b));
}

TEST_P(EngineTest, NoSkipRunsDespiteFailedInput) {
  VarHandle a = NewVar(), b = NewVar();
  engine_->Push([](RunContext) { throw Error("boom"); }, Context::CPU(), {}, {a}, 0, "fail");
  bool ran = false;
  engine_->Push([&](RunContext) { ran = true; }, Context::CPU(), {a}, {b}, 0, "cleanup",
                FnProperty::kNoSkip);
  EXPECT_THROW(engine_->WaitForAll(), Error);
  EXPECT_TRUE(ran);
}

// T36: bulk execution gives the same results and runs gathered operations as one task.
TEST_P(EngineTest, Bulk) {
  VarHandle var = NewVar();
  float x = 0;
  std::atomic<int> bulked{0};
  auto op = [&](float mul, float add) {
    return [&, mul, add](RunContext rctx) {
      x = x * mul + add;
      if (rctx.is_bulk) ++bulked;
    };
  };
  {
    BulkScope scope(*engine_, 10);
    engine_->Push(op(0, 1), Context::CPU(), {}, {var}, 0, "ones");
    engine_->Push(op(2, 0), Context::CPU(), {}, {var}, 0, "x*=2");
    engine_->Push(op(1, 1), Context::CPU(), {}, {var}, 0, "x+=1");
    engine_->WaitForVar(var);
    EXPECT_EQ(x, 3);
    engine_->Push(op(1, 1), Context::CPU(), {}, {var}, 0, "x+=1");
    engine_->WaitForVar(var);
    EXPECT_EQ(x, 4);
    for (int i = 0; i < 100; ++i) engine_->Push(op(1, 1), Context::CPU(), {}, {var}, 0, "x+=1");
  }
  engine_->WaitForVar(var);
  EXPECT_EQ(x, 104);
  EXPECT_EQ(bulked.load(), 104);
  EXPECT_EQ(engine_->Version(var), 12u) << "two segments flushed by waits, then 100 pushes in 10 bulks";
}

TEST_P(EngineTest, BulkErrorNamesTheOperation) {
  VarHandle var = NewVar();
  {
    BulkScope scope(*engine_, 4);
    engine_->Push([](RunContext) {}, Context::CPU(), {}, {var}, 0, "fine");
    engine_->Push([](RunContext) { throw Error("bad value"); }, Context::CPU(), {}, {var}, 0,
                  "broken_op");
  }
  try {
    engine_->WaitForVar(var);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("broken_op"));
    EXPECT_THAT(e.what(), HasSubstr("bad value"));
  }
}

TEST_P(EngineTest, AsyncOperationCompletesFromAnotherThread) {
  VarHandle var = NewVar();
  std::atomic<int> value{0};
  std::thread completer;
  VarHandle writes[1] = {var};
  engine_->PushAsync(
      [&](RunContext, CallbackOnComplete on_complete) {
        completer = std::thread([&value, on_complete] {
          std::this_thread::sleep_for(5ms);
          value = 42;
          on_complete();
        });
      },
      Context::CPU(), {}, writes, FnProperty::kNormal, 0, "async_op");
  int seen = -1;
  engine_->Push([&](RunContext) { seen = value; }, Context::CPU(), {var}, {});
  engine_->WaitForAll();
  completer.join();
  EXPECT_EQ(seen, 42);
}

TEST_P(EngineTest, AsyncOperationReportsError) {
  VarHandle var = NewVar();
  VarHandle writes[1] = {var};
  engine_->PushAsync(
      [](RunContext, CallbackOnComplete on_complete) {
        on_complete(std::make_exception_ptr(CommError("rank 1 is missing")));
      },
      Context::CPU(), {}, writes, FnProperty::kNormal, 0, "allreduce");
  try {
    engine_->WaitForVar(var);
    FAIL() << "expected an error";
  } catch (const CommError& e) {
    EXPECT_THAT(e.what(), HasSubstr("rank 1 is missing"));
    EXPECT_THAT(e.what(), HasSubstr("allreduce"));
  }
}

TEST_P(EngineTest, CachedOperatorPushedManyTimes) {
  VarHandle var = NewVar();
  int count = 0;
  VarHandle writes[1] = {var};
  OprHandle op = engine_->NewOperator(
      [&](RunContext, CallbackOnComplete on_complete) {
        ++count;
        on_complete();
      },
      {}, writes, FnProperty::kNormal, "increment");
  for (int i = 0; i < 100; ++i) engine_->Push(op, Context::CPU(), 0);
  engine_->DeleteOperator(op);
  engine_->WaitForAll();
  EXPECT_EQ(count, 100);
  EXPECT_EQ(engine_->Version(var), 101u) << "100 pushes and the deferred delete";
}

TEST_P(EngineTest, DeleteVariableIsDeferred) {
  VarHandle var = engine_->NewVariable();
  std::atomic<bool> op_done{false}, deleted_after_op{false};
  engine_->Push(
      [&](RunContext) {
        std::this_thread::sleep_for(20ms);
        op_done = true;
      },
      Context::CPU(), {var}, {});
  engine_->DeleteVariable([&](RunContext) { deleted_after_op = op_done.load(); }, Context::CPU(),
                          var);
  engine_->WaitForAll();
  EXPECT_TRUE(deleted_after_op.load());
}

TEST_P(EngineTest, GpuOperationWithoutGpuFailsClearly) {
  VarHandle var = NewVar();
  engine_->Push([](RunContext) {}, Context::GPU(0), {}, {var}, 0, "gpu_kernel");
  try {
    engine_->WaitForVar(var);
    FAIL() << "expected an error: this machine has no GPU";
  } catch (const NotSupportedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("gpu(0)"));
    EXPECT_THAT(e.what(), HasSubstr("gpu_kernel"));
  }
}

// Each cpu(i) has its own pool: an operation on cpu(0) waiting for one on cpu(1) completes even
// with one worker per device.
TEST_P(EngineTest, DevicesHaveSeparatePools) {
  if (naive()) GTEST_SKIP() << "the naive engine runs everything in the caller";
  VarHandle a = NewVar(), b = NewVar();
  std::atomic<bool> flag{false};
  bool saw_flag = false;
  engine_->Push(
      [&](RunContext) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!flag && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
        saw_flag = flag;
      },
      Context::CPU(0), {}, {a});
  engine_->Push([&](RunContext) { flag = true; }, Context::CPU(1), {}, {b});
  engine_->WaitForAll();
  EXPECT_TRUE(saw_flag);
}

// Ready operations on one pool run highest priority first, FIFO within a priority.
TEST_P(EngineTest, PrioritiesOrderReadyOperations) {
  if (naive() || GetParam().workers != 1) GTEST_SKIP() << "order is observable with one worker";
  VarHandle gate = NewVar();
  std::atomic<bool> open{false};
  engine_->Push(
      [&](RunContext) {
        while (!open) std::this_thread::yield();
      },
      Context::CPU(), {}, {gate});
  // Let the gate start so everything below is queued behind a busy worker.
  std::this_thread::sleep_for(20ms);
  std::mutex mu;
  std::vector<int> order;
  const int priorities[] = {0, 5, -3, 5, 10, 0, -3, 1};
  for (int i = 0; i < 8; ++i) {
    VarHandle v = NewVar();
    engine_->Push(
        [&, i](RunContext) {
          std::lock_guard<std::mutex> lock(mu);
          order.push_back(i);
        },
        Context::CPU(), {}, {v}, priorities[i]);
  }
  open = true;
  engine_->WaitForAll();
  EXPECT_THAT(order, ::testing::ElementsAre(4, 1, 3, 7, 0, 5, 2, 6));
}

TEST_P(EngineTest, PrioritisedPoolRuns) {
  VarHandle var = NewVar();
  int x = 0;
  engine_->Push([&](RunContext) { x = 7; }, Context::CPU(), {}, {var}, 3, "update",
                FnProperty::kCPUPrioritized);
  engine_->WaitForVar(var);
  EXPECT_EQ(x, 7);
}

// 100,000 random operations: every variable's write sequence and every value each operation read
// equal a serial replay.
TEST_P(EngineTest, StressMatchesSerialReplay) {
  constexpr int kVars = 200, kOps = 100000;
  std::mt19937 rng(1234);
  struct Op {
    std::vector<int> reads, writes;
    uint64_t seen = 0;
  };
  std::vector<Op> ops(kOps);
  for (auto& op : ops) {
    int n_reads = std::uniform_int_distribution<int>(0, 3)(rng);
    int n_writes = std::uniform_int_distribution<int>(n_reads == 0 ? 1 : 0, 2)(rng);
    for (int i = 0; i < n_reads; ++i) op.reads.push_back(rng() % kVars);
    for (int i = 0; i < n_writes; ++i) op.writes.push_back(rng() % kVars);
  }
  auto apply = [](Op& op, int id, std::vector<uint64_t>& value,
                  std::vector<std::vector<int>>& log) {
    uint64_t h = id;
    for (int r : op.reads) h = h * 1000003 + value[r];
    op.seen = h;
    for (int w : op.writes) {
      if (log[w].empty() || log[w].back() != id) log[w].push_back(id);
      value[w] = h + w;
    }
  };
  std::vector<uint64_t> serial_value(kVars, 0), value(kVars, 0);
  std::vector<std::vector<int>> serial_log(kVars), log(kVars);
  std::vector<Op> serial_ops = ops;
  for (int i = 0; i < kOps; ++i) apply(serial_ops[i], i, serial_value, serial_log);

  std::vector<VarHandle> vars(kVars);
  for (auto& v : vars) v = NewVar();
  for (int i = 0; i < kOps; ++i) {
    std::vector<VarHandle> reads, writes;
    for (int r : ops[i].reads) reads.push_back(vars[r]);
    for (int w : ops[i].writes) writes.push_back(vars[w]);
    engine_->Push([&, i](RunContext) { apply(ops[i], i, value, log); }, Context::CPU(i % 3),
                  reads, writes);
  }
  engine_->WaitForAll();
  EXPECT_EQ(value, serial_value);
  EXPECT_EQ(log, serial_log);
  for (int i = 0; i < kOps; ++i) ASSERT_EQ(ops[i].seen, serial_ops[i].seen) << "op " << i;
}

TEST_P(EngineTest, ShutdownWithPendingWorkIsClean) {
  std::atomic<int> ran{0};
  {
    EngineOptions options;
    options.kind = GetParam().kind;
    options.cpu_worker_threads = GetParam().workers;
    auto engine = Engine::Create(options);
    VarHandle var = engine->NewVariable();
    for (int i = 0; i < 200; ++i) {
      engine->Push([&](RunContext) { ++ran; }, Context::CPU(), {}, {var});
    }
    engine->Push([](RunContext) { throw Error("nobody waits for me"); }, Context::CPU(), {},
                 {var});
  }
  EXPECT_EQ(ran.load(), 200);
}

TEST_P(EngineTest, TraceHasOneRowPerWorker) {
  if (naive()) GTEST_SKIP() << "the naive engine has no workers";
  std::string path = ::testing::TempDir() + "/loom_trace_" + std::to_string(GetParam().workers) +
                     ".json";
  {
    EngineOptions options;
    options.kind = "threaded";
    options.cpu_worker_threads = GetParam().workers;
    options.profile_path = path;
    auto engine = Engine::Create(options);
    VarHandle var = engine->NewVariable();
    for (int i = 0; i < 20; ++i) engine->Push([](RunContext) {}, Context::CPU(), {}, {var}, 0,
                                              "traced_op");
    engine->WaitForAll();
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\"traceEvents\""));
  EXPECT_THAT(text.str(), HasSubstr("\"name\":\"traced_op\",\"ph\":\"X\""));
  EXPECT_THAT(text.str(), HasSubstr("cpu(0) worker"));
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineTest,
                         ::testing::Values(EngineConfig{"naive", 1}, EngineConfig{"threaded", 1},
                                           EngineConfig{"threaded", 2},
                                           EngineConfig{"threaded", 8}),
                         ConfigName);

TEST(EngineOptions, KindFromEnvironment) {
  setenv("LOOM_ENGINE", "naive", 1);
  EXPECT_EQ(Engine::Create()->kind(), "naive");
  setenv("LOOM_ENGINE", "bogus", 1);
  EXPECT_THROW(Engine::Create(), Error);
  unsetenv("LOOM_ENGINE");
  EXPECT_EQ(Engine::Create()->kind(), "threaded");
}

TEST(EngineOptions, WorkerThreadsFromEnvironment) {
  setenv("LOOM_CPU_WORKER_NTHREADS", "3", 1);
  EXPECT_EQ(Engine::Create()->cpu_worker_threads(), 3);
  setenv("LOOM_CPU_WORKER_NTHREADS", "three", 1);
  try {
    Engine::Create();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("LOOM_CPU_WORKER_NTHREADS"));
    EXPECT_THAT(e.what(), HasSubstr("three"));
  }
  unsetenv("LOOM_CPU_WORKER_NTHREADS");
}

TEST(Context, ParseAndPrint) {
  EXPECT_EQ(Context::Parse("cpu(1)"), Context::CPU(1));
  EXPECT_EQ(Context::Parse("gpu"), Context::GPU(0));
  EXPECT_EQ(Context::Parse("cpu_pinned(0)").ToString(), "cpu_pinned(0)");
  EXPECT_THROW(Context::Parse("tpu(0)"), Error);
  EXPECT_THROW(Context::Parse("cpu(x)"), Error);
  EXPECT_THROW(Context::Parse("cpu("), Error);
}

}  // namespace
}  // namespace loom
