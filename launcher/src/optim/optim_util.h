// Helpers shared by the optimizer, schedule and initializer sources (internal).
#pragma once

#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

namespace loom::train::detail {

// The double that the shortest decimal form of f denotes (0.1f -> 0.1): what Python would have
// parsed from the same text in MXNet, where hyper-parameters are Python floats (doubles).
inline double DecimalDouble(float f) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), f);
  if (ec != std::errc()) return static_cast<double>(f);
  return std::strtod(std::string(buffer, end).c_str(), nullptr);
}

// Parses a whole string as a double (leading/trailing blanks allowed); false when it is not one.
inline bool ParseDouble(std::string_view text, double* value) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return false;
  if (text.front() == '+') text.remove_prefix(1);
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace loom::train::detail
