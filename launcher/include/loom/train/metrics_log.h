// metrics.jsonl: one JSON object per line, appended to a file and flushed (fsync) per line, so
// `jq`, pandas.read_json(lines=True) or `tail -f` can read it while the run goes on.
//
//   loom::train::MetricsLog log("runs/mlp/20240101-120000/metrics.jsonl");
//   log.Write({{"epoch", 1}, {"update", 469}, {"train_accuracy", 0.8512}}, {{"phase", "train"}});
//   // {"phase":"train","epoch":1,"update":469,"train_accuracy":0.8512}
//
// Tags (strings) come first, then the values, each in the order given. Integral values are written
// without a fraction ("469"); other numbers in the shortest form that reads back to the same
// double; NaN and infinities, which JSON cannot express, as null. Strings are escaped per RFC 8259
// (quote, backslash, control characters as \uXXXX; UTF-8 passes through). Not thread-safe; errors
// are loom::IoError naming the file.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace loom::train {

class MetricsLog {
 public:
  /// Opens `path` for appending (created if missing; its directory must exist).
  /// @throws IoError naming the path.
  explicit MetricsLog(const std::string& path);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  /// Appends one line. @throws IoError naming the file.
  void Write(const std::vector<std::pair<std::string, double>>& values,
             const std::vector<std::pair<std::string, std::string>>& tags = {});

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

/// The JSON line (without the newline) MetricsLog::Write appends for these values and tags.
std::string MetricsJsonLine(const std::vector<std::pair<std::string, double>>& values,
                            const std::vector<std::pair<std::string, std::string>>& tags = {});

}  // namespace loom::train
