// Chrome-trace profiler of engine operations (LOOM_PROFILE=trace.json): one row per worker slot
// and GPU stream, one complete ("X") event per operation. Off unless a path is given; recording is
// per-thread and lock-free of other threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace loom::detail {

class Profiler {
 public:
  explicit Profiler(std::string path);
  ~Profiler();

  bool enabled() const { return !path_.empty(); }
  /// Row id for a named timeline row ("cpu(0) worker 1"); the same name gives the same id.
  int RowId(const std::string& row_name);
  /// Nanoseconds on the trace clock.
  static uint64_t Now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  /// Records one operation on a row. Thread-safe.
  void Record(int row, const std::string& name, uint64_t start_ns, uint64_t end_ns);
  /// Writes everything recorded so far as a Chrome trace; the file is written to a temporary
  /// name and renamed.
  void Dump(const std::string& path);

 private:
  struct Event {
    std::string name;
    uint64_t start_ns;
    uint64_t end_ns;
    int row;
  };
  struct ThreadBuffer {
    std::mutex mu;
    std::vector<Event> events;  // guarded by mu
  };
  ThreadBuffer* LocalBuffer();

  std::string path_;
  uint64_t id_;
  uint64_t origin_ns_;
  std::mutex mu_;
  std::map<std::string, int> rows_;                    // guarded by mu_
  std::vector<std::unique_ptr<ThreadBuffer>> buffers_;  // guarded by mu_
};

}  // namespace loom::detail
