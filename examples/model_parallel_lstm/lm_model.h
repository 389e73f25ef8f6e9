// The model-parallel LSTM language model: the unrolled symbol per bucket (embedding, N LSTM
// layers from loom::rnn::LSTMCell, a decoder per step) with each part in its ctx_group, parameter
// and gradient arrays on their groups' devices shared by one executor per bucket, and the training
// step of MXNet's example (grad_req add, global-norm clipping, SGD, gradients zeroed after each
// update).
//
//   loom::lm::LmSpec spec{.vocab_size = 2000, .num_embed = 200, .num_hidden = 200,
//                         .num_layers = 2};
//   loom::lm::LmTrainer::Options opt;                 // batch 20, buckets 8, 16, 24, 32, ...
//   opt.group2ctx = {{"embed", loom::Context::CPU(0)}, {"layer0", loom::Context::CPU(0)},
//                    {"layer1", loom::Context::CPU(1)}, {"decode", loom::Context::CPU(1)}};
//   loom::lm::LmTrainer lm(spec, opt);                 // binds one executor per bucket
//   lm.InitParams(/*init_scale=*/0.1, /*seed=*/0);
//   for (const loom::lm::Batch& b : plan.batches) {
//     loom::lm::StepStats s = lm.TrainBatch(b);          // s.nll / s.tokens: mean NLL per token
//   }
//
// Groups: `embed` (embed_weight, the Embedding and the split into steps), `layer<i>` (the cell's
// l<i>_i2h/h2h weights and biases, its zero begin states, the dropout on its input for i > 0 and
// every step's gates), `decode` (cls_weight, cls_bias, the label split, dropout, per step the
// FullyConnected t<k>_cls and SoftmaxOutput t<k>_sm). Inputs: `data` and `softmax_label`, both
// (seq_len, batch) time-major ids; padding (label 0) is ignored by the loss. Outputs: t<k>_sm
// (batch, vocab) probabilities, one per step.
//
// Gradients are summed over the batch by the loss and divided by batch_size in the update (the
// optimizer's rescale_grad); clipping bounds the norm of that per-sentence gradient by `clip`
// (MXNet's loop: grad /= batch_size, clip to max_grad_norm, update, grad[:] = 0).
//
// Thread safety: an LmTrainer is driven by one thread; its work runs on the engine.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "corpus.h"
#include "loom/core/executor.h"
#include "loom/train/optimizer.h"

namespace loom::lm {

struct LmSpec {
  int64_t vocab_size = 0;
  int64_t num_embed = 0;
  int64_t num_hidden = 0;
  int num_layers = 1;
  double dropout = 0;
  double forget_bias = 1.0;
};

/// The ctx_group names of a model with num_layers layers: embed, layer0 .., decode.
std::vector<std::string> LmGroups(int num_layers);

/// The language model unrolled over seq_len steps (see the file comment).
Symbol BuildLmSymbol(const LmSpec& spec, int64_t seq_len);

/// One parameter: its name, ctx_group, arrays (on the group's device) and attributes.
struct LmParam {
  std::string name;
  std::string group;
  NDArray weight;
  NDArray grad;
  std::map<std::string, std::string> attrs;
};

/// Sums over the non-padding labels of a batch: -log p(label), and how many labels.
struct StepStats {
  double nll = 0;
  int64_t tokens = 0;
  StepStats& operator+=(const StepStats& o) {
    nll += o.nll;
    tokens += o.tokens;
    return *this;
  }
};

class LmTrainer {
 public:
  struct Options {
    int64_t batch_size = 20;
    std::vector<int64_t> buckets = {8, 16, 24, 32};
    Context ctx = Context::CPU();  ///< bind context: the device of groups group2ctx leaves out
    ContextMap group2ctx;          ///< empty: everything on ctx
    double lr = 0.1;
    double momentum = 0;
    double wd = 0;
    double clip = 5.0;  ///< <= 0: no clipping
    ExecutorOptions exec;
  };

  /// Binds one executor per bucket. @throws loom::Error for a group2ctx naming an unknown group
  /// or leaving one out, or from binding; NotSupportedError for GPU devices (the loop's clipping
  /// and output reading are CPU-only so far).
  LmTrainer(const LmSpec& spec, const Options& options);
  ~LmTrainer();
  LmTrainer(const LmTrainer&) = delete;
  LmTrainer& operator=(const LmTrainer&) = delete;

  /// Weights from U(-init_scale, init_scale) (MXNet's example's Uniform(0.1)) in parameter
  /// order, biases zero, the LSTM i2h biases' forget gate at forget_bias (MXNet's LSTMBias).
  void InitParams(double init_scale, uint64_t seed);

  /// Parameters in list_arguments() order.
  const std::vector<LmParam>& params() const { return params_; }
  /// One line per parameter, "<name> group=<group>, ctx=<device>" (MXNet's example's print).
  std::vector<std::string> PlacementLines() const;

  /// Forward (training mode) and backward of one batch; gradients are added to the gradient
  /// arrays. Returns the batch's NLL sums.
  StepStats ForwardBackward(const Batch& batch);
  /// Clips, updates every parameter and zeroes the gradients.
  void Update();
  /// ForwardBackward then Update.
  StepStats TrainBatch(const Batch& batch);
  /// Forward in inference mode (no dropout); returns the NLL sums.
  StepStats Evaluate(const Batch& batch);

  double learning_rate() const { return lr_; }
  /// Changes the learning rate, keeping the optimizer's state and update count.
  void SetLearningRate(double lr);

  /// The executor of the bucket of length seq_len. @throws loom::Error for other lengths.
  Executor& executor(int64_t seq_len);
  /// Bytes moved between devices by one forward and backward pass of the bucket of length
  /// seq_len (the _CrossDeviceCopy nodes' outputs).
  int64_t CopyBytes(int64_t seq_len);

 private:
  StepStats Run(const Batch& batch, bool is_train);
  std::unique_ptr<train::Optimizer> MakeOptimizer(double lr) const;

  LmSpec spec_;
  Options options_;
  double lr_;
  std::vector<LmParam> params_;
  std::map<int64_t, Executor> executors_;
  std::unique_ptr<train::Optimizer> optimizer_;
};

}  // namespace loom::lm
