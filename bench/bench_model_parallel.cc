// Model parallelism on CPU devices: the training step (forward, backward, clipping, SGD update) of
// a 4-layer unrolled LSTM language model on one device against the same model split over two
// devices by ctx_group (embed and layers 0-1 on cpu(0), layers 2-3 and the decoder on cpu(1)),
// with one engine worker per device and single-threaded kernels. The two halves overlap along the
// unrolled graph's wavefront: cpu(1) runs step t of layer 2 while cpu(0) runs step t+1 of layer 1.
//
// Usage: bench_model_parallel [--hidden H] [--batch B] [--seq-len T] [--vocab V] [--steps K]
//                             [--repeats R]
// Each repeat times K steps on one device, then K steps on two; the figures are medians over the
// repeats. Last line: one JSON object (speedup_2dev = step time on one device / on two). On a
// machine shared with other sessions, Linux gives each session about one core whatever its thread
// count; docs/model_parallel_lstm.md shows how the figures were taken there.
#include <sys/resource.h>

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
  int bulk_size = 15;
  int match_range = 0;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + flag);
    const long v = std::stol(argv[++i]);
    if (v < 0 || (v == 0 && flag != "--match-range")) {
      throw std::runtime_error(flag + " needs a positive value");
    }
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
    } else if (flag == "--bulk-size") {
      a.bulk_size = static_cast<int>(v);
    } else if (flag == "--match-range") {
      a.match_range = static_cast<int>(v);
    } else {
      throw std::runtime_error("unknown flag " + flag +
                               " (expected --hidden, --batch, --seq-len, --vocab, --steps, "
                               "--repeats, --bulk-size, --match-range)");
    }
  }
  return a;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// This process's user + system CPU seconds so far.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

struct Timing {
  double wall = 0;  ///< seconds per step
  double cpu = 0;   ///< CPU seconds per step (cpu / wall: the cores the run had)
};

// Per training step over the batches, everything finished.
Timing TimeSteps(loom::lm::LmTrainer& lm, const std::vector<loom::lm::Batch>& batches) {
  loom::Engine::Get().WaitForAll();
  const double cpu0 = CpuSeconds();
  const Clock::time_point start = Clock::now();
  for (const loom::lm::Batch& b : batches) lm.TrainBatch(b);
  loom::Engine::Get().WaitForAll();
  const auto n = static_cast<double>(batches.size());
  return {std::chrono::duration<double>(Clock::now() - start).count() / n,
          (CpuSeconds() - cpu0) / n};
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
  one_opt.exec.bulk_size = a.bulk_size;
  one_opt.exec.match_range = a.match_range;
  loom::lm::LmTrainer::Options two_opt = one_opt;
  const loom::Context cpu0 = loom::Context::CPU(0), cpu1 = loom::Context::CPU(1);
  two_opt.group2ctx = {{"embed", cpu0},  {"layer0", cpu0}, {"layer1", cpu0},
                       {"layer2", cpu1}, {"layer3", cpu1}, {"decode", cpu1}};
  loom::lm::LmTrainer one(spec, one_opt);
  loom::lm::LmTrainer two(spec, two_opt);
  for (auto* lm : {&one, &two}) {
    const loom::MemoryPlanStats m = lm->executor(a.seq_len).memory_plan();
    std::printf("%s: planned %.0f MB (%.0f MB without planning), %zu in-place entries\n",
                lm == &one ? "1 device" : "2 devices", m.planned_bytes / 1e6,
                m.unplanned_bytes / 1e6, m.num_inplace);
  }
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

  std::vector<double> t1, t2, c1, c2;
  for (int r = 0; r < a.repeats; ++r) {
    const Timing x = TimeSteps(one, batches);
    const Timing y = TimeSteps(two, batches);
    t1.push_back(x.wall);
    t2.push_back(y.wall);
    c1.push_back(x.cpu);
    c2.push_back(y.cpu);
    std::printf(
        "repeat %d: 1 device %.1f ms/step (%.2f cores busy), 2 devices %.1f ms/step "
        "(%.2f cores busy): %.2fx\n",
        r, x.wall * 1e3, x.cpu / x.wall, y.wall * 1e3, y.cpu / y.wall, x.wall / y.wall);
    std::fflush(stdout);
  }
  const double m1 = Median(t1), m2 = Median(t2);
  double load[1] = {0};
  getloadavg(load, 1);
  const int64_t copy_bytes = two.CopyBytes(a.seq_len);
  std::printf("median: 1 device %.1f ms/step, 2 devices %.1f ms/step; copies %lld bytes/step\n",
              m1 * 1e3, m2 * 1e3, static_cast<long long>(copy_bytes));
  std::printf(
      "{\"bench\": \"model_parallel\", \"speedup_2dev\": %.3f, \"step_ms_1dev\": %.2f, "
      "\"step_ms_2dev\": %.2f, \"step_ms_1dev_min\": %.2f, \"step_ms_2dev_min\": %.2f, "
      "\"cpu_ms_per_step_1dev\": %.2f, \"cpu_ms_per_step_2dev\": %.2f, "
      "\"copy_bytes_per_step\": %lld, \"repeats\": %d, \"steps_per_repeat\": %d, \"layers\": %d, "
      "\"hidden\": %lld, \"batch\": %lld, \"seq_len\": %lld, \"vocab\": %lld, "
      "\"workers_per_device\": %d, \"load_avg\": %.2f}\n",
      m1 / m2, m1 * 1e3, m2 * 1e3, *std::min_element(t1.begin(), t1.end()) * 1e3,
      *std::min_element(t2.begin(), t2.end()) * 1e3, Median(c1) * 1e3, Median(c2) * 1e3,
      static_cast<long long>(copy_bytes), a.repeats, a.steps, layers,
      static_cast<long long>(a.hidden), static_cast<long long>(a.batch),
      static_cast<long long>(a.seq_len), static_cast<long long>(a.vocab),
      loom::Engine::Get().cpu_worker_threads(), load[0]);
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
