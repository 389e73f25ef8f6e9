// The console progress of a training run: tqdm-style bar, detectron2-style lines, epoch summaries.
#include "loom/train/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

double Median(const std::deque<double>& values) {
  if (values.empty()) return std::nan("");
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void Push(std::deque<double>* window, double value) {
  window->push_back(value);
  if (window->size() > static_cast<size_t>(Progress::kWindow)) window->pop_front();
}

// printf into a std::string.
template <typename... Args>
std::string Format(const char* format, Args... args) {
  char buf[128];
  std::snprintf(buf, sizeof(buf), format, args...);
  return buf;
}

// A number with `digits` significant digits, as %g writes it ("0.1", "0.0005", "4480").
std::string Short(double value, int digits) { return Format("%.*g", digits, value); }

}  // namespace

ProgressMode ResolveProgressMode(const std::string& setting, bool is_tty) {
  if (setting == "auto") return is_tty ? ProgressMode::kBar : ProgressMode::kLines;
  if (setting == "bar") return ProgressMode::kBar;
  if (setting == "lines") return ProgressMode::kLines;
  if (setting == "none") return ProgressMode::kNone;
  throw ConfigError("logging.progress: expected one of auto, bar, lines, none but got '" + setting +
                    "'");
}

std::string ShortMetricName(const std::string& name) { return name == "accuracy" ? "acc" : name; }

std::string FormatEta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  return Format("%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
}

std::string FormatClock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return FormatEta(seconds);
  return Format("%02lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
}

std::string FormatBar(const std::string& desc, int64_t n, int64_t total, double elapsed,
                      double remaining, double it_per_s, const std::string& postfix) {
  constexpr int kCells = 10;
  // U+258F..U+2589 are 1/8..7/8 blocks (left-aligned), U+2588 the full block.
  static const char* const kEighths[8] = {"",       "\u258f", "\u258e", "\u258d",
                                          "\u258c", "\u258b", "\u258a", "\u2589"};
  const double frac = total > 0 ? std::clamp(static_cast<double>(n) / total, 0.0, 1.0) : 0.0;
  const int eighths = static_cast<int>(frac * kCells * 8);
  std::string bar;
  int cells = 0;
  for (; cells < eighths / 8; ++cells) bar += "\u2588";
  if (cells < kCells && eighths % 8 != 0) {
    bar += kEighths[eighths % 8];
    ++cells;
  }
  bar.append(static_cast<size_t>(kCells - cells), ' ');
  std::string s = desc + Format(" %3d%%|", static_cast<int>(frac * 100)) + bar + "| " +
                  std::to_string(n) + "/" + std::to_string(total) + " [" + FormatClock(elapsed) +
                  "<" + FormatClock(remaining) + ", " + Short(it_per_s, 3) + " it/s";
  if (!postfix.empty()) s += ", " + postfix;
  return s + "]";
}

Progress::Progress(std::ostream& out, ProgressMode mode, int log_every, int64_t num_epochs)
    : out_(out), mode_(mode), log_every_(std::max(1, log_every)), num_epochs_(num_epochs) {}

std::string Progress::EpochLabel() const {
  return "epoch " + std::to_string(epoch_ + 1) + "/" + std::to_string(num_epochs_);
}

void Progress::BeginEpoch(int64_t epoch, int64_t num_batches, int64_t first_batch) {
  epoch_ = epoch;
  num_batches_ = num_batches;
  first_batch_ = first_batch;
  done_ = first_batch;
  samples_ = 0;
  epoch_start_ = Clock::now();
  last_draw_ = Clock::time_point();
  losses_.clear();
  times_.clear();
  data_times_.clear();
}

void Progress::Batch(const BatchStats& stats) {
  done_ = stats.batch + 1;
  samples_ += stats.samples;
  if (std::isfinite(stats.loss)) Push(&losses_, stats.loss);
  Push(&times_, stats.batch_seconds);
  Push(&data_times_, stats.data_seconds);
  if (mode_ == ProgressMode::kBar) {
    DrawBar(stats, done_ == num_batches_);
  } else if (mode_ == ProgressMode::kLines && (done_ % log_every_ == 0 || done_ == num_batches_)) {
    PrintLine(stats);
  }
}

void Progress::DrawBar(const BatchStats& stats, bool force) {
  const Clock::time_point now = Clock::now();
  // tqdm's mininterval: at most ten redraws a second.
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const int64_t run = done_ - first_batch_;
  const double it_per_s = elapsed > 0 ? run / elapsed : 0;
  const double remaining = it_per_s > 0 ? (num_batches_ - done_) / it_per_s : std::nan("");
  std::string postfix = Format("%.0f", elapsed > 0 ? samples_ / elapsed : 0.0) + " samples/s";
  if (!losses_.empty()) postfix += ", loss=" + Format("%.3f", Median(losses_));
  for (const auto& [name, value] : stats.metrics) {
    postfix += ", " + ShortMetricName(name) + "=" + Format("%.3f", value);
  }
  postfix += ", lr=" + Short(stats.lr, 4);
  out_ << "\r"
       << FormatBar(EpochLabel(), done_, num_batches_, elapsed, remaining, it_per_s,
                    postfix)
       << "\x1b[K" << std::flush;  // erase what a longer previous line left
  bar_open_ = true;
}

void Progress::PrintLine(const BatchStats& stats) {
  const double time = Median(times_);
  const int64_t left = (num_batches_ - done_) + (num_epochs_ - epoch_ - 1) * num_batches_;
  std::ostringstream line;
  line << EpochLabel() << " iter " << done_ << "/" << num_batches_ << " eta "
       << FormatEta(time * static_cast<double>(left));
  if (!losses_.empty()) {
    line << " loss " << Format("%.4f", Median(losses_)) << " (median of " << losses_.size() << ")";
  }
  for (const auto& [name, value] : stats.metrics) {
    line << " " << ShortMetricName(name) << " " << Format("%.4f", value);
  }
  line << " lr " << Short(stats.lr, 4) << " samples/s "
       << Format("%.0f", time > 0 ? static_cast<double>(stats.samples) / time : 0.0) << " time "
       << Format("%.4f", time) << " data_time " << Format("%.4f", Median(data_times_));
  out_ << line.str() << "\n" << std::flush;
}

void Progress::EndEpoch(const EpochSummary& summary) {
  if (mode_ == ProgressMode::kNone) return;
  Interrupt();
  std::ostringstream line;
  line << "epoch " << summary.epoch + 1 << "/" << num_epochs_ << " done in "
       << Format("%.1f", summary.seconds) << "s (" << Format("%.0f", summary.samples_per_second)
       << " samples/s): train";
  if (std::isfinite(summary.loss)) line << " loss " << Format("%.4f", summary.loss);
  for (const auto& [name, value] : summary.train)
    line << " " << name << " " << Format("%.4f", value);
  if (!summary.val.empty()) {
    line << " | val";
    for (const auto& [name, value] : summary.val)
      line << " " << name << " " << Format("%.4f", value);
  }
  out_ << line.str() << "\n" << std::flush;
}

void Progress::Interrupt() {
  if (bar_open_) {
    out_ << "\n" << std::flush;
    bar_open_ = false;
  }
}

}  // namespace loom::train
