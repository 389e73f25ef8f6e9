// Errors, contexts and environment variables: the vocabulary every layer shares.
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "loom/scheduler/context.h"
#include "loom/scheduler/env.h"
#include "loom/scheduler/error.h"

namespace loom {

std::string detail::Location(const char* file, int line) {
  std::string_view path(file);
  size_t slash = path.rfind('/');
  if (slash != std::string_view::npos) {
    size_t parent = path.rfind('/', slash - 1);
    if (parent != std::string_view::npos) path = path.substr(parent + 1);
  }
  return " (" + std::string(path) + ":" + std::to_string(line) + ")";
}

const char* ToString(DeviceType type) {
  static constexpr const char* kNames[] = {"cpu", "gpu", "cpu_pinned"};
  static_assert(std::size(kNames) == static_cast<size_t>(DeviceType::kCount));
  return kNames[static_cast<size_t>(type)];
}

std::string Context::ToString() const {
  return std::string(loom::ToString(type)) + "(" + std::to_string(id) + ")";
}

Context Context::Parse(std::string_view text) {
  auto fail = [&]() -> Context {
    throw Error("expected a context such as cpu(0), gpu(1) or cpu_pinned(0) but got '" +
                std::string(text) + "'");
  };
  std::string_view name = text, id_text;
  size_t open = text.find('(');
  if (open != std::string_view::npos) {
    if (text.back() != ')') return fail();
    name = text.substr(0, open);
    id_text = text.substr(open + 1, text.size() - open - 2);
  }
  Context ctx;
  if (name == "cpu") {
    ctx.type = DeviceType::kCPU;
  } else if (name == "gpu") {
    ctx.type = DeviceType::kGPU;
  } else if (name == "cpu_pinned") {
    ctx.type = DeviceType::kCPUPinned;
  } else {
    return fail();
  }
  if (!id_text.empty()) {
    auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), ctx.id);
    if (ec != std::errc() || ptr != id_text.data() + id_text.size() || ctx.id < 0) return fail();
  } else if (open != std::string_view::npos) {
    return fail();
  }
  return ctx;
}

std::string env::GetString(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

long env::GetInt(const char* name, long fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  std::string_view text(value);
  long result = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), result);
  LOOM_CHECK(ec == std::errc() && ptr == text.data() + text.size(), "expected the environment ",
             "variable ", name, " to be an integer but got '", text, "'");
  return result;
}

}  // namespace loom
