#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "loom/core/op_param.h"

namespace loom {

std::string FormatParam(bool value) { return value ? "True" : "False"; }

std::string FormatParam(int64_t value) { return std::to_string(value); }

std::string FormatParam(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, then Python's repr layout: fixed for exponents in [-4, 16),
  // scientific otherwise.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  std::string sci(buf, end);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_buf;
  }
  return negative ? "-" + out : out;
}

std::string FormatParam(const Shape& value) {
  std::string s = "(";
  for (int i = 0; i < value.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(value[i]);
  }
  return s + (value.ndim() == 1 ? ",)" : ")");
}

std::string FormatParam(DType value) { return ToString(value); }

namespace detail {

std::string Trim(std::string_view text) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return std::string(text.substr(b, e - b));
}

bool IsNone(std::string_view text) { return Trim(text) == "None"; }

bool ParseBool(std::string_view text) {
  std::string t = Trim(text);
  if (t == "True" || t == "true" || t == "1") return true;
  if (t == "False" || t == "false" || t == "0") return false;
  throw Error("expected a boolean (True, true, 1, False, false, 0) but got '" + std::string(text) +
              "'");
}

int64_t ParseInt(std::string_view text) {
  std::string t = Trim(text);
  std::string_view v = t;
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (!v.empty() && (v.back() == 'L' || v.back() == 'l')) v.remove_suffix(1);  // Python 2 long
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  LOOM_CHECK(!v.empty() && ec == std::errc() && ptr == v.data() + v.size(),
             "expected an int but got '", text, "'");
  return out;
}

double ParseFloat(std::string_view text) {
  std::string t = Trim(text);
  std::string_view v = t;
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  double out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  LOOM_CHECK(!v.empty() && ec == std::errc() && ptr == v.data() + v.size(),
             "expected a float but got '", text, "'");
  return out;
}

std::vector<std::string> SplitTuple(std::string_view text) {
  std::string t = Trim(text);
  std::string_view v = t;
  if (!v.empty() && (v.front() == '(' || v.front() == '[')) {
    char close = v.front() == '(' ? ')' : ']';
    LOOM_CHECK(v.size() >= 2 && v.back() == close, "expected a tuple such as (1, 2) but got '",
               text, "'");
    v = v.substr(1, v.size() - 2);
  }
  std::vector<std::string> items;
  if (Trim(v).empty()) return items;
  size_t start = 0;
  for (;;) {
    size_t comma = v.find(',', start);
    std::string item = Trim(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
    if (comma == std::string_view::npos) {
      if (!item.empty()) items.push_back(item);  // "(5,)" ends with an empty item
      break;
    }
    LOOM_CHECK(!item.empty(), "expected a tuple such as (1, 2) but got '", text, "'");
    items.push_back(item);
    start = comma + 1;
  }
  return items;
}

DType ParamTraits<DType>::Parse(std::string_view s) {
  std::string t = Trim(s);
  if (!t.empty() && std::isdigit(static_cast<unsigned char>(t[0]))) {
    return DTypeFromCode(static_cast<int>(ParseInt(t)));
  }
  return ParseDType(t);
}

}  // namespace detail

bool ParamSchema::Has(std::string_view name) const {
  for (const auto& f : fields_) {
    if (f.name == name) return true;
  }
  return false;
}

std::any ParamSchema::Parse(const StrMap& dict) const {
  if (!parse_) return {};
  return parse_(dict);
}

}  // namespace loom
