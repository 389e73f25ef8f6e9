#include "hidden_keys.h"

#include <algorithm>
#include <cctype>

#include "loom/scheduler/error.h"

namespace loom::detail {

namespace {
[[noreturn]] void Deprecated(std::string_view key, std::string_view hidden, std::string_view value) {
  std::string arg(key.substr(0, key.size() - hidden.size() - 1));
  throw Error("setting variable attributes with '" + std::string(key) +
              "' is deprecated: create the variable with Variable(..., {." +
              std::string(hidden) + " = " + std::string(value) +
              "}) and pass it as the operator's input '" + arg + "'");
}
bool EndsWithHidden(std::string_view key, std::string_view hidden) {
  size_t pos = key.rfind(hidden);
  return pos != std::string_view::npos && pos != 0 && pos + hidden.size() == key.size();
}
}  // namespace

std::string HiddenKeyOnCreate(std::string_view key, std::string_view value) {
  for (std::string_view hidden : kHiddenKeys) {
    if (key.rfind(hidden) == 0) return "__" + std::string(key) + "__";
    if (EndsWithHidden(key, hidden)) Deprecated(key, hidden, value);
  }
  return std::string(key);
}

std::string HiddenKeyOnSet(std::string_view key, std::string_view value) {
  for (std::string_view hidden : kHiddenKeys) {
    if (key == hidden) return "__" + std::string(key) + "__";
    if (EndsWithHidden(key, hidden)) Deprecated(key, hidden, value);
  }
  return std::string(key);
}

StrMap WithBareHiddenKeys(const StrMap& dict) {
  StrMap out = dict;
  for (const auto& [key, value] : dict) {
    if (key.size() > 4 && key.starts_with("__") && key.ends_with("__")) {
      std::string_view inner = std::string_view(key).substr(2, key.size() - 4);
      if (std::find(kHiddenKeys.begin(), kHiddenKeys.end(), inner) != kHiddenKeys.end()) {
        out[std::string(inner)] = value;
      }
    }
  }
  return out;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace loom::detail
