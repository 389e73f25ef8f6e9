// `loom inspect MODEL.json`: what a symbol file needs and produces, with inferred shapes/dtypes,
// and with --train what binding it costs (the executor's memory plan for inference and training).
#include <cstdio>
#include <iomanip>
#include <map>
#include <string_view>

#include "commands.h"
#include "loom/core/executor.h"
#include "loom/core/op_param.h"
#include "loom/core/symbol.h"

namespace loom::cli {
namespace {

struct Options {
  std::string model;
  ShapeDict shapes;
  TypeDict dtypes;
  bool json = false;
  bool train = false;
  std::string save;
};

struct UsageError : Error {
  using Error::Error;
};

std::pair<std::string, std::string> SplitAssignment(const std::string& flag,
                                                    const std::string& value) {
  size_t eq = value.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError(flag + " expects NAME=VALUE but got '" + value + "'");
  }
  return {value.substr(0, eq), value.substr(eq + 1)};
}

Options ParseOptions(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string value;
    bool has_value = false;
    if (arg.starts_with("--") && arg.find('=') != std::string::npos &&
        (arg.starts_with("--shape=") || arg.starts_with("--dtype=") ||
         arg.starts_with("--save="))) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
      has_value = true;
    }
    auto next = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= args.size()) throw UsageError(arg + " expects a value");
      return args[++i];
    };
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--train") {
      o.train = true;
    } else if (arg == "--shape") {
      auto [name, dims] = SplitAssignment(arg, next());
      try {
        o.shapes[name] = Shape::Parse(dims);
      } catch (const Error&) {
        throw UsageError("--shape " + name + ": expected dimensions such as 1,3,224,224 but got '" +
                         dims + "'");
      }
    } else if (arg == "--dtype") {
      auto [name, type] = SplitAssignment(arg, next());
      try {
        o.dtypes[name] = ParseDType(type);
      } catch (const Error& e) {
        throw UsageError("--dtype " + name + ": " + e.message());
      }
    } else if (arg == "--save") {
      o.save = next();
    } else if (arg.starts_with("-")) {
      throw UsageError("unknown option '" + arg +
                       "' (options: --shape, --dtype, --json, --save, --train)");
    } else if (o.model.empty()) {
      o.model = arg;
    } else {
      throw UsageError("expected one model file but got '" + o.model + "' and '" + arg + "'");
    }
  }
  if (o.model.empty()) throw UsageError("expected a model file: loom inspect MODEL.json");
  return o;
}

// Strict JSON string (the names are user data).
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

struct Row {
  std::string name;
  Shape shape;
  DType dtype;
};

void PrintJsonRows(std::ostream& out, const char* key, const std::vector<Row>& rows) {
  out << Quote(key) << ":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out << (i ? "," : "") << "{\"name\":" << Quote(r.name) << ",\"shape\":";
    if (r.shape.IsKnown()) {
      out << "[";
      for (int d = 0; d < r.shape.ndim(); ++d) out << (d ? "," : "") << r.shape[d];
      out << "]";
    } else {
      out << "null";
    }
    out << ",\"dtype\":";
    if (r.dtype == DType::kUnknown) {
      out << "null";
    } else {
      out << Quote(ToString(r.dtype));
    }
    out << "}";
  }
  out << "]";
}

void PrintTextRows(std::ostream& out, const char* title, const std::vector<Row>& rows) {
  out << title << " (" << rows.size() << "):\n";
  size_t width = 4;
  for (const Row& r : rows) width = std::max(width, r.name.size());
  for (const Row& r : rows) {
    std::string shape = r.shape.IsKnown() ? r.shape.ToString() : "unknown";
    if (!r.shape.IsKnown() && r.shape.ndim() > 0) shape += " " + r.shape.ToString();
    out << "  " << std::left << std::setw(static_cast<int>(width) + 2) << r.name << std::setw(24)
        << shape << (r.dtype == DType::kUnknown ? "unknown" : ToString(r.dtype)) << "\n";
  }
}

std::vector<Row> Rows(const std::vector<std::string>& names, const std::vector<Shape>& shapes,
                      const std::vector<DType>& types) {
  std::vector<Row> rows;
  for (size_t i = 0; i < names.size(); ++i) rows.push_back({names[i], shapes[i], types[i]});
  return rows;
}

// The executor's memory plans (Executor::PlanMemory) for inference and for training. Training
// builds gradients for every argument but the inputs given with --shape and the labels (names
// ending in "label"), as a training module binds them.
struct MemoryPlans {
  MemoryPlanStats inference, training;
};

MemoryPlans PlanMemory(const Symbol& symbol, const Options& o, const TypeDict& dtypes) {
  std::map<std::string, std::string, std::less<>> grad_req;
  for (const std::string& name : symbol.ListArguments()) {
    const bool input = o.shapes.count(name) > 0 || name.ends_with("label");
    grad_req[name] = input ? "null" : "write";
  }
  return {Executor::PlanMemory(symbol, o.shapes, dtypes, "null"),
          Executor::PlanMemory(symbol, o.shapes, dtypes, grad_req)};
}

void PrintJsonPlan(std::ostream& out, const char* key, const MemoryPlanStats& s) {
  out << Quote(key) << ":{\"planned_bytes\":" << s.planned_bytes
      << ",\"unplanned_bytes\":" << s.unplanned_bytes << ",\"external_bytes\":" << s.external_bytes
      << ",\"temp_space_bytes\":" << s.temp_space_bytes << ",\"num_storage\":" << s.num_storage
      << ",\"num_entries\":" << s.num_entries << ",\"num_inplace\":" << s.num_inplace << "}";
}

std::string Megabytes(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

void PrintTextPlan(std::ostream& out, const char* title, const MemoryPlanStats& s) {
  out << "  " << std::left << std::setw(11) << title << Megabytes(s.planned_bytes) << " planned ("
      << s.planned_bytes << " bytes in " << s.num_storage << " buffers; "
      << Megabytes(s.unplanned_bytes) << " without in-place and sharing), "
      << Megabytes(s.external_bytes) << " bound arrays, " << Megabytes(s.temp_space_bytes)
      << " temp space\n";
}

}  // namespace

int Inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Options o;
  try {
    o = ParseOptions(args);
  } catch (const UsageError& e) {
    err << "loom inspect: " << e.message() << "\n";
    return kExitFailure;
  }
  try {
    Symbol symbol = Symbol::Load(o.model);
    // As simple_bind: arguments without a dtype (given or in __dtype__) are float32.
    TypeDict dtypes = o.dtypes;
    for (const std::string& name : symbol.ListArguments()) {
      if (!dtypes.count(name) && !symbol.GetInternals()[name].Attr("__dtype__")) {
        dtypes[name] = DType::kFloat32;
      }
    }
    InferredShapes shapes = symbol.InferShapePartial(o.shapes);
    InferredTypes types = symbol.InferTypePartial(dtypes);
    if (!o.save.empty()) symbol.Save(o.save);
    MemoryPlans plans;
    if (o.train) {
      if (!shapes.complete()) {
        std::string names;
        for (const auto& name : shapes.unknown) names += (names.empty() ? "" : ", ") + name;
        throw Error("--train needs every shape to plan memory, but these are not inferred: " +
                    names + " (give them with --shape NAME=D1,D2,...)");
      }
      plans = PlanMemory(symbol, o, dtypes);
    }

    auto args_rows = Rows(symbol.ListArguments(), shapes.arguments, types.arguments);
    auto out_rows = Rows(symbol.ListOutputs(), shapes.outputs, types.outputs);
    auto aux_rows =
        Rows(symbol.ListAuxiliaryStates(), shapes.auxiliary_states, types.auxiliary_states);
    if (o.json) {
      out << "{";
      PrintJsonRows(out, "arguments", args_rows);
      out << ",";
      PrintJsonRows(out, "outputs", out_rows);
      out << ",";
      PrintJsonRows(out, "auxiliary_states", aux_rows);
      if (o.train) {
        out << ",\"memory\":{";
        PrintJsonPlan(out, "inference", plans.inference);
        out << ",";
        PrintJsonPlan(out, "training", plans.training);
        out << "}";
      }
      out << "}\n";
    } else {
      out << o.model << "\n";
      PrintTextRows(out, "arguments", args_rows);
      PrintTextRows(out, "outputs", out_rows);
      PrintTextRows(out, "auxiliary states", aux_rows);
      if (!shapes.complete()) {
        out << "not inferred (give their shapes with --shape NAME=D1,D2,...):";
        for (const auto& name : shapes.unknown) out << " " << name;
        out << "\n";
      }
      if (o.train) {
        out << "memory (the executor's plan for these shapes):\n";
        PrintTextPlan(out, "inference", plans.inference);
        PrintTextPlan(out, "training", plans.training);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::string message = OneLine(e);
    if (!message.starts_with(o.model)) message = o.model + ": " + message;
    err << "loom inspect: " << message << "\n";
    return kExitFailure;
  }
}

}  // namespace loom::cli
