// `loom inspect MODEL.json`: what a symbol file needs and produces, with inferred shapes/dtypes,
// with --train what binding it costs (the executor's memory plan for inference and training), and
// with --group2ctx GROUP=DEVICE,... where each node runs (model parallelism: `__ctx_group__`
// attributes), the cross-device copies inserted and the memory per device, from a real bind.
#include <cstdio>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "commands.h"
#include "loom/core/executor.h"
#include "loom/core/op_param.h"
#include "loom/core/symbol.h"
#include "loom/scheduler/error.h"

namespace loom::cli {
namespace {

struct Options {
  std::string model;
  ShapeDict shapes;
  TypeDict dtypes;
  bool json = false;
  bool train = false;
  std::string save;
  ContextMap group2ctx;
  Context ctx = Context::CPU(0);
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

Context ParseDevice(const std::string& what, const std::string& text) {
  try {
    return Context::Parse(text);
  } catch (const Error&) {
    throw UsageError(what + ": expected a device such as cpu(1) or gpu(0) but got '" + text + "'");
  }
}

Options ParseOptions(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string value;
    bool has_value = false;
    if (arg.starts_with("--") && arg.find('=') != std::string::npos &&
        (arg.starts_with("--shape=") || arg.starts_with("--dtype=") || arg.starts_with("--save=") ||
         arg.starts_with("--group2ctx=") || arg.starts_with("--ctx="))) {
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
    } else if (arg == "--group2ctx") {
      std::stringstream list(next());
      std::string item;
      while (std::getline(list, item, ',')) {
        auto [group, device] = SplitAssignment(arg, item);
        if (device.empty()) {
          throw UsageError("--group2ctx " + group +
                           ": expected a device such as cpu(1) or gpu(0) "
                           "but got nothing");
        }
        if (o.group2ctx.count(group)) {
          throw UsageError("--group2ctx: group '" + group + "' is given twice");
        }
        o.group2ctx[group] = ParseDevice("--group2ctx " + group, device);
      }
      if (o.group2ctx.empty()) throw UsageError("--group2ctx expects GROUP=DEVICE,...");
    } else if (arg == "--ctx") {
      o.ctx = ParseDevice("--ctx", next());
    } else if (arg.starts_with("-")) {
      throw UsageError(
          "unknown option '" + arg +
          "' (options: --shape, --dtype, --json, --save, --train, --group2ctx, --ctx)");
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

// Where every node of the bound graph runs (--group2ctx): a SimpleBind with the given shapes on
// --ctx with group2ctx, for inference (or training with --train).
struct DeviceMemory {
  Context device;
  size_t nodes = 0, planned_bytes = 0, buffers = 0, external_bytes = 0, temp_space_bytes = 0;
};
struct CopyInfo {
  std::string name;
  Context from, to;
  bool backward;
};
struct PlacementReport {
  std::vector<ExecNodeInfo> nodes;
  std::vector<CopyInfo> copies;
  std::vector<DeviceMemory> memory;
  std::vector<std::string> unused_groups;
};

// The per-device lines of Executor::DebugStr ("device cpu(1): 12 nodes, 4096 bytes planned in 3
// buffers, 1024 bytes in bound arrays, 0 bytes temp space").
std::vector<DeviceMemory> MemoryPerDevice(const std::string& debug_str) {
  std::vector<DeviceMemory> out;
  std::istringstream lines(debug_str);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("device ")) continue;
    const size_t colon = line.find(':');
    DeviceMemory m;
    m.device = Context::Parse(line.substr(7, colon - 7));
    char planned[16], buffers[16];
    const int n = std::sscanf(line.c_str() + colon + 1,
                              " %zu nodes, %zu bytes %15s in %zu %15s %zu bytes in bound arrays, "
                              "%zu bytes temp space",
                              &m.nodes, &m.planned_bytes, planned, &m.buffers, buffers,
                              &m.external_bytes, &m.temp_space_bytes);
    LOOM_INTERNAL_ASSERT(n == 7, "unexpected device line in Executor::DebugStr: ", line);
    out.push_back(m);
  }
  return out;
}

// The copies from the "cross-device copies (N): NAME FROM->TO ..." line of Executor::DebugStr.
std::vector<CopyInfo> Copies(const std::string& debug_str, const std::vector<ExecNodeInfo>& nodes) {
  std::map<std::string, bool> backward;
  for (const ExecNodeInfo& n : nodes) backward[n.name] = n.backward;
  std::vector<CopyInfo> out;
  std::istringstream lines(debug_str);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("cross-device copies (")) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string name, route;
    while (words >> name >> route) {
      const size_t arrow = route.find("->");
      LOOM_INTERNAL_ASSERT(arrow != std::string::npos, "unexpected copy in DebugStr: ", route);
      out.push_back({name, Context::Parse(route.substr(0, arrow)),
                     Context::Parse(route.substr(arrow + 2)), backward[name]});
    }
  }
  return out;
}

PlacementReport Place(const Symbol& symbol, const Options& o, const TypeDict& dtypes) {
  std::map<std::string, std::string, std::less<>> grad_req;
  for (const std::string& name : symbol.ListArguments()) {
    const bool input = o.shapes.count(name) > 0 || name.ends_with("label");
    grad_req[name] = o.train && !input ? "write" : "null";
  }
  // MXNet ignores groups no node uses; say so, since it is often a typo.
  std::set<std::string> used;
  for (const auto& [node, attrs] : symbol.AttrDict()) {
    if (auto it = attrs.find("__ctx_group__"); it != attrs.end()) used.insert(it->second);
  }
  PlacementReport r;
  for (const auto& [group, device] : o.group2ctx) {
    if (!used.count(group)) r.unused_groups.push_back(group);
  }
  Executor exe = Executor::SimpleBind(symbol, o.ctx, o.shapes, dtypes, grad_req, o.group2ctx);
  r.nodes = exe.Nodes();
  const std::string debug = exe.DebugStr();
  r.copies = Copies(debug, r.nodes);
  r.memory = MemoryPerDevice(debug);
  return r;
}

void PrintJsonPlacement(std::ostream& out, const Options& o, const PlacementReport& r) {
  out << "\"placement\":{\"ctx\":" << Quote(o.ctx.ToString()) << ",\"group2ctx\":{";
  bool first = true;
  for (const auto& [group, device] : o.group2ctx) {
    out << (first ? "" : ",") << Quote(group) << ":" << Quote(device.ToString());
    first = false;
  }
  out << "},\"nodes\":[";
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const ExecNodeInfo& n = r.nodes[i];
    out << (i ? "," : "") << "{\"name\":" << Quote(n.name)
        << ",\"op\":" << Quote(n.op.empty() ? "null" : n.op)
        << ",\"device\":" << Quote(n.ctx.ToString())
        << ",\"backward\":" << (n.backward ? "true" : "false") << "}";
  }
  out << "],\"copies\":[";
  for (size_t i = 0; i < r.copies.size(); ++i) {
    const CopyInfo& c = r.copies[i];
    out << (i ? "," : "") << "{\"name\":" << Quote(c.name)
        << ",\"from\":" << Quote(c.from.ToString()) << ",\"to\":" << Quote(c.to.ToString()) << "}";
  }
  out << "],\"memory_per_device\":[";
  for (size_t i = 0; i < r.memory.size(); ++i) {
    const DeviceMemory& m = r.memory[i];
    out << (i ? "," : "") << "{\"device\":" << Quote(m.device.ToString())
        << ",\"nodes\":" << m.nodes << ",\"planned_bytes\":" << m.planned_bytes
        << ",\"buffers\":" << m.buffers << ",\"external_bytes\":" << m.external_bytes
        << ",\"temp_space_bytes\":" << m.temp_space_bytes << "}";
  }
  out << "]}";
}

void PrintTextPlacement(std::ostream& out, const Options& o, const PlacementReport& r) {
  out << "placement (bound on " << o.ctx.ToString() << ", group2ctx";
  for (const auto& [group, device] : o.group2ctx) out << " " << group << "=" << device.ToString();
  out << ") for " << (o.train ? "training" : "inference") << ":\n";
  size_t width = 4, op_width = 4;
  for (const ExecNodeInfo& n : r.nodes) {
    width = std::max(width, n.name.size());
    op_width = std::max(op_width, n.op.size());
  }
  for (const ExecNodeInfo& n : r.nodes) {
    out << "  " << std::left << std::setw(static_cast<int>(width) + 2) << n.name
        << std::setw(static_cast<int>(op_width) + 2) << (n.op.empty() ? "null" : n.op)
        << n.ctx.ToString() << (n.backward ? " (backward)" : "") << "\n";
  }
  out << "cross-device copies (" << r.copies.size() << "):\n";
  for (const CopyInfo& c : r.copies) {
    out << "  " << c.name << " " << c.from.ToString() << " -> " << c.to.ToString()
        << (c.backward ? " (backward)" : "") << "\n";
  }
  out << "memory per device:\n";
  for (const DeviceMemory& m : r.memory) {
    out << "  " << std::left << std::setw(9) << m.device.ToString() << m.nodes << " nodes, "
        << Megabytes(m.planned_bytes) << " planned (" << m.planned_bytes << " bytes in "
        << m.buffers << " buffers), " << Megabytes(m.external_bytes) << " bound arrays ("
        << m.external_bytes << " bytes), " << Megabytes(m.temp_space_bytes) << " temp space\n";
  }
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
    if ((o.train || !o.group2ctx.empty()) && !shapes.complete()) {
      std::string names;
      for (const auto& name : shapes.unknown) names += (names.empty() ? "" : ", ") + name;
      throw Error(std::string(o.train ? "--train" : "--group2ctx") +
                  " needs every shape to plan memory, but these are not inferred: " + names +
                  " (give them with --shape NAME=D1,D2,...)");
    }
    if (o.train) plans = PlanMemory(symbol, o, dtypes);
    PlacementReport placement;
    if (!o.group2ctx.empty()) {
      placement = Place(symbol, o, dtypes);
      for (const std::string& group : placement.unused_groups) {
        err << "loom inspect: warning: --group2ctx group '" << group
            << "' is used by no node (ignored, as MXNet does)\n";
      }
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
      if (!o.group2ctx.empty()) {
        out << ",";
        PrintJsonPlacement(out, o, placement);
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
      if (!o.group2ctx.empty()) PrintTextPlacement(out, o, placement);
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
