// metrics.jsonl writer: each Write is one line handed to the kernel in one write() on an O_APPEND
// descriptor, then fdatasync'ed, so readers never see half a line and a crash loses at most one.
#include "loom/train/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

void AppendJsonString(std::string& out, const std::string& s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void AppendJsonNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buffer[32];
  // Integral values up to 2^53 (exact in a double) read better without a fraction or exponent.
  if (v == std::trunc(v) && std::fabs(v) <= 9007199254740992.0) {
    std::snprintf(buffer, sizeof(buffer), "%lld", static_cast<long long>(v));
    out += buffer;
    return;
  }
  // The shortest text that parses back to the same double.
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), v);
  out.append(buffer, result.ptr);
}

}  // namespace

std::string MetricsJsonLine(const std::vector<std::pair<std::string, double>>& values,
                            const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string line = "{";
  bool first = true;
  auto key = [&](const std::string& k) {
    if (!first) line.push_back(',');
    first = false;
    AppendJsonString(line, k);
    line.push_back(':');
  };
  for (const auto& [k, v] : tags) {
    key(k);
    AppendJsonString(line, v);
  }
  for (const auto& [k, v] : values) {
    key(k);
    AppendJsonNumber(line, v);
  }
  line.push_back('}');
  return line;
}

MetricsLog::MetricsLog(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) throw IoError("cannot open the metrics log " + path + ": " + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::Write(const std::vector<std::pair<std::string, double>>& values,
                       const std::vector<std::pair<std::string, std::string>>& tags) {
  const std::string line = MetricsJsonLine(values, tags) + "\n";
  std::string_view todo = line;
  while (!todo.empty()) {
    const ssize_t n = ::write(fd_, todo.data(), todo.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write the metrics log " + path_ + ": " + std::strerror(errno));
    }
    todo.remove_prefix(static_cast<size_t>(n));
  }
  if (::fdatasync(fd_) != 0 && errno != EINVAL) {
    throw IoError("cannot sync the metrics log " + path_ + ": " + std::strerror(errno));
  }
}

}  // namespace loom::train
