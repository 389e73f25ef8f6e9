#include "profiler.h"

#include <atomic>
#include <cstdio>
#include <fstream>

#include "loom/scheduler/error.h"

namespace loom::detail {
namespace {
std::atomic<uint64_t> next_profiler_id{1};

struct LocalCache {
  uint64_t profiler_id = 0;
  void* buffer = nullptr;
};
thread_local LocalCache local_cache;

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

Profiler::Profiler(std::string path)
    : path_(std::move(path)), id_(next_profiler_id.fetch_add(1)), origin_ns_(Now()) {}

Profiler::~Profiler() {
  if (enabled()) Dump(path_);
}

int Profiler::RowId(const std::string& row_name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = rows_.emplace(row_name, static_cast<int>(rows_.size()));
  return it->second;
}

Profiler::ThreadBuffer* Profiler::LocalBuffer() {
  if (local_cache.profiler_id == id_) return static_cast<ThreadBuffer*>(local_cache.buffer);
  std::lock_guard<std::mutex> lock(mu_);
  buffers_.push_back(std::make_unique<ThreadBuffer>());
  local_cache = {id_, buffers_.back().get()};
  return buffers_.back().get();
}

void Profiler::Record(int row, const std::string& name, uint64_t start_ns, uint64_t end_ns) {
  ThreadBuffer* buffer = LocalBuffer();
  std::lock_guard<std::mutex> lock(buffer->mu);
  buffer->events.push_back({name.empty() ? "(unnamed)" : name, start_ns, end_ns, row});
}

void Profiler::Dump(const std::string& path) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    LOOM_CHECK(out.good(), "cannot write the trace file '", tmp, "'");
    out << "{\"traceEvents\":[\n";
    bool first = true;
    auto sep = [&] {
      if (!first) out << ",\n";
      first = false;
    };
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, row] : rows_) {
      sep();
      out << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":" << row
          << ",\"args\":{\"name\":\"" << JsonEscape(name) << "\"}}";
    }
    for (const auto& buffer : buffers_) {
      std::lock_guard<std::mutex> buffer_lock(buffer->mu);
      for (const Event& e : buffer->events) {
        sep();
        out << "{\"name\":\"" << JsonEscape(e.name) << "\",\"ph\":\"X\",\"pid\":0,\"tid\":"
            << e.row << ",\"ts\":" << (e.start_ns - origin_ns_) / 1000.0
            << ",\"dur\":" << (e.end_ns - e.start_ns) / 1000.0 << "}";
      }
    }
    out << "\n]}\n";
    LOOM_CHECK(out.good(), "failed writing the trace file '", tmp, "'");
  }
  LOOM_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename '", tmp, "' to '", path,
             "'");
}

}  // namespace loom::detail
