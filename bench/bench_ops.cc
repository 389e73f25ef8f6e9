// bench_ops: Loom's CPU kernels against the libraries they are built on, measured in the same run.
//   fc_fwd_bwd_vs_sgemm        FullyConnected forward + backward (batch 128, 784 -> 1024): its FLOP
//                              rate over raw OpenBLAS cblas_sgemm's on the same three GEMM shapes;
//                              fc_fwd_bwd_vs_dnnl_sgemm the same over oneDNN's dnnl_sgemm (which
//                              Loom's float32 GEMMs call: AVX-512 where OpenBLAS 0.3.21 has AVX2).
//   conv_fwd_bwd_vs_reference  LeNet's two convolutions and a ResNet 3x3 convolution, forward +
//                              backward (weights, and data except for LeNet's first layer, whose
//                              input gradient training never asks for): time of the same work done
//                              by calling oneDNN directly (primitives made once, outside the
//                              timing) over Loom's kernels' time, summed over the three.
//   mlp_train_step_ms          one SGD training step (forward, backward, update of every
//                              parameter) of the 784-128-64-10 MLP with SoftmaxOutput, batch 128,
//                              through the executor; lenet_train_step_ms the same for LeNet (conv
//                              20 5x5, tanh, max pool, conv 50 5x5, tanh, max pool, fc 500, tanh,
//                              fc 10) on 1x28x28 images. Each in a child process per thread count
//                              (LOOM_CPU_WORKER_NTHREADS = LOOM_KERNEL_THREADS = 1 or 2): the
//                              fastest of 9 batches of steps; `_1t`, `_2t` and the better one.
//   planned_training_bytes_resnet50_b32  Executor::PlanMemory of the model zoo's ResNet-50 for
//                              training at batch 32 (3x224x224), and `_unshared` the same with
//                              in-place and buffer sharing disabled (target: at most half).
// Each kernel figure is measured with 1 and 2 threads (Loom: KernelThreads and a oneTBB arena of
// that size; references: openblas_set_num_threads / omp_set_num_threads); the headline figure
// compares the best of each side. Loom and the reference run in alternating batches and each
// keeps its fastest batch, so load from other processes on the machine hits both alike.
// Usage: bench_ops [--seconds S] (time per measurement, default 1). Last line: one JSON object.
//        bench_ops --train-step mlp|lenet [--seconds S] (the child: prints "train_step_ms X" and
//        "train_step_cpu_ms Y").
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <tbb/task_arena.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "loom/core/executor.h"
#include "loom/core/kernel.h"
#include "loom/scheduler/engine.h"
#include "models.h"
#include "operators/cpu/convolution.h"
#include "operators/cpu/fully_connected.h"
#include "operators/cpu/parallel.h"

namespace {

using Clock = std::chrono::steady_clock;

double g_seconds = 1.0;

struct Pair {
  double loom_s;
  double ref_s;
};

// Seconds per call of Loom's function (run with `threads` kernel threads in a oneTBB arena of
// that size) and of the reference, measured in alternating batches so that both see the same
// machine load, each the fastest of its batches (other processes only ever add time).
Pair Compare(int threads, const std::function<void()>& loom_fn,
             const std::function<void()>& ref_fn) {
  loom::cpu::SetKernelThreads(threads);
  tbb::task_arena arena(threads);
  const std::function<void()> loom_call = [&] { arena.execute(loom_fn); };
  auto seconds = [](const std::function<void()>& fn, int calls) {
    const auto a = Clock::now();
    for (int i = 0; i < calls; ++i) fn();
    return std::chrono::duration<double>(Clock::now() - a).count() / calls;
  };
  // Warm up (primitive creation, page faults), then size the batches.
  seconds(ref_fn, 2);
  seconds(loom_call, 2);
  const double once = std::max(seconds(ref_fn, 1), 1e-7);
  constexpr int kRounds = 21;
  const int calls = std::max(1, static_cast<int>(g_seconds / (2 * kRounds) / once));
  Pair best{1e30, 1e30};
  for (int r = 0; r < kRounds; ++r) {
    best.ref_s = std::min(best.ref_s, seconds(ref_fn, calls));
    best.loom_s = std::min(best.loom_s, seconds(loom_call, calls));
  }
  return best;
}

std::vector<float> Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

loom::TensorView View(std::vector<float>& v, loom::Shape shape) {
  loom::TensorView t;
  t.ptr = v.data();
  t.shape = std::move(shape);
  t.dtype = loom::DType::kFloat32;
  return t;
}

// FullyConnected forward + backward vs the same three GEMMs called directly: OpenBLAS's
// cblas_sgemm (the reference) and oneDNN's dnnl_sgemm (what Loom's float32 GEMMs call).
struct FcFigures {
  Pair openblas, dnnl;
};

FcFigures BenchFc(int threads) {
  const int m = 128, k = 784, n = 1024;
  auto x = Random(m * k, 1), w = Random(n * k, 2), b = Random(n, 3), dy = Random(m * n, 4);
  std::vector<float> y(m * n), dx(m * k), dw(n * k), db(n);
  const loom::cpu::FullyConnectedParams p{.num_hidden = n};
  loom::TensorView bias = View(b, {n}), bias_grad = View(db, {n});
  const std::function<void()> loom_fn = [&] {
    loom::cpu::FullyConnectedForward(p, View(x, {m, k}), View(w, {n, k}), &bias, View(y, {m, n}),
                                     loom::OpReq::kWriteTo);
    loom::cpu::FullyConnectedBackward(p, View(dy, {m, n}), View(x, {m, k}), View(w, {n, k}),
                                      View(dx, {m, k}), loom::OpReq::kWriteTo, View(dw, {n, k}),
                                      loom::OpReq::kWriteTo, &bias_grad, loom::OpReq::kWriteTo);
  };
  FcFigures f;
  f.openblas = Compare(threads, loom_fn, [&] {
    openblas_set_num_threads(threads);  // Loom's float64 GEMMs set it back to 1
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.f, x.data(), k, w.data(), k,
                0.f, y.data(), n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k, n, 1.f, dy.data(), n, w.data(), k,
                0.f, dx.data(), k);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, k, m, 1.f, dy.data(), n, x.data(), k,
                0.f, dw.data(), k);
  });
  f.dnnl = Compare(threads, loom_fn, [&] {
    omp_set_num_threads(threads);  // Loom's GEMMs set it back to 1
    dnnl_sgemm('N', 'T', m, n, k, 1.f, x.data(), k, w.data(), k, 0.f, y.data(), n);
    dnnl_sgemm('N', 'N', m, k, n, 1.f, dy.data(), n, w.data(), k, 0.f, dx.data(), k);
    dnnl_sgemm('T', 'N', n, k, m, 1.f, dy.data(), n, x.data(), k, 0.f, dw.data(), k);
  });
  const double gflop = 3.0 * 2 * m * n * k / 1e9;
  for (const auto& [name, r] : {std::pair{"openblas sgemm", f.openblas}, {"dnnl_sgemm", f.dnnl}}) {
    std::printf(
        "fc %d thread(s): loom %.3f ms (%.1f GFLOP/s), %s %.3f ms (%.1f GFLOP/s), ratio %.3f\n",
        threads, r.loom_s * 1e3, gflop / r.loom_s, name, r.ref_s * 1e3, gflop / r.ref_s,
        r.ref_s / r.loom_s);
  }
  return f;
}

// One 2-D convolution (NCHW, stride 1, square kernel) for the conv benchmark.
struct ConvConfig {
  const char* name;
  int n, c, h, w, o, k, pad;
  bool bias;
  bool data_grad;  // false for a first layer: training never needs its input's gradient
  int OutH() const { return h + 2 * pad - k + 1; }
  int OutW() const { return w + 2 * pad - k + 1; }
  double Gflop() const {  // forward, backward data (if wanted) and backward weights
    return (data_grad ? 3.0 : 2.0) * 2 * n * o * c * k * k * OutH() * OutW() / 1e9;
  }
};

// The reference: the same forward and backward calls done directly with oneDNN from NCHW user
// buffers, everything (primitives, reorders, buffers) made once outside the timing.
class DirectOneDnnConv {
 public:
  using md = dnnl::memory::desc;
  using tag = dnnl::memory::format_tag;
  DirectOneDnnConv(const ConvConfig& cfg, float* x, float* w, float* b, float* y, float* dy,
                   float* dx, float* dw, float* db)
      : eng_(dnnl::engine::kind::cpu, 0), stream_(eng_), cfg_(cfg) {
    const auto f32 = dnnl::memory::data_type::f32;
    const md x_user({cfg.n, cfg.c, cfg.h, cfg.w}, f32, tag::nchw);
    const md y_user({cfg.n, cfg.o, cfg.OutH(), cfg.OutW()}, f32, tag::nchw);
    const md w_user({cfg.o, cfg.c, cfg.k, cfg.k}, f32, tag::oihw);
    const md b_md({cfg.o}, f32, tag::x);
    const md x_any({cfg.n, cfg.c, cfg.h, cfg.w}, f32, tag::any);
    const md y_any({cfg.n, cfg.o, cfg.OutH(), cfg.OutW()}, f32, tag::any);
    const md w_any({cfg.o, cfg.c, cfg.k, cfg.k}, f32, tag::any);
    const dnnl::memory::dims strides{1, 1}, dil{0, 0}, pad{cfg.pad, cfg.pad};
    const auto algo = dnnl::algorithm::convolution_direct;
    auto fd = cfg.bias
                  ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, x_any,
                                                    w_any, b_md, y_any, strides, dil, pad, pad)
                  : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, x_any,
                                                    w_any, y_any, strides, dil, pad, pad);
    fwd_pd_ = dnnl::convolution_forward::primitive_desc(fd, eng_);
    dnnl::convolution_backward_data::primitive_desc bd_pd(
        dnnl::convolution_backward_data::desc(algo, x_any, w_any, y_any, strides, dil, pad, pad),
        eng_, fwd_pd_);
    auto bwd = cfg.bias ? dnnl::convolution_backward_weights::desc(algo, x_any, w_any, b_md, y_any,
                                                                   strides, dil, pad, pad)
                        : dnnl::convolution_backward_weights::desc(algo, x_any, w_any, y_any,
                                                                   strides, dil, pad, pad);
    dnnl::convolution_backward_weights::primitive_desc bw_pd(bwd, eng_, fwd_pd_);
    fwd_ = dnnl::convolution_forward(fwd_pd_);
    bwd_data_ = dnnl::convolution_backward_data(bd_pd);
    bwd_weights_ = dnnl::convolution_backward_weights(bw_pd);
    x_ = {x_user, eng_, x};
    w_ = {w_user, eng_, w};
    b_ = {b_md, eng_, b};
    y_ = {y_user, eng_, y};
    dy_ = {y_user, eng_, dy};
    dx_ = {x_user, eng_, dx};
    dw_ = {w_user, eng_, dw};
    db_ = {b_md, eng_, db};
    f_x_ = Prepare(x_, fwd_pd_.src_desc());
    f_w_ = Prepare(w_, fwd_pd_.weights_desc());
    f_y_ = Prepare(y_, fwd_pd_.dst_desc());
    bd_dy_ = Prepare(dy_, bd_pd.diff_dst_desc());
    bd_w_ = Prepare(w_, bd_pd.weights_desc());
    bd_dx_ = Prepare(dx_, bd_pd.diff_src_desc());
    bw_x_ = Prepare(x_, bw_pd.src_desc());
    share_dy_ = bw_pd.diff_dst_desc() == bd_pd.diff_dst_desc();
    bw_dy_ = share_dy_ ? bd_dy_ : Prepare(dy_, bw_pd.diff_dst_desc());
    bw_dw_ = Prepare(dw_, bw_pd.diff_weights_desc());
  }

  // Forward call then backward call (data and weights), as a framework would make them.
  void Run() {
    In(x_, f_x_);
    In(w_, f_w_);
    std::unordered_map<int, dnnl::memory> fa{
        {DNNL_ARG_SRC, f_x_}, {DNNL_ARG_WEIGHTS, f_w_}, {DNNL_ARG_DST, f_y_}};
    if (cfg_.bias) fa.emplace(DNNL_ARG_BIAS, b_);
    fwd_.execute(stream_, fa);
    Out(f_y_, y_);
    stream_.wait();
    In(dy_, bd_dy_);
    if (cfg_.data_grad) {
      In(w_, bd_w_);
      bwd_data_.execute(
          stream_,
          {{DNNL_ARG_DIFF_DST, bd_dy_}, {DNNL_ARG_WEIGHTS, bd_w_}, {DNNL_ARG_DIFF_SRC, bd_dx_}});
      Out(bd_dx_, dx_);
    }
    In(x_, bw_x_);
    if (!share_dy_) In(dy_, bw_dy_);
    std::unordered_map<int, dnnl::memory> ba{
        {DNNL_ARG_SRC, bw_x_}, {DNNL_ARG_DIFF_DST, bw_dy_}, {DNNL_ARG_DIFF_WEIGHTS, bw_dw_}};
    if (cfg_.bias) ba.emplace(DNNL_ARG_DIFF_BIAS, db_);
    bwd_weights_.execute(stream_, ba);
    Out(bw_dw_, dw_);
    stream_.wait();
  }

 private:
  // The primitive-layout twin of a user memory (the user memory itself when layouts agree).
  dnnl::memory Prepare(const dnnl::memory& user, const md& want) {
    return user.get_desc() == want ? user : dnnl::memory(want, eng_);
  }
  void In(dnnl::memory& user, dnnl::memory& prim) {
    if (user.get_data_handle() != prim.get_data_handle()) {
      dnnl::reorder(user, prim).execute(stream_, user, prim);
    }
  }
  void Out(dnnl::memory& prim, dnnl::memory& user) { In(prim, user); }

  dnnl::engine eng_;
  dnnl::stream stream_;
  ConvConfig cfg_;
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_weights_;
  dnnl::memory x_, w_, b_, y_, dy_, dx_, dw_, db_;
  dnnl::memory f_x_, f_w_, f_y_, bd_dy_, bd_w_, bd_dx_, bw_x_, bw_dy_, bw_dw_;
  bool share_dy_ = false;
};

Pair BenchConv(const ConvConfig& cfg, int threads) {
  const int64_t xs = int64_t{cfg.n} * cfg.c * cfg.h * cfg.w;
  const int64_t ys = int64_t{cfg.n} * cfg.o * cfg.OutH() * cfg.OutW();
  const int64_t ws = int64_t{cfg.o} * cfg.c * cfg.k * cfg.k;
  auto x = Random(xs, 5), w = Random(ws, 6), b = Random(cfg.o, 7), dy = Random(ys, 8);
  std::vector<float> y(ys), dx(xs), dw(ws), db(cfg.o);
  omp_set_num_threads(threads);  // the reference's primitives are made for this many threads
  DirectOneDnnConv direct(cfg, x.data(), w.data(), b.data(), y.data(), dy.data(), dx.data(),
                          dw.data(), db.data());
  loom::cpu::ConvolutionParams p;
  p.kernel = {cfg.k, cfg.k};
  p.pad = {cfg.pad, cfg.pad};
  p.num_filter = cfg.o;
  p.no_bias = !cfg.bias;
  const loom::Shape x_shape{cfg.n, cfg.c, cfg.h, cfg.w},
      y_shape{cfg.n, cfg.o, cfg.OutH(), cfg.OutW()}, w_shape{cfg.o, cfg.c, cfg.k, cfg.k};
  loom::TensorView bias = View(b, {cfg.o}), bias_grad = View(db, {cfg.o});
  const Pair r = Compare(
      threads,
      [&] {
        loom::cpu::ConvolutionForward(p, View(x, x_shape), View(w, w_shape), &bias,
                                      View(y, y_shape), loom::OpReq::kWriteTo);
        loom::cpu::ConvolutionBackward(
            p, View(dy, y_shape), View(x, x_shape), View(w, w_shape), View(dx, x_shape),
            cfg.data_grad ? loom::OpReq::kWriteTo : loom::OpReq::kNull, View(dw, w_shape),
            loom::OpReq::kWriteTo, &bias_grad, loom::OpReq::kWriteTo);
      },
      [&] {
        omp_set_num_threads(threads);
        direct.Run();
      });
  std::printf(
      "conv %-22s %d thread(s): loom %.3f ms (%.1f GFLOP/s), direct oneDNN %.3f ms "
      "(%.1f GFLOP/s), ratio %.3f\n",
      cfg.name, threads, r.loom_s * 1e3, cfg.Gflop() / r.loom_s, r.ref_s * 1e3,
      cfg.Gflop() / r.ref_s, r.ref_s / r.loom_s);
  return r;
}

// ---- training steps through the executor ----

// CPU time of this process (every thread) so far, in seconds.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct StepTime {
  double wall_ms;  // the fastest batch's wall time per step
  double cpu_ms;   // CPU time of all threads per step over every timed batch
};

// One SGD step (forward, backward, w -= lr * g for every parameter, each update an engine
// operation that waits only for its gradient), batch 128: milliseconds per step of the fastest
// of 9 batches of steps, each batch ended by waiting for all work, and the CPU milliseconds per
// step (on a loaded machine the wall time mostly measures the other processes; with one thread
// the CPU time does not).
StepTime TrainStepMs(const std::string& model) {
  using loom::NDArray;
  const int64_t batch = 128;
  const bool mlp = model == "mlp";
  const loom::Symbol net = mlp ? loom::bench::Mlp() : loom::bench::LeNet();
  const loom::Shape data_shape = mlp ? loom::Shape{batch, 784} : loom::Shape{batch, 1, 28, 28};
  std::map<std::string, std::string, std::less<>> req;
  for (const std::string& a : net.ListArguments()) {
    req[a] = a == "data" || a == "softmax_label" ? "null" : "write";
  }
  loom::Executor exe =
      loom::Executor::SimpleBind(net, loom::Context::CPU(), {{"data", data_shape}}, {}, req);
  // Xavier-uniform weights, zero biases, data in [0, 1), labels 0..9.
  uint64_t seed = 11;
  for (const auto& [name, array] : exe.arg_dict()) {
    std::vector<float> v;
    if (name == "data") {
      v = Random(array.size(), seed++);
      for (float& x : v) x = 0.5f * (x + 1);
    } else if (name == "softmax_label") {
      for (int64_t i = 0; i < array.size(); ++i) v.push_back(static_cast<float>(i % 10));
    } else if (array.shape().ndim() == 1) {
      v.assign(array.size(), 0.f);
    } else {
      const double fan = static_cast<double>(array.shape()[0] + array.size() / array.shape()[0]);
      v = Random(array.size(), seed++);
      for (float& x : v) x *= static_cast<float>(std::sqrt(6.0 / fan));
    }
    NDArray target = array;
    target.CopyFrom(NDArray::FromHost<float>(v, array.shape()));
  }
  loom::Engine& engine = loom::Engine::Get();
  std::vector<std::pair<NDArray, NDArray>> params;
  for (const auto& [name, grad] : exe.grad_dict())
    params.emplace_back(exe.arg_dict().at(name), grad);
  const float lr = 0.01f;
  auto step = [&] {
    exe.Forward(true);
    exe.Backward();
    for (const auto& [w, g] : params) {
      engine.Push(
          [w = w, g = g, lr](loom::RunContext) {
            float* pw = static_cast<float*>(w.data());
            const float* pg = static_cast<const float*>(g.data());
            for (int64_t i = 0, n = w.size(); i < n; ++i) pw[i] -= lr * pg[i];
          },
          loom::Context::CPU(), {g.var()}, {w.var()}, 0, "sgd_update");
    }
  };
  auto seconds = [&](int steps) {
    const auto a = Clock::now();
    for (int i = 0; i < steps; ++i) step();
    engine.WaitForAll();
    return std::chrono::duration<double>(Clock::now() - a).count() / steps;
  };
  seconds(5);
  const double once = std::max(seconds(3), 1e-6);
  constexpr int kRounds = 9;
  const int steps = std::max(3, static_cast<int>(g_seconds / kRounds / once));
  double best = 1e30;
  const double cpu0 = ProcessCpuSeconds();
  for (int r = 0; r < kRounds; ++r) best = std::min(best, seconds(steps));
  const double cpu = (ProcessCpuSeconds() - cpu0) / (kRounds * steps);
  for (float p : exe.outputs()[0].ToVector<float>()) {
    if (!std::isfinite(p)) throw loom::Error("training diverged: a non-finite probability");
  }
  return {best * 1e3, cpu * 1e3};
}

// Runs this program as `--train-step model` with `threads` engine workers and kernel threads.
double TrainStepInChild(const std::string& model, int threads) {
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len <= 0) throw std::runtime_error("cannot find this program's path");
  self[len] = 0;
  const std::string t = std::to_string(threads);
  const std::string cmd = "LOOM_CPU_WORKER_NTHREADS=" + t + " LOOM_KERNEL_THREADS=" + t +
                          " OMP_NUM_THREADS=" + t + " '" + self + "' --train-step " + model +
                          " --seconds " + std::to_string(g_seconds);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cmd);
  char line[512];
  double ms = -1, cpu_ms = -1;
  while (std::fgets(line, sizeof(line), pipe)) {
    if (std::sscanf(line, "train_step_ms %lf", &ms) != 1 &&
        std::sscanf(line, "train_step_cpu_ms %lf", &cpu_ms) != 1) {
      std::fputs(line, stderr);
    }
  }
  if (pclose(pipe) != 0 || ms < 0) throw std::runtime_error("the child failed: " + cmd);
  std::printf(
      "%s train step, batch 128, %d thread(s): %.3f ms (%.0f samples/s), %.3f CPU ms per step\n",
      model.c_str(), threads, ms, 128 / ms * 1e3, cpu_ms);
  return ms;
}

struct StepFigures {
  double t1, t2;
  double best() const { return std::min(t1, t2); }
};

StepFigures TrainSteps(const std::string& model) {
  return {TrainStepInChild(model, 1), TrainStepInChild(model, 2)};
}

// ---- memory plan ----

struct PlanFigures {
  size_t planned, unshared;
};

PlanFigures ResNet50Plan() {
  const loom::Symbol net = loom::bench::ResNet50();
  const loom::ShapeDict shapes{{"data", {32, 3, 224, 224}}};
  const loom::MemoryPlanStats plan = loom::Executor::PlanMemory(net, shapes, {}, "write");
  loom::ExecutorOptions off;
  off.inplace = false;
  off.match_range = 0;
  const loom::MemoryPlanStats unshared = loom::Executor::PlanMemory(net, shapes, {}, "write", off);
  std::printf(
      "resnet-50 training plan, batch 32: %.1f MB planned (%zu chunks, %zu in place), %.1f MB "
      "with in-place and sharing off; arguments and gradients %.1f MB\n",
      plan.planned_bytes / 1048576.0, plan.num_storage, plan.num_inplace,
      unshared.planned_bytes / 1048576.0, plan.external_bytes / 1048576.0);
  return {plan.planned_bytes, unshared.planned_bytes};
}

}  // namespace

int main(int argc, char** argv) {
  std::string train_step;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      g_seconds = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--train-step") == 0 && i + 1 < argc) {
      train_step = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench_ops [--seconds S] [--train-step mlp|lenet]\n");
      return 2;
    }
  }
  if (!train_step.empty()) {
    const StepTime t = TrainStepMs(train_step);
    std::printf("train_step_ms %.6f\ntrain_step_cpu_ms %.6f\n", t.wall_ms, t.cpu_ms);
    return 0;
  }
  const FcFigures fc_t1 = BenchFc(1), fc_t2 = BenchFc(2);
  auto best_ratio = [](const Pair& a, const Pair& b) {
    return std::min(a.ref_s, b.ref_s) / std::min(a.loom_s, b.loom_s);
  };
  const Pair &fc1 = fc_t1.openblas, &fc2 = fc_t2.openblas;
  const double fc_best = best_ratio(fc1, fc2);
  const double fc_dnnl_best = best_ratio(fc_t1.dnnl, fc_t2.dnnl);

  const ConvConfig convs[] = {{"lenet1 128x1x28x28 k5", 128, 1, 28, 28, 20, 5, 0, true, false},
                              {"lenet2 128x20x12x12 k5", 128, 20, 12, 12, 50, 5, 0, true, true},
                              {"resnet 32x64x56x56 k3", 32, 64, 56, 56, 64, 3, 1, false, true}};
  // Totals over the three convolutions, per thread count.
  double conv_loom[2] = {0, 0}, conv_ref[2] = {0, 0};
  for (const ConvConfig& cfg : convs) {
    for (int t = 1; t <= 2; ++t) {
      const Pair r = BenchConv(cfg, t);
      conv_loom[t - 1] += r.loom_s;
      conv_ref[t - 1] += r.ref_s;
    }
  }
  const double conv_best =
      std::min(conv_ref[0], conv_ref[1]) / std::min(conv_loom[0], conv_loom[1]);
  const StepFigures mlp = TrainSteps("mlp"), lenet = TrainSteps("lenet");
  const PlanFigures plan = ResNet50Plan();
  std::printf(
      "{\"fc_fwd_bwd_vs_sgemm\": %.3f, \"fc_fwd_bwd_vs_sgemm_1t\": %.3f, "
      "\"fc_fwd_bwd_vs_sgemm_2t\": %.3f, \"fc_fwd_bwd_vs_dnnl_sgemm\": %.3f, "
      "\"fc_fwd_bwd_vs_dnnl_sgemm_1t\": %.3f, \"fc_fwd_bwd_vs_dnnl_sgemm_2t\": %.3f, "
      "\"conv_fwd_bwd_vs_reference\": %.3f, "
      "\"conv_fwd_bwd_vs_reference_1t\": %.3f, \"conv_fwd_bwd_vs_reference_2t\": %.3f, "
      "\"mlp_train_step_ms\": %.4f, \"mlp_train_step_ms_1t\": %.4f, "
      "\"mlp_train_step_ms_2t\": %.4f, \"lenet_train_step_ms\": %.3f, "
      "\"lenet_train_step_ms_1t\": %.3f, \"lenet_train_step_ms_2t\": %.3f, "
      "\"planned_training_bytes_resnet50_b32\": %zu, "
      "\"planned_training_bytes_resnet50_b32_unshared\": %zu, "
      "\"planned_training_ratio_resnet50_b32\": %.3f}\n",
      fc_best, fc1.ref_s / fc1.loom_s, fc2.ref_s / fc2.loom_s, fc_dnnl_best,
      fc_t1.dnnl.ref_s / fc_t1.dnnl.loom_s, fc_t2.dnnl.ref_s / fc_t2.dnnl.loom_s, conv_best,
      conv_ref[0] / conv_loom[0], conv_ref[1] / conv_loom[1], mlp.best(), mlp.t1, mlp.t2,
      lenet.best(), lenet.t1, lenet.t2, plan.planned, plan.unshared,
      static_cast<double>(plan.planned) / static_cast<double>(plan.unshared));
  return 0;
}
