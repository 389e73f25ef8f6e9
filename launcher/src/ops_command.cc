// `loom ops [NAME]`: the operator registry.
#include <iomanip>

#include "commands.h"
#include "loom/core/operator.h"

namespace loom::cli {

int Ops(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() > 1) {
    err << "loom ops: expected at most one operator name\n";
    return kExitFailure;
  }
  if (args.empty()) {
    for (const OpSchema* op : OpRegistry::Global().List()) {
      out << op->name();
      for (const auto& alias : op->aliases()) out << " " << alias;
      out << "\n";
    }
    return 0;
  }
  const OpSchema& op = OpRegistry::Global().Get(args[0]);
  out << op.name();
  if (!op.aliases().empty()) {
    out << " (aliases:";
    for (const auto& alias : op.aliases()) out << " " << alias;
    out << ")";
  }
  out << "\n\n" << op.doc() << "\n\nparameters:\n";
  if (op.params().empty()) out << "  (none)\n";
  for (const auto& f : op.params().fields()) {
    out << "  " << f.name << " : " << f.type << ", "
        << (f.default_text == "required" ? std::string("required") : "default=" + f.default_text)
        << "\n      " << f.doc << "\n";
  }
  if (op.is_variadic()) {
    out << "\ninputs: a variable number, counted by " << op.variadic_count_param() << "\n";
  }
  return 0;
}

}  // namespace loom::cli
