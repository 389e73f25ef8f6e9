// Model parallelism on CPU devices: the training step (forward, backward, clipping, SGD update) of
// a 4-layer unrolled LSTM language model on one device against the same model split over two
// devices by ctx_group (embed and layers 0-1 on cpu(0), layers 2-3 and the decoder on cpu(1)),
// with one engine worker per device and single-threaded kernels. The two halves overlap along the
// unrolled graph's wavefront: cpu(1) runs step t of layer 2 while cpu(0) runs step t+1 of layer 1.
//
// Usage: bench_model_parallel [--hidden H] [--batch B] [--seq-len T] [--vocab V] [--steps K]
//                             [--repeats R]
// Each repeat times K steps on one device, then K steps on two; the figures are medians over the
// repeats. Last line: one JSON object (speedup_2dev = step time on one device / on two).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "lm_model.h"
#include "loom/scheduler/engine.h"
#include "loom/scheduler/env.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int64_t hidden = 512;
  int64_t batch = 32;
  int64_t seq_len = 32;
  int64_t vocab = 2000;
  int steps = 3;
  int repeats = 5;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + flag);
    const long v = std::stol(argv[++i]);
    if (v <= 0) throw std::runtime_error(flag + " needs a positive value");
    if (flag == "--hidden") {
      a.hidden = v;
    } else if (flag == "--batch") {
      a.batch = v;
    } else if (flag == "--seq-len") {
      a.seq_len = v;
    } else if (flag == "--vocab") {
      a.vocab = v;
    } else if (flag == "--steps") {
      a.steps = static_cast<int>(v);
    } else if (flag == "--repeats") {
      a.repeats = static_cast<int>(v);
    } else {
      throw std::runtime_error("unknown flag " + flag +
                               " (expected --hidden, --batch, --seq-len, --vocab, --steps, "
                               "--repeats)");
    }
  }
  return a;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Seconds per training step over `steps` steps, everything finished.
double TimeSteps(loom::lm::LmTrainer& lm, const std::vector<loom::lm::Batch>& batches) {
  loom::Engine::Get().WaitForAll();
  const Clock::time_point start = Clock::now();
  for (const loom::lm::Batch& b : batches) lm.TrainBatch(b);
  loom::Engine::Get().WaitForAll();
  return std::chrono::duration<double>(Clock::now() - start).count() /
         static_cast<double>(batches.size());
}

int Run(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  // One worker per device and single-threaded kernels, before the engine starts.
  setenv(loom::env::kCpuWorkerThreads, "1", 1);
  setenv(loom::env::kKernelThreads, "1", 1);

  const int layers = 4;
  const loom::lm::LmSpec spec{
      .vocab_size = a.vocab, .num_embed = a.hidden, .num_hidden = a.hidden, .num_layers = layers};
  loom::lm::LmTrainer::Options one_opt;
  one_opt.batch_size = a.batch;
  one_opt.buckets = {a.seq_len};
  one_opt.lr = 0.01;
  loom::lm::LmTrainer::Options two_opt = one_opt;
  const loom::Context cpu0 = loom::Context::CPU(0), cpu1 = loom::Context::CPU(1);
  two_opt.group2ctx = {{"embed", cpu0},  {"layer0", cpu0}, {"layer1", cpu0},
                       {"layer2", cpu1}, {"layer3", cpu1}, {"decode", cpu1}};
  loom::lm::LmTrainer one(spec, one_opt);
  loom::lm::LmTrainer two(spec, two_opt);
  one.InitParams(0.1, 0);
  two.InitParams(0.1, 0);

  // Full-length random sentences (no padding): every step does the whole bucket's work.
  std::mt19937_64 rng(1);
  std::vector<std::vector<int>> sentences;
  for (int64_t s = 0; s < a.batch * a.steps; ++s) {
    std::vector<int> ids(static_cast<size_t>(a.seq_len));
    for (int& id : ids)
      id = std::uniform_int_distribution<int>(3, static_cast<int>(a.vocab) - 1)(rng);
    sentences.push_back(ids);
  }
  const std::vector<loom::lm::Batch> batches =
      loom::lm::MakeBatches(sentences, {a.seq_len}, a.batch, nullptr).batches;

  std::printf(
      "4-layer LSTM LM: hidden %lld, batch %lld, seq_len %lld, vocab %lld; engine: %d "
      "worker(s) per device, kernel threads %s\n",
      static_cast<long long>(a.hidden), static_cast<long long>(a.batch),
      static_cast<long long>(a.seq_len), static_cast<long long>(a.vocab),
      loom::Engine::Get().cpu_worker_threads(), std::getenv(loom::env::kKernelThreads));
  // Warm-up: the first steps allocate the optimizer's state and the memory pools.
  TimeSteps(one, {batches.front()});
  TimeSteps(two, {batches.front()});

  std::vector<double> t1, t2;
  for (int r = 0; r < a.repeats; ++r) {
    t1.push_back(TimeSteps(one, batches));
    t2.push_back(TimeSteps(two, batches));
    std::printf("repeat %d: 1 device %.1f ms/step, 2 devices %.1f ms/step (%.2fx)\n", r,
                t1.back() * 1e3, t2.back() * 1e3, t1.back() / t2.back());
    std::fflush(stdout);
  }
  const double m1 = Median(t1), m2 = Median(t2);
  const int64_t copy_bytes = two.CopyBytes(a.seq_len);
  std::printf("median: 1 device %.1f ms/step, 2 devices %.1f ms/step; copies %lld bytes/step\n",
              m1 * 1e3, m2 * 1e3, static_cast<long long>(copy_bytes));
  std::printf(
      "{\"bench\": \"model_parallel\", \"speedup_2dev\": %.3f, \"step_ms_1dev\": %.2f, "
      "\"step_ms_2dev\": %.2f, \"step_ms_1dev_min\": %.2f, \"step_ms_2dev_min\": %.2f, "
      "\"copy_bytes_per_step\": %lld, \"repeats\": %d, \"steps_per_repeat\": %d, \"layers\": %d, "
      "\"hidden\": %lld, \"batch\": %lld, \"seq_len\": %lld, \"vocab\": %lld, "
      "\"workers_per_device\": %d}\n",
      m1 / m2, m1 * 1e3, m2 * 1e3, *std::min_element(t1.begin(), t1.end()) * 1e3,
      *std::min_element(t2.begin(), t2.end()) * 1e3, static_cast<long long>(copy_bytes), a.repeats,
      a.steps, layers, static_cast<long long>(a.hidden), static_cast<long long>(a.batch),
      static_cast<long long>(a.seq_len), static_cast<long long>(a.vocab),
      loom::Engine::Get().cpu_worker_threads());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model_parallel: %s\n", e.what());
    return 1;
  }
}
