// A small strict JSON reader (with line:column in every error) and a writer that formats exactly
// as dmlc's JSONWriter, which MXNet uses for symbol files.
//
//   loom::JsonValue v = loom::ParseJson(R"({"a": [1, 2]})", "example.json");
//   v.Get("a").items()[1].AsInt();          // 2
//
//   std::string out;
//   loom::JsonWriter w(&out);
//   w.BeginObject();
//   w.Key("a"); w.BeginArray(false); w.Item(); w.Int(1); w.EndArray();
//   w.EndObject();                           // "{\n  \"a\": [1]\n}"
//
// Parsing accepts RFC 8259 JSON plus raw control characters inside strings (which dmlc's writer
// leaves unescaped, so MXNet's files may contain them), nests at most kMaxDepth deep and never recurses
// beyond that, so hostile input cannot exhaust the stack. Values are plain data; thread-safe to
// read concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loom {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind() const { return kind_; }
  /// "null", "boolean", "number", "string", "array", "object".
  const char* kind_name() const;
  /// "file:line:column" of the value's first character.
  std::string where() const;
  int line() const { return line_; }
  int column() const { return column_; }

  bool is_null() const { return kind_ == Kind::kNull; }
  /// Accessors throw loom::Error "<where>: expected <kind> but got <kind>" on the wrong kind.
  bool AsBool() const;
  /// The number as an integer; throws when it has a fraction, an exponent or is out of range.
  int64_t AsInt() const;
  const std::string& AsString() const;
  const std::vector<JsonValue>& items() const;
  const std::vector<std::pair<std::string, JsonValue>>& members() const;
  /// Member `key` of an object, or nullptr.
  const JsonValue* Find(std::string_view key) const;
  /// Member `key`; throws naming the key and the object's position when absent.
  const JsonValue& Get(std::string_view key) const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  std::string text_;  // string contents, or a number's literal
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
  std::shared_ptr<const std::string> source_;
  int line_ = 0, column_ = 0;
};

/// Maximum nesting of arrays and objects ParseJson accepts.
inline constexpr int kJsonMaxDepth = 256;

/// Parses one JSON document; throws loom::Error "<source>:<line>:<column>: expected X but got Y".
/// Duplicate keys in an object are an error.
JsonValue ParseJson(std::string_view text, std::string_view source = "<json>");

/// Writes JSON as dmlc::JSONWriter does: multi-line scopes put each item on its own line,
/// indented two spaces per level, after ", "; single-line scopes keep items on one line.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}
  void BeginObject(bool multi_line = true);
  void EndObject();
  void BeginArray(bool multi_line = true);
  void EndArray();
  /// Starts a member of the current object: separator, then "key": .
  void Key(std::string_view key);
  /// Starts an item of the current array: separator.
  void Item();
  void String(std::string_view value);
  void Int(int64_t value);
  void Null();
  /// Escapes as dmlc does (\r \n \\ \t \" escaped; other bytes copied).
  static std::string Quote(std::string_view value);

 private:
  void Separator();
  std::string* out_;
  std::vector<std::pair<bool, size_t>> scopes_;  // (multi_line, items so far)
};

}  // namespace loom
