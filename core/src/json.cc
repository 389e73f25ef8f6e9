#include "loom/core/json.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cmath>

#include "loom/scheduler/error.h"

namespace loom {

const char* JsonValue::kind_name() const {
  static constexpr const char* kNames[] = {"null", "boolean", "number", "string", "array", "object"};
  return kNames[static_cast<int>(kind_)];
}

std::string JsonValue::where() const {
  return (source_ ? *source_ : std::string("<json>")) + ":" + std::to_string(line_) + ":" +
         std::to_string(column_);
}

namespace {
[[noreturn]] void WrongKind(const JsonValue& v, const char* expected) {
  throw Error(v.where() + ": expected " + expected + " but got " + v.kind_name());
}
}  // namespace

bool JsonValue::AsBool() const {
  if (kind_ != Kind::kBool) WrongKind(*this, "a boolean");
  return bool_;
}

int64_t JsonValue::AsInt() const {
  if (kind_ != Kind::kNumber) WrongKind(*this, "an integer");
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), v);
  LOOM_CHECK(ec == std::errc() && ptr == text_.data() + text_.size(), where(),
             ": expected an integer but got ", text_);
  return v;
}

const std::string& JsonValue::AsString() const {
  if (kind_ != Kind::kString) WrongKind(*this, "a string");
  return text_;
}

const std::vector<JsonValue>& JsonValue::items() const {
  if (kind_ != Kind::kArray) WrongKind(*this, "an array");
  return items_;
}

const std::vector<std::pair<std::string, JsonValue>>& JsonValue::members() const {
  if (kind_ != Kind::kObject) WrongKind(*this, "an object");
  return members_;
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& [k, v] : members()) {
    if (k == key) return &v;
  }
  return nullptr;
}

const JsonValue& JsonValue::Get(std::string_view key) const {
  const JsonValue* v = Find(key);
  LOOM_CHECK(v != nullptr, where(), ": expected key \"", key, "\" in this object but it is missing");
  return *v;
}

class JsonParser {
 public:
  JsonParser(std::string_view text, std::string_view source)
      : text_(text), source_(std::make_shared<const std::string>(source)) {}

  JsonValue ParseDocument() {
    SkipSpace();
    JsonValue v = ParseValue(0);
    SkipSpace();
    if (pos_ != text_.size()) Fail("the end of the document", Describe());
    return v;
  }

 private:
  [[noreturn]] void Fail(std::string_view expected, std::string_view got) const {
    throw Error(*source_ + ":" + std::to_string(line_) + ":" + std::to_string(column_) +
                ": expected " + std::string(expected) + " but got " + std::string(got));
  }
  std::string Describe() const {
    if (pos_ >= text_.size()) return "the end of the input";
    unsigned char c = text_[pos_];
    if (c < 0x20 || c >= 0x7f) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "byte 0x%02x", c);
      return buf;
    }
    return "'" + std::string(1, static_cast<char>(c)) + "'";
  }
  void Advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++pos_;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      Advance();
    }
  }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  void Expect(char c) {
    if (!Peek(c)) Fail(std::string("'") + c + "'", Describe());
    Advance();
  }
  JsonValue Start(JsonValue::Kind kind) const {
    JsonValue v;
    v.kind_ = kind;
    v.source_ = source_;
    v.line_ = line_;
    v.column_ = column_;
    return v;
  }

  JsonValue ParseValue(int depth) {
    if (pos_ >= text_.size()) Fail("a value", "the end of the input");
    switch (text_[pos_]) {
      case '{':
        return ParseObject(depth + 1);
      case '[':
        return ParseArray(depth + 1);
      case '"': {
        JsonValue v = Start(JsonValue::Kind::kString);
        v.text_ = ParseString();
        return v;
      }
      case 't':
      case 'f':
      case 'n':
        return ParseLiteral();
      default:
        return ParseNumber();
    }
  }

  JsonValue ParseLiteral() {
    JsonValue v = Start(JsonValue::Kind::kNull);
    for (std::string_view word : {"true", "false", "null"}) {
      if (text_.substr(pos_, word.size()) == word) {
        for (size_t i = 0; i < word.size(); ++i) Advance();
        if (word != "null") {
          v.kind_ = JsonValue::Kind::kBool;
          v.bool_ = word == "true";
        }
        return v;
      }
    }
    Fail("a value", Describe());
  }

  JsonValue ParseNumber() {
    JsonValue v = Start(JsonValue::Kind::kNumber);
    size_t start = pos_;
    auto digits = [&] {
      size_t n = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        Advance();
        ++n;
      }
      return n;
    };
    if (Peek('-')) Advance();
    if (Peek('0')) {
      Advance();
    } else if (digits() == 0) {
      Fail("a value", Describe());
    }
    if (Peek('.')) {
      Advance();
      if (digits() == 0) Fail("a digit", Describe());
    }
    if (Peek('e') || Peek('E')) {
      Advance();
      if (Peek('+') || Peek('-')) Advance();
      if (digits() == 0) Fail("a digit", Describe());
    }
    v.text_ = std::string(text_.substr(start, pos_ - start));
    return v;
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t ParseHex4() {
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos_ >= text_.size() || !std::isxdigit(static_cast<unsigned char>(text_[pos_]))) {
        Fail("a hexadecimal digit", Describe());
      }
      char c = text_[pos_];
      cp = cp * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
      Advance();
    }
    return cp;
  }

  std::string ParseString() {
    Expect('"');
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) Fail("'\"' closing the string", "the end of the input");
      unsigned char c = text_[pos_];
      if (c == '"') {
        Advance();
        return out;
      }
      // Raw control characters are accepted: dmlc's writer (MXNet's) leaves them unescaped.
      if (c != '\\') {
        out += static_cast<char>(c);
        Advance();
        continue;
      }
      Advance();
      if (pos_ >= text_.size()) Fail("an escape", "the end of the input");
      char e = text_[pos_];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          Advance();
          uint32_t cp = ParseHex4();
          if (cp >= 0xD800 && cp < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
            Advance();
            Advance();
            uint32_t low = ParseHex4();
            if (low < 0xDC00 || low >= 0xE000) Fail("a low surrogate", "another code unit");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(&out, cp);
          continue;
        }
        default:
          Fail("an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)", Describe());
      }
      Advance();
    }
  }

  JsonValue ParseArray(int depth) {
    if (depth > kJsonMaxDepth) Fail("at most 256 nested arrays and objects", "deeper nesting");
    JsonValue v = Start(JsonValue::Kind::kArray);
    Expect('[');
    SkipSpace();
    if (Peek(']')) {
      Advance();
      return v;
    }
    for (;;) {
      SkipSpace();
      v.items_.push_back(ParseValue(depth));
      SkipSpace();
      if (Peek(',')) {
        Advance();
        continue;
      }
      if (Peek(']')) {
        Advance();
        return v;
      }
      Fail("',' or ']'", Describe());
    }
  }

  JsonValue ParseObject(int depth) {
    if (depth > kJsonMaxDepth) Fail("at most 256 nested arrays and objects", "deeper nesting");
    JsonValue v = Start(JsonValue::Kind::kObject);
    Expect('{');
    SkipSpace();
    if (Peek('}')) {
      Advance();
      return v;
    }
    for (;;) {
      SkipSpace();
      int line = line_, column = column_;
      if (!Peek('"')) Fail("a key in quotes", Describe());
      std::string key = ParseString();
      for (const auto& [k, unused] : v.members_) {
        if (k == key) {
          line_ = line;
          column_ = column;
          Fail("unique keys", "\"" + key + "\" twice in one object");
        }
      }
      SkipSpace();
      Expect(':');
      SkipSpace();
      v.members_.emplace_back(std::move(key), ParseValue(depth));
      SkipSpace();
      if (Peek(',')) {
        Advance();
        continue;
      }
      if (Peek('}')) {
        Advance();
        return v;
      }
      Fail("',' or '}'", Describe());
    }
  }

  std::string_view text_;
  std::shared_ptr<const std::string> source_;
  size_t pos_ = 0;
  int line_ = 1, column_ = 1;
};

JsonValue ParseJson(std::string_view text, std::string_view source) {
  return JsonParser(text, source).ParseDocument();
}

void JsonWriter::Separator() {
  if (scopes_.empty() || scopes_.back().first) {
    *out_ += '\n';
    out_->append(scopes_.size() * 2, ' ');
  }
}

void JsonWriter::BeginObject(bool multi_line) {
  *out_ += '{';
  scopes_.emplace_back(multi_line, 0);
}

void JsonWriter::EndObject() {
  auto [multi_line, count] = scopes_.back();
  scopes_.pop_back();
  if (multi_line && count != 0) Separator();
  *out_ += '}';
}

void JsonWriter::BeginArray(bool multi_line) {
  *out_ += '[';
  scopes_.emplace_back(multi_line, 0);
}

void JsonWriter::EndArray() {
  auto [multi_line, count] = scopes_.back();
  scopes_.pop_back();
  if (multi_line && count != 0) Separator();
  *out_ += ']';
}

void JsonWriter::Key(std::string_view key) {
  if (scopes_.back().second != 0) *out_ += ", ";
  Separator();
  ++scopes_.back().second;
  *out_ += Quote(key);
  *out_ += ": ";
}

void JsonWriter::Item() {
  if (scopes_.back().second != 0) *out_ += ", ";
  ++scopes_.back().second;
  Separator();
}

void JsonWriter::String(std::string_view value) { *out_ += Quote(value); }

void JsonWriter::Int(int64_t value) { *out_ += std::to_string(value); }

void JsonWriter::Null() { *out_ += "null"; }

std::string JsonWriter::Quote(std::string_view value) {
  std::string s = "\"";
  for (char c : value) {
    switch (c) {
      case '\r': s += "\\r"; break;
      case '\n': s += "\\n"; break;
      case '\\': s += "\\\\"; break;
      case '\t': s += "\\t"; break;
      case '"': s += "\\\""; break;
      default: s += c;
    }
  }
  return s + "\"";
}

}  // namespace loom
