// ExperimentToYaml: the resolved experiment, every key in schema order, defaults included.
//
// Fields that are unset and have no default in the schema (model.symbol, optimizer.rescale_grad,
// data.flatten, ...) print as `~`, which reads back as "not set"; so does data.val, whose presence
// means "evaluate after every epoch". Every other unset section prints with its defaults.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "config/config_internal.h"
#include "loom/scheduler/error.h"
#include "loom/train/config.h"

namespace loom::train {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;
using detail::JoinPath;

// Sections whose absence differs from their defaults.
const std::set<std::string> kOptionalSections = {"data.val"};
constexpr size_t kFlowWidth = 100;

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::set<std::string> kReserved = {"true", "false", "yes", "no",   "on",
                                                  "off",  "y",     "n",   "null", "~"};
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (kReserved.count(lower)) return true;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_' || s[0] == '/')) return true;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
          c == '-' || c == '(' || c == ')')) {
      return true;
    }
  }
  return false;
}

std::string Quote(const std::string& s) {
  if (!NeedsQuotes(s)) return s;
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          static const char* kHex = "0123456789abcdef";
          out += "\\x";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// Shortest text that reads back to the same value, with a '.' so that YAML tools see a float.
template <typename T>
std::string FormatReal(T v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  LOOM_INTERNAL_ASSERT(ec == std::errc(), "to_chars");
  std::string s(buf, end);
  if (s.find('.') == std::string::npos) {
    size_t e = s.find('e');
    s.insert(e == std::string::npos ? s.size() : e, ".0");
  }
  return s;
}

// One scalar value (index < 0: the singular field's value or default).
std::string Scalar(const pb::Message& m, const FD* f, int index) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      return std::to_string(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FD::CPPTYPE_INT64:
      return std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FD::CPPTYPE_UINT32:
      return std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FD::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FD::CPPTYPE_FLOAT:
      return FormatReal(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FD::CPPTYPE_DOUBLE:
      return FormatReal(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FD::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case FD::CPPTYPE_STRING:
      return Quote(rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
    case FD::CPPTYPE_ENUM:
      return (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
    case FD::CPPTYPE_MESSAGE:
      break;
  }
  LOOM_INTERNAL_ASSERT(false, "Scalar() on message field ", f->full_name());
  return {};
}

class Writer {
 public:
  explicit Writer(std::ostringstream* out) : out_(*out) {}

  void Message(const pb::Message& m, const std::string& path, int indent) {
    const pb::Descriptor* d = m.GetDescriptor();
    const pb::Reflection* r = m.GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const FD* f = d->field(i);
      // A resolved experiment has no includes (LoadExperiment follows them).
      if (path.empty() && d == proto::Experiment::descriptor() && f->name() == "include") continue;
      const std::string p = JoinPath(path, f->name());
      const std::string pad(indent, ' ');
      const std::string head = pad + f->name() + ":";
      if (f->is_map()) {
        Map(m, f, p, head, indent);
      } else if (f->is_repeated()) {
        List(m, f, p, head, indent);
      } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        if (!r->HasField(m, f) && kOptionalSections.count(p)) {
          out_ << head << " ~\n";
        } else if (f->message_type()->field_count() == 0) {
          out_ << head << " {}\n";
        } else {
          out_ << head << "\n";
          Message(r->GetMessage(m, f), p, indent + 2);
        }
      } else if (!r->HasField(m, f) && !f->has_default_value()) {
        out_ << head << " ~\n";
      } else {
        out_ << head << " " << Scalar(m, f, -1) << "\n";
      }
    }
  }

 private:
  void List(const pb::Message& m, const FD* f, const std::string& path, const std::string& head,
            int indent) {
    const pb::Reflection* r = m.GetReflection();
    const int n = r->FieldSize(m, f);
    if (f->cpp_type() != FD::CPPTYPE_MESSAGE) {
      std::string flow = "[";
      for (int i = 0; i < n; ++i) flow += (i ? ", " : "") + Scalar(m, f, i);
      flow += "]";
      if (head.size() + 1 + flow.size() <= kFlowWidth) {
        out_ << head << " " << flow << "\n";
      } else {
        out_ << head << "\n";
        for (int i = 0; i < n; ++i) {
          out_ << std::string(indent + 2, ' ') << "- " << Scalar(m, f, i) << "\n";
        }
      }
      return;
    }
    if (n == 0) {
      out_ << head << " []\n";
      return;
    }
    out_ << head << "\n";
    for (int i = 0; i < n; ++i) {
      Item(r->GetRepeatedMessage(m, f, i), path + "[" + std::to_string(i) + "]", indent + 2);
    }
  }

  // One list item that is a message: "- key: value" then the other keys aligned under it.
  void Item(const pb::Message& item, const std::string& path, int indent) {
    std::ostringstream body;
    Writer(&body).Message(item, path, indent + 2);
    std::string text = body.str();
    if (text.empty()) {
      out_ << std::string(indent, ' ') << "- {}\n";
      return;
    }
    text.replace(indent, 2, "- ");
    out_ << text;
  }

  void Map(const pb::Message& m, const FD* f, const std::string& path, const std::string& head,
           int indent) {
    const pb::Reflection* r = m.GetReflection();
    const FD* key_f = f->message_type()->map_key();
    const FD* value_f = f->message_type()->map_value();
    std::vector<std::pair<std::string, const pb::Message*>> entries;
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      const pb::Message& e = r->GetRepeatedMessage(m, f, i);
      entries.emplace_back(Scalar(e, key_f, -1), &e);
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    if (value_f->cpp_type() != FD::CPPTYPE_MESSAGE) {
      std::string flow = "{";
      for (size_t i = 0; i < entries.size(); ++i) {
        flow += (i ? ", " : "") + entries[i].first + ": " + Scalar(*entries[i].second, value_f, -1);
      }
      flow += "}";
      if (head.size() + 1 + flow.size() <= kFlowWidth) {
        out_ << head << " " << flow << "\n";
        return;
      }
    }
    if (entries.empty()) {
      out_ << head << " {}\n";
      return;
    }
    out_ << head << "\n";
    const std::string pad(indent + 2, ' ');
    for (const auto& [key, entry] : entries) {
      if (value_f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        out_ << pad << key << ":\n";
        Message(entry->GetReflection()->GetMessage(*entry, value_f), JoinPath(path, key),
                indent + 4);
      } else {
        out_ << pad << key << ": " << Scalar(*entry, value_f, -1) << "\n";
      }
    }
  }

  std::ostringstream& out_;
};

}  // namespace

std::string ExperimentToYaml(const proto::Experiment& experiment) {
  std::ostringstream out;
  out << "# Loom experiment, resolved: every key with its value (defaults included; ~ = not set).\n"
         "# Keys and defaults: docs/configs.md (schema: "
         "launcher/proto/loom/proto/experiment.proto).\n";
  Writer(&out).Message(experiment, "", 0);
  return out.str();
}

}  // namespace loom::train
