// The model-parallel LSTM example's configuration (configs/lstm_model_parallel.yaml): the corpus,
// the model, the training loop and the placement of the layers on devices.
//
//   loom::lm::LmConfig cfg = loom::lm::LoadLmConfig("configs/lstm_model_parallel.yaml",
//                                                   {"train.epochs=1", "group2ctx.layer1=cpu(0)"});
//   loom::ContextMap group2ctx = cfg.Group2Ctx();   // {"decode": cpu(1), "embed": cpu(0), ...}
//
// Every key is optional (defaults below); unknown keys, wrong types, out-of-range values, unknown
// groups and malformed devices throw loom::ConfigError naming the key path, what was expected and
// where the value came from ("(configs/x.yaml:12:9)" or "(override 'train.lr=x')").
// docs/model_parallel_lstm.md lists the keys. Functions are reentrant; no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loom/core/executor.h"

namespace loom::lm {

struct LmConfig {
  // corpus
  std::vector<std::string> files = {"/usr/share/games/fortunes/fortunes",
                                    "/usr/share/games/fortunes/literature",
                                    "/usr/share/games/fortunes/riddles"};
  int val_every = 10;  ///< every val_every-th fortune goes to validation
  int min_count = 2;   ///< rarer training words become <unk>
  std::vector<int64_t> buckets = {8, 16, 24, 32};
  // model
  int64_t num_embed = 200;
  int64_t num_hidden = 200;
  int num_layers = 2;
  double dropout = 0.5;
  double forget_bias = 1.0;
  // train
  int64_t batch_size = 20;
  int epochs = 15;
  double lr = 0.5;
  double momentum = 0;
  double wd = 0;
  double clip = 5.0;             ///< global L2 norm of the per-sentence gradient; <= 0: no clipping
  double init_scale = 0.1;       ///< weights drawn from U(-init_scale, init_scale)
  double min_improvement = 1.0;  ///< halve lr when validation perplexity improves by less
  uint64_t seed = 0;
  int64_t max_batches_per_epoch = 0;  ///< 0: all
  int64_t log_every = 0;              ///< progress line every N batches; 0: none
  // placement
  std::string context = "cpu(0)";                ///< the bind context
  std::map<std::string, std::string> group2ctx;  ///< group -> device text

  /// The model's ctx_group names: embed, layer0 .. layer<num_layers-1>, decode.
  std::vector<std::string> Groups() const;
  /// group2ctx parsed; empty when group2ctx is empty (everything on context).
  ContextMap Group2Ctx() const;
  Context BindContext() const;
};

/// Reads a YAML file, applies "a.b=value" overrides (values parsed as YAML) and validates.
/// @throws loom::ConfigError (see the file comment); loom::IoError when the file cannot be read.
LmConfig LoadLmConfig(const std::string& path, const std::vector<std::string>& overrides = {});

/// Parses YAML text; `file_name` names it in error messages.
LmConfig ParseLmConfig(const std::string& yaml_text, const std::string& file_name,
                       const std::vector<std::string>& overrides = {});

}  // namespace loom::lm
