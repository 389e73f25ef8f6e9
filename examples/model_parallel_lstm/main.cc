// MXNet's model-parallel LSTM example on Loom: a word-level LSTM language model on Debian's fortune
// files, its layers spread over devices by ctx_group, trained with bucketing, grad_req add,
// global-norm clipping and SGD, the learning rate halved when validation perplexity stalls.
//
//   ./build/examples/model_parallel_lstm configs/lstm_model_parallel.yaml [key.path=value ...]
//   ./build/examples/model_parallel_lstm configs/lstm_model_parallel.yaml train.epochs=1
//   ./build/examples/model_parallel_lstm configs/lstm_model_parallel.yaml group2ctx={}
//
// docs/model_parallel_lstm.md describes the config keys and the figures.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "corpus.h"
#include "lm_config.h"
#include "lm_model.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double MeanNll(const loom::lm::StepStats& s) {
  return s.tokens > 0 ? s.nll / static_cast<double>(s.tokens) : 0.0;
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CONFIG.yaml [key.path=value ...]\n", argv[0]);
    return 2;
  }
  const std::vector<std::string> overrides(argv + 2, argv + argc);
  const loom::lm::LmConfig cfg = loom::lm::LoadLmConfig(argv[1], overrides);

  // Data: sentences split by fortune, the vocabulary from the training part.
  const auto fortunes = loom::lm::ReadFortunes(cfg.files);
  const loom::lm::Split split = loom::lm::SplitFortunes(fortunes, cfg.val_every);
  const loom::lm::Vocab vocab = loom::lm::Vocab::Build(split.train, cfg.min_count);
  const auto train = loom::lm::Encode(split.train, vocab);
  const auto val = loom::lm::Encode(split.val, vocab);
  int64_t train_tokens = 0;
  for (const auto& s : train) train_tokens += static_cast<int64_t>(s.size());
  std::printf(
      "corpus: %zu fortunes in %zu files; %zu training sentences (%lld tokens), %zu "
      "validation sentences; vocabulary %lld words (min_count %d)\n",
      fortunes.size(), cfg.files.size(), train.size(), static_cast<long long>(train_tokens),
      val.size(), static_cast<long long>(vocab.size()), cfg.min_count);

  loom::lm::LmSpec spec{.vocab_size = vocab.size(),
                        .num_embed = cfg.num_embed,
                        .num_hidden = cfg.num_hidden,
                        .num_layers = cfg.num_layers,
                        .dropout = cfg.dropout,
                        .forget_bias = cfg.forget_bias};
  loom::lm::LmTrainer::Options opt;
  opt.batch_size = cfg.batch_size;
  opt.buckets = cfg.buckets;
  opt.ctx = cfg.BindContext();
  opt.group2ctx = cfg.Group2Ctx();
  opt.lr = cfg.lr;
  opt.momentum = cfg.momentum;
  opt.wd = cfg.wd;
  opt.clip = cfg.clip;
  opt.exec.seed = cfg.seed;
  // Across devices, buffers shared by the memory plan order work that is otherwise independent
  // (a node reusing a buffer waits for the buffer's earlier users), which holds the first layers'
  // backward until the last layers' is done; without sharing the devices overlap in both passes
  // (docs/model_parallel_lstm.md).
  std::set<loom::Context> devices;
  for (const auto& [group, ctx] : opt.group2ctx) devices.insert(ctx);
  if (devices.size() > 1) opt.exec.match_range = 0;
  loom::lm::LmTrainer lm(spec, opt);
  lm.InitParams(cfg.init_scale, cfg.seed);
  for (const std::string& line : lm.PlacementLines()) std::printf("%s\n", line.c_str());

  std::mt19937_64 rng(cfg.seed);
  const loom::lm::BatchPlan val_plan =
      loom::lm::MakeBatches(val, cfg.buckets, cfg.batch_size, nullptr);
  auto limited = [&](const loom::lm::BatchPlan& plan) {
    const auto n = static_cast<int64_t>(plan.batches.size());
    return cfg.max_batches_per_epoch > 0 ? std::min(n, cfg.max_batches_per_epoch) : n;
  };
  double last_perp = INFINITY;
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    const loom::lm::BatchPlan plan =
        loom::lm::MakeBatches(train, cfg.buckets, cfg.batch_size, &rng);
    if (epoch == 0 && (plan.discarded > 0 || val_plan.discarded > 0)) {
      std::printf("left out %lld training and %lld validation sentences longer than %lld tokens\n",
                  static_cast<long long>(plan.discarded),
                  static_cast<long long>(val_plan.discarded),
                  static_cast<long long>(cfg.buckets.back()));
    }
    const Clock::time_point start = Clock::now();
    loom::lm::StepStats total;
    const int64_t num_batches = limited(plan);
    for (int64_t i = 0; i < num_batches; ++i) {
      total += lm.TrainBatch(plan.batches[static_cast<size_t>(i)]);
      if (cfg.log_every > 0 && (i + 1) % cfg.log_every == 0) {
        std::printf("Epoch [%d] Batch [%lld/%lld] Train: NLL=%.3f, Perp=%.3f\n", epoch,
                    static_cast<long long>(i + 1), static_cast<long long>(num_batches),
                    MeanNll(total), std::exp(MeanNll(total)));
        std::fflush(stdout);
      }
    }
    std::printf("Iter [%d] Train: Time: %.3f sec, NLL=%.3f, Perp=%.3f\n", epoch, Seconds(start),
                MeanNll(total), std::exp(MeanNll(total)));

    loom::lm::StepStats val_total;
    const int64_t num_val = limited(val_plan);
    for (int64_t i = 0; i < num_val; ++i) {
      val_total += lm.Evaluate(val_plan.batches[static_cast<size_t>(i)]);
    }
    const double perp = std::exp(MeanNll(val_total));
    std::printf("Iter [%d] Val: NLL=%.3f, Perp=%.3f\n", epoch, MeanNll(val_total), perp);
    if (last_perp - perp < cfg.min_improvement) {
      lm.SetLearningRate(lm.learning_rate() / 2);
      std::printf("Reset learning rate to %g\n", lm.learning_rate());
    }
    last_perp = perp;
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "model_parallel_lstm: %s\n", e.what());
    return 1;
  }
}
