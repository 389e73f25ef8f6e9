// Typed operator parameters: a plain struct per operator, declared once with names, defaults,
// bounds and docs, parsed from the strings MXNet writes into symbol files.
//
//   struct FullyConnectedParam {
//     int64_t num_hidden = 0;
//     bool no_bias = false;
//     static void Declare(loom::ParamDeclarer<FullyConnectedParam>& d) {
//       d("num_hidden", &FullyConnectedParam::num_hidden).Min(1).Describe("Output size.");
//       d("no_bias", &FullyConnectedParam::no_bias).Default(false).Describe("Skip the bias.");
//     }
//   };
//   loom::ParamSchema schema = loom::ParamSchema::Of<FullyConnectedParam>();
//   std::any parsed = schema.Parse({{"num_hidden", "128"}, {"no_bias", "True"}});
//   std::any_cast<const FullyConnectedParam&>(parsed).num_hidden;   // 128
//
// A field without Default() is required. Supported field types: bool, integers, float, double,
// std::string, Shape, DType, enums (with Enum()), std::optional<T> ("None") and std::vector<T>
// of integers, doubles or optional integers. Every string style MXNet wrote parses: "(3,3)",
// "(3, 3)", "[3,3]", "(-1)", "(8L, 3L)", "None", "True"/"true"/"1", "1e-3".
// ParamSchema is immutable after construction and safe to share between threads.
#pragma once

#include <any>
#include <charconv>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/shape.h"
#include "loom/scheduler/error.h"

namespace loom {

/// Attribute and parameter dictionaries: sorted, as MXNet writes them.
using StrMap = std::map<std::string, std::string, std::less<>>;

// ---- Python-style rendering (what MXNet's Python front end writes into a symbol's dict) ----

/// "True" / "False".
std::string FormatParam(bool value);
/// "128".
std::string FormatParam(int64_t value);
inline std::string FormatParam(int value) { return FormatParam(static_cast<int64_t>(value)); }
/// Python's repr of a float: "0.5", "1.0", "0.001", "1e-05", "inf".
std::string FormatParam(double value);
inline std::string FormatParam(float value) { return FormatParam(static_cast<double>(value)); }
/// A Python tuple: "(3, 3)", "(5,)", "()".
std::string FormatParam(const Shape& value);
/// The dtype's name: "float32".
std::string FormatParam(DType value);
inline std::string FormatParam(std::string value) { return value; }
inline std::string FormatParam(const char* value) { return value; }

namespace detail {

// Parsers for one value; each throws loom::Error "expected <what> but got '<text>'".
bool ParseBool(std::string_view text);
int64_t ParseInt(std::string_view text);
double ParseFloat(std::string_view text);
/// True for "None" (surrounding spaces ignored).
bool IsNone(std::string_view text);
/// Splits "(a, b)" / "[a,b]" / "a" into trimmed items; "()" gives none.
std::vector<std::string> SplitTuple(std::string_view text);
std::string Trim(std::string_view text);

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
/// Enums parsed through a field's name table (DType has its own parser).
template <typename T>
inline constexpr bool kIsTableEnum = std::is_enum_v<T> && !std::is_same_v<T, DType>;

// Per-type parsing and rendering. Enums go through the field's name table instead.
template <typename T>
struct ParamTraits;

template <>
struct ParamTraits<bool> {
  static constexpr const char* kName = "boolean";
  static bool Parse(std::string_view s) { return ParseBool(s); }
  static std::string Format(bool v) { return FormatParam(v); }
};
template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
struct ParamTraits<T> {
  static constexpr const char* kName = "int";
  static T Parse(std::string_view s) {
    int64_t v = ParseInt(s);
    const bool fits =
        std::is_signed_v<T>
            ? v >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                  v <= static_cast<int64_t>(std::numeric_limits<T>::max())
            : v >= 0 && static_cast<uint64_t>(v) <= std::numeric_limits<T>::max();
    LOOM_CHECK(fits,
               "expected an int that fits the parameter's range but got '", s, "'");
    return static_cast<T>(v);
  }
  static std::string Format(T v) { return FormatParam(static_cast<int64_t>(v)); }
};
template <typename T>
  requires std::is_floating_point_v<T>
struct ParamTraits<T> {
  static constexpr const char* kName = "float";
  static T Parse(std::string_view s) { return static_cast<T>(ParseFloat(s)); }
  static std::string Format(T v) { return FormatParam(static_cast<double>(v)); }
};
template <>
struct ParamTraits<std::string> {
  static constexpr const char* kName = "string";
  static std::string Parse(std::string_view s) { return std::string(s); }
  static std::string Format(const std::string& v) { return v; }
};
template <>
struct ParamTraits<Shape> {
  static constexpr const char* kName = "Shape(tuple)";
  static Shape Parse(std::string_view s) { return Shape::Parse(s); }
  static std::string Format(const Shape& v) { return FormatParam(v); }
};
template <>
struct ParamTraits<DType> {
  static constexpr const char* kName = "dtype";
  static DType Parse(std::string_view s);
  static std::string Format(DType v) { return FormatParam(v); }
};
template <typename T>
struct ParamTraits<std::optional<T>> {
  static constexpr const char* kName = ParamTraits<T>::kName;
  static std::optional<T> Parse(std::string_view s) {
    if (IsNone(s)) return std::nullopt;
    return ParamTraits<T>::Parse(s);
  }
  static std::string Format(const std::optional<T>& v) {
    return v ? ParamTraits<T>::Format(*v) : std::string("None");
  }
};
template <typename T>
struct ParamTraits<std::vector<T>> {
  static constexpr const char* kName = "tuple";
  static std::vector<T> Parse(std::string_view s) {
    std::vector<T> out;
    for (const std::string& item : SplitTuple(s)) {
      std::string_view v = item;
      if (!v.empty() && (v.back() == 'L' || v.back() == 'l')) v.remove_suffix(1);
      out.push_back(ParamTraits<T>::Parse(v));
    }
    return out;
  }
  static std::string Format(const std::vector<T>& v) {
    std::string s = "(";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + ParamTraits<T>::Format(v[i]);
    return s + (v.size() == 1 ? ",)" : ")");
  }
};

/// One declared field of parameter struct P, type-erased for the schema.
template <typename P>
class FieldBase {
 public:
  virtual ~FieldBase() = default;
  virtual void Parse(P* param, std::string_view text) const = 0;
  virtual void ApplyDefault(P* param) const = 0;
  virtual std::string DefaultText() const = 0;
  const std::string& name() const { return name_; }
  const std::string& doc() const { return doc_; }
  const std::string& type_name() const { return type_name_; }
  bool required() const { return !has_default_; }

 protected:
  std::string name_, doc_, type_name_;
  bool has_default_ = false;
};

}  // namespace detail

/// Declaration of one field: chain Default(), Min()/Max(), Enum(), Describe().
template <typename P, typename T>
class ParamField final : public detail::FieldBase<P> {
 public:
  ParamField(std::string name, T P::*member) : member_(member) {
    this->name_ = std::move(name);
    if constexpr (!detail::kIsTableEnum<T> && !IsOptionalEnum()) {
      this->type_name_ = detail::ParamTraits<T>::kName;
    } else {
      this->type_name_ = "enum";
    }
  }

  /// Makes the field optional with this default.
  ParamField& Default(T value) {
    default_ = std::move(value);
    this->has_default_ = true;
    return *this;
  }
  ParamField& Describe(std::string doc) {
    this->doc_ = std::move(doc);
    return *this;
  }
  /// Lower bound (inclusive) for numbers (also inside std::optional).
  ParamField& Min(double lo) {
    lo_ = lo;
    return *this;
  }
  /// Upper bound (inclusive) for numbers (also inside std::optional).
  ParamField& Max(double hi) {
    hi_ = hi;
    return *this;
  }
  /// Names of an enum field's values (for T an enum or std::optional<enum>).
  template <typename E>
  ParamField& Enum(std::vector<std::pair<std::string, E>> table) {
    for (auto& [name, value] : table) enum_.emplace_back(std::move(name), static_cast<int>(value));
    return *this;
  }

  void Parse(P* param, std::string_view text) const override {
    param->*member_ = ParseValue(text);
    CheckBounds(param->*member_, text);
  }
  void ApplyDefault(P* param) const override { param->*member_ = default_; }
  std::string DefaultText() const override {
    return this->has_default_ ? FormatValue(default_) : std::string("required");
  }

 private:
  static constexpr bool IsOptionalEnum() {
    if constexpr (detail::IsOptional<T>::value) {
      return detail::kIsTableEnum<typename T::value_type>;
    }
    return false;
  }

  int ParseEnum(std::string_view text) const {
    std::string t = detail::Trim(text);
    for (const auto& [name, value] : enum_) {
      if (name == t) return value;
    }
    std::string names;
    for (const auto& [name, value] : enum_) names += (names.empty() ? "" : ", ") + name;
    throw Error("expected one of {" + names + "} but got '" + std::string(text) + "'");
  }
  std::string FormatEnum(int v) const {
    for (const auto& [name, value] : enum_) {
      if (value == v) return name;
    }
    return std::to_string(v);
  }

  T ParseValue(std::string_view text) const {
    if constexpr (detail::kIsTableEnum<T>) {
      return static_cast<T>(ParseEnum(text));
    } else if constexpr (IsOptionalEnum()) {
      if (detail::IsNone(text)) return std::nullopt;
      return static_cast<typename T::value_type>(ParseEnum(text));
    } else {
      return detail::ParamTraits<T>::Parse(text);
    }
  }
  std::string FormatValue(const T& v) const {
    if constexpr (detail::kIsTableEnum<T>) {
      return FormatEnum(static_cast<int>(v));
    } else if constexpr (IsOptionalEnum()) {
      return v ? FormatEnum(static_cast<int>(*v)) : std::string("None");
    } else {
      return detail::ParamTraits<T>::Format(v);
    }
  }
  void CheckBounds(const T& v, std::string_view text) const {
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
      CheckNumber(static_cast<double>(v), text);
    } else if constexpr (detail::IsOptional<T>::value) {
      if constexpr (std::is_arithmetic_v<typename T::value_type>) {
        if (v) CheckNumber(static_cast<double>(*v), text);
      }
    }
  }
  void CheckNumber(double v, std::string_view text) const {
    LOOM_CHECK(!lo_ || v >= *lo_, "expected a value >= ", *lo_, " but got '", text, "'");
    LOOM_CHECK(!hi_ || v <= *hi_, "expected a value <= ", *hi_, " but got '", text, "'");
  }

  T P::*member_;
  T default_{};
  std::optional<double> lo_, hi_;
  std::vector<std::pair<std::string, int>> enum_;
};

/// Passed to P::Declare: `d("name", &P::member)` declares a field; `d.Validate(fn)` adds a check
/// run on the whole parsed struct, which may also complete it (fill defaults that depend on other
/// fields); throw loom::Error from it.
template <typename P>
class ParamDeclarer {
 public:
  template <typename T>
  ParamField<P, T>& operator()(std::string name, T P::*member) {
    auto field = std::make_unique<ParamField<P, T>>(std::move(name), member);
    ParamField<P, T>& ref = *field;
    fields_.push_back(std::move(field));
    return ref;
  }
  void Validate(std::function<void(P&)> check) { checks_.push_back(std::move(check)); }

  std::vector<std::unique_ptr<detail::FieldBase<P>>> fields_;
  std::vector<std::function<void(P&)>> checks_;
};

/// Type-erased description of one parameter struct: field list (for docs and for telling
/// parameters from attributes) and a parser from a string dictionary.
class ParamSchema {
 public:
  struct Field {
    std::string name;
    std::string type;          ///< "int", "float", "Shape(tuple)", "enum", ...
    std::string default_text;  ///< "required" or the default rendered as Python would
    std::string doc;
  };

  ParamSchema() = default;

  /// The schema of P (P::Declare lists the fields).
  template <typename P>
  static ParamSchema Of() {
    auto decl = std::make_shared<ParamDeclarer<P>>();
    P::Declare(*decl);
    ParamSchema s;
    for (const auto& f : decl->fields_) {
      s.fields_.push_back({f->name(), f->type_name(), f->DefaultText(), f->doc()});
    }
    s.parse_ = [decl](const StrMap& dict) -> std::any {
      P param{};
      for (const auto& f : decl->fields_) {
        auto it = dict.find(f->name());
        if (it == dict.end()) {
          LOOM_CHECK(!f->required(), "required parameter '", f->name(), "' is missing");
          f->ApplyDefault(&param);
          continue;
        }
        try {
          f->Parse(&param, it->second);
        } catch (Error& e) {
          throw Error("parameter '" + f->name() + "' (" + f->type_name() + "): " + e.message());
        }
      }
      for (const auto& check : decl->checks_) check(param);
      return param;
    };
    return s;
  }

  /// True when the struct has a field of this name.
  bool Has(std::string_view name) const;
  const std::vector<Field>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }
  /// Parses the parameter keys of `dict` (other keys are attributes and ignored); throws
  /// loom::Error naming the parameter, the expected type and the text.
  std::any Parse(const StrMap& dict) const;

 private:
  std::vector<Field> fields_;
  std::function<std::any(const StrMap&)> parse_;
};

}  // namespace loom
