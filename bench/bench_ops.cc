// bench_ops: Loom's CPU kernels against the libraries they are built on, measured in the same run.
//   fc_fwd_bwd_vs_sgemm        FullyConnected forward + backward (batch 128, 784 -> 1024): its FLOP
//                              rate over raw cblas_sgemm's on the same three GEMM shapes.
//   conv_fwd_bwd_vs_reference  LeNet's two convolutions and a ResNet 3x3 convolution, forward +
//                              backward (data and weights): time of the same work done by calling
//                              oneDNN directly (primitives made once, outside the timing) over
//                              Loom's kernels' time.
// Each is measured with 1 and 2 threads (Loom: KernelThreads and a oneTBB arena of that size;
// references: openblas_set_num_threads / omp_set_num_threads); the headline figure compares the
// best of each side. Usage: bench_ops [--seconds S] (time per measurement, default 0.5).
// Last line: one JSON object.
#include <cblas.h>
#include <omp.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "loom/core/kernel.h"
#include "operators/cpu/convolution.h"
#include "operators/cpu/fully_connected.h"
#include "operators/cpu/parallel.h"

namespace {

using Clock = std::chrono::steady_clock;

double g_seconds = 0.5;

// Median seconds per call of fn, over batches lasting about g_seconds in all.
double TimePerCall(const std::function<void()>& fn) {
  fn();  // warm up: caches, primitive creation, page faults
  const auto t0 = Clock::now();
  fn();
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const int per_sample = std::max(1, static_cast<int>(g_seconds / 9 / std::max(once, 1e-7)));
  std::vector<double> samples;
  for (int s = 0; s < 9; ++s) {
    const auto a = Clock::now();
    for (int i = 0; i < per_sample; ++i) fn();
    samples.push_back(std::chrono::duration<double>(Clock::now() - a).count() / per_sample);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
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

// Runs fn with `threads` threads available to Loom's kernels.
template <typename F>
auto WithLoomThreads(int threads, F&& fn) {
  loom::cpu::SetKernelThreads(threads);
  tbb::task_arena arena(threads);
  return arena.execute(fn);
}

struct Pair {
  double loom_s;
  double ref_s;
};

// FullyConnected forward + backward vs cblas_sgemm on the same GEMMs.
Pair BenchFc(int threads) {
  const int m = 128, k = 784, n = 1024;
  auto x = Random(m * k, 1), w = Random(n * k, 2), b = Random(n, 3), dy = Random(m * n, 4);
  std::vector<float> y(m * n), dx(m * k), dw(n * k), db(n);
  openblas_set_num_threads(threads);
  const double ref = TimePerCall([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.f, x.data(), k, w.data(), k,
                0.f, y.data(), n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k, n, 1.f, dy.data(), n, w.data(), k,
                0.f, dx.data(), k);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, k, m, 1.f, dy.data(), n, x.data(), k,
                0.f, dw.data(), k);
  });
  openblas_set_num_threads(1);
  const loom::cpu::FullyConnectedParams p{.num_hidden = n};
  const double ours = WithLoomThreads(threads, [&] {
    loom::TensorView bias = View(b, {n}), bias_grad = View(db, {n});
    return TimePerCall([&] {
      loom::cpu::FullyConnectedForward(p, View(x, {m, k}), View(w, {n, k}), &bias, View(y, {m, n}),
                                       loom::OpReq::kWriteTo);
      loom::cpu::FullyConnectedBackward(p, View(dy, {m, n}), View(x, {m, k}), View(w, {n, k}),
                                        View(dx, {m, k}), loom::OpReq::kWriteTo, View(dw, {n, k}),
                                        loom::OpReq::kWriteTo, &bias_grad, loom::OpReq::kWriteTo);
    });
  });
  const double gflop = 3.0 * 2 * m * n * k / 1e9;
  std::printf(
      "fc %d thread(s): loom %.3f ms (%.1f GFLOP/s), sgemm %.3f ms (%.1f GFLOP/s), "
      "ratio %.3f\n",
      threads, ours * 1e3, gflop / ours, ref * 1e3, gflop / ref, ref / ours);
  return {ours, ref};
}

// One 2-D convolution (NCHW, stride 1, square kernel) for the conv benchmark.
struct ConvConfig {
  const char* name;
  int n, c, h, w, o, k, pad;
  bool bias;
  int OutH() const { return h + 2 * pad - k + 1; }
  int OutW() const { return w + 2 * pad - k + 1; }
  double Gflop() const {  // forward, backward data and backward weights: 3 x 2 MACs each
    return 3.0 * 2 * n * o * c * k * k * OutH() * OutW() / 1e9;
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
    In(w_, bd_w_);
    bwd_data_.execute(
        stream_,
        {{DNNL_ARG_DIFF_DST, bd_dy_}, {DNNL_ARG_WEIGHTS, bd_w_}, {DNNL_ARG_DIFF_SRC, bd_dx_}});
    Out(bd_dx_, dx_);
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
  omp_set_num_threads(threads);
  DirectOneDnnConv direct(cfg, x.data(), w.data(), b.data(), y.data(), dy.data(), dx.data(),
                          dw.data(), db.data());
  const double ref = TimePerCall([&] { direct.Run(); });
  loom::cpu::ConvolutionParams p;
  p.kernel = {cfg.k, cfg.k};
  p.pad = {cfg.pad, cfg.pad};
  p.num_filter = cfg.o;
  p.no_bias = !cfg.bias;
  const loom::Shape x_shape{cfg.n, cfg.c, cfg.h, cfg.w},
      y_shape{cfg.n, cfg.o, cfg.OutH(), cfg.OutW()}, w_shape{cfg.o, cfg.c, cfg.k, cfg.k};
  const double ours = WithLoomThreads(threads, [&] {
    loom::TensorView bias = View(b, {cfg.o}), bias_grad = View(db, {cfg.o});
    return TimePerCall([&] {
      loom::cpu::ConvolutionForward(p, View(x, x_shape), View(w, w_shape), &bias, View(y, y_shape),
                                    loom::OpReq::kWriteTo);
      loom::cpu::ConvolutionBackward(p, View(dy, y_shape), View(x, x_shape), View(w, w_shape),
                                     View(dx, x_shape), loom::OpReq::kWriteTo, View(dw, w_shape),
                                     loom::OpReq::kWriteTo, &bias_grad, loom::OpReq::kWriteTo);
    });
  });
  std::printf(
      "conv %-22s %d thread(s): loom %.3f ms (%.1f GFLOP/s), direct oneDNN %.3f ms "
      "(%.1f GFLOP/s), ratio %.3f\n",
      cfg.name, threads, ours * 1e3, cfg.Gflop() / ours, ref * 1e3, cfg.Gflop() / ref, ref / ours);
  return {ours, ref};
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      g_seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_ops [--seconds S]\n");
      return 2;
    }
  }
  const Pair fc1 = BenchFc(1), fc2 = BenchFc(2);
  const double fc_best = std::min(fc1.ref_s, fc2.ref_s) / std::min(fc1.loom_s, fc2.loom_s);

  const ConvConfig convs[] = {{"lenet1 128x1x28x28 k5", 128, 1, 28, 28, 20, 5, 0, true},
                              {"lenet2 128x20x12x12 k5", 128, 20, 12, 12, 50, 5, 0, true},
                              {"resnet 32x64x56x56 k3", 32, 64, 56, 56, 64, 3, 1, false}};
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
  std::printf(
      "{\"fc_fwd_bwd_vs_sgemm\": %.3f, \"fc_fwd_bwd_vs_sgemm_1t\": %.3f, "
      "\"fc_fwd_bwd_vs_sgemm_2t\": %.3f, \"conv_fwd_bwd_vs_reference\": %.3f, "
      "\"conv_fwd_bwd_vs_reference_1t\": %.3f, \"conv_fwd_bwd_vs_reference_2t\": %.3f}\n",
      fc_best, fc1.ref_s / fc1.loom_s, fc2.ref_s / fc2.loom_s, conv_best,
      conv_ref[0] / conv_loom[0], conv_ref[1] / conv_loom[1]);
  return 0;
}
