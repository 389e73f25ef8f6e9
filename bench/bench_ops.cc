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
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "loom/core/kernel.h"
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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k, n, 1.f, dy.data(), n, w.data(),
                k, 0.f, dx.data(), k);
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
  std::printf("fc %d thread(s): loom %.3f ms (%.1f GFLOP/s), sgemm %.3f ms (%.1f GFLOP/s), "
              "ratio %.3f\n",
              threads, ours * 1e3, gflop / ours, ref * 1e3, gflop / ref, ref / ours);
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
  const double fc_best =
      std::min(fc1.ref_s, fc2.ref_s) / std::min(fc1.loom_s, fc2.loom_s);
  std::printf(
      "{\"fc_fwd_bwd_vs_sgemm\": %.3f, \"fc_fwd_bwd_vs_sgemm_1t\": %.3f, "
      "\"fc_fwd_bwd_vs_sgemm_2t\": %.3f}\n",
      fc_best, fc1.ref_s / fc1.loom_s, fc2.ref_s / fc2.loom_s);
  return 0;
}
