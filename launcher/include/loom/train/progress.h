// Training progress on the console: a live bar on a terminal (tqdm's layout), a log line every N
// batches otherwise (detectron2's, with median-smoothed loss), and one summary line per epoch.
//
//   loom::train::Progress progress(std::cout, loom::train::ProgressMode::kBar, /*log_every=*/50,
//                                  /*num_epochs=*/10);
//   progress.BeginEpoch(/*epoch=*/0, /*num_batches=*/469, /*first_batch=*/0);
//   for (...) progress.Batch(stats);          // redraws at most 10 times a second
//   progress.EndEpoch(summary);
//
// Bar:   epoch 3/10  42%|████▏     | 420/1000 [00:12<00:17, 35.1 it/s, 4480 samples/s,
//        loss=0.412, acc=0.871, lr=0.1]
// Line:  epoch 3/10 iter 420/1000 eta 0:00:17 loss 0.4120 (median of 20) acc 0.8710 lr 0.1
//        samples/s 4480 time 0.028 data_time 0.0001
// Epoch: epoch 3/10 done in 12.3s (4480 samples/s): train loss 0.4120 accuracy 0.8710 |
//        val accuracy 0.8650
//
// The bar's times are the epoch's (elapsed and remaining); the line's eta is the whole run's
// (median batch time x batches left). Not thread-safe: drive one Progress from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace loom::train {

enum class ProgressMode { kBar, kLines, kNone };

/// logging.progress ("auto", "bar", "lines", "none"); auto is kBar on a terminal, else kLines.
/// @throws ConfigError naming logging.progress for another value.
ProgressMode ResolveProgressMode(const std::string& setting, bool is_tty);

/// One finished batch as the trainer measured it.
struct BatchStats {
  int64_t batch = 0;                                    ///< 0-based index in the epoch
  int64_t samples = 0;                                  ///< valid samples in the batch
  double loss = 0;                                      ///< the batch's mean loss (NaN: unknown)
  std::vector<std::pair<std::string, double>> metrics;  ///< running train metrics of the epoch
  double lr = 0;             ///< learning rate used for the batch's update
  double batch_seconds = 0;  ///< wall time of the whole batch step
  double data_seconds = 0;   ///< part of it spent waiting for the data iterator
};

/// One finished epoch.
struct EpochSummary {
  int64_t epoch = 0;              ///< 0-based
  double seconds = 0;             ///< validation included
  double samples_per_second = 0;  ///< training throughput
  double loss = 0;                ///< mean batch loss over the epoch (NaN: unknown)
  std::vector<std::pair<std::string, double>> train;
  std::vector<std::pair<std::string, double>> val;
};

/// Short name used on the bar and the lines: "acc" for accuracy, the name itself otherwise.
std::string ShortMetricName(const std::string& name);
/// "0:00:17" (h:mm:ss) as in detectron2's eta; "00:12" (mm:ss, or h:mm:ss past an hour) as tqdm.
std::string FormatEta(double seconds);
std::string FormatClock(double seconds);
/// The bar's text (no carriage return): `desc  42%|████▏     | 420/1000 [00:12<00:17, 35.1 it/s,
/// postfix]` with a 10-cell bar drawn in eighths.
std::string FormatBar(const std::string& desc, int64_t n, int64_t total, double elapsed,
                      double remaining, double it_per_s, const std::string& postfix);

class Progress {
 public:
  Progress(std::ostream& out, ProgressMode mode, int log_every, int64_t num_epochs);

  /// Starts epoch `epoch` (0-based) of num_batches; first_batch > 0 when resuming mid-epoch.
  void BeginEpoch(int64_t epoch, int64_t num_batches, int64_t first_batch);
  void Batch(const BatchStats& stats);
  /// Ends the bar's line and prints the summary (in every mode but kNone).
  void EndEpoch(const EpochSummary& summary);
  /// Ends an unfinished bar line (before an error or interruption message).
  void Interrupt();

  static constexpr int kWindow = 20;  ///< batches in the loss / time medians

 private:
  using Clock = std::chrono::steady_clock;
  std::string EpochLabel() const;
  void DrawBar(const BatchStats& stats, bool force);
  void PrintLine(const BatchStats& stats);

  std::ostream& out_;
  ProgressMode mode_;
  int log_every_;
  int64_t num_epochs_;
  int64_t epoch_ = 0;
  int64_t num_batches_ = 0;
  int64_t first_batch_ = 0;
  int64_t done_ = 0;     // batches finished in this epoch (including skipped ones)
  int64_t samples_ = 0;  // samples seen in this epoch since BeginEpoch
  Clock::time_point epoch_start_;
  Clock::time_point last_draw_;
  bool bar_open_ = false;
  std::deque<double> losses_;
  std::deque<double> times_;
  std::deque<double> data_times_;
};

}  // namespace loom::train
