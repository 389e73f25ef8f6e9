// Symbol: an immutable handle to a graph of variables and operators with one or more outputs,
// built, named, annotated, inferred and saved exactly as MXNet 1.9's Symbol.
//
//   using loom::Symbol;
//   Symbol data = Symbol::Variable("data");
//   Symbol fc1 = Symbol::Op("FullyConnected").Input("data", data).Param("num_hidden", 128)
//                    .Name("fc1");
//   Symbol net = Symbol::Op("SoftmaxOutput").Input("data", fc1).Name("out");
//   net.ListArguments();      // data, fc1_weight, fc1_bias, out_label
//   auto shapes = net.InferShape({{"data", loom::Shape{100, 100}}});   // fc1_weight (128,100)
//   Symbol c = data * 2 + data;   // _mulscalar0, _plus0
//   std::string json = net.ToJSON();   // MXNet 1.9's symbol file
//
// Operators can also be created with typed wrappers (loom/operators/symbol_ops.h). Names follow
// MXNet: unnamed operators are `<op lowercased><counter>` (NameManager), missing inputs become
// variables `<node>_<input>` copying the node's attributes, outputs are `<node>_output`.
//
// Thread safety: Symbols are values that share immutable nodes; const member functions may be
// called from any thread. Creating symbols uses this thread's NameManager and AttrScope.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/graph.h"
#include "loom/core/op_param.h"
#include "loom/core/shape.h"

namespace loom {

/// A number given to an operator or attribute, remembering whether it was an integer so it is
/// written as Python writes it ("1" for 1, "1.0" for 1.0, "0.001").
struct Scalar {
  Scalar(int v) : value(v), is_int(true) {}
  Scalar(int64_t v) : value(static_cast<double>(v)), is_int(true) {}
  Scalar(double v) : value(v), is_int(false) {}
  Scalar(float v) : value(v), is_int(false) {}
  std::string ToString() const;
  double value;
  bool is_int;
};

using ShapeDict = std::map<std::string, Shape, std::less<>>;
using TypeDict = std::map<std::string, DType, std::less<>>;
using NamedSymbols = std::vector<std::pair<std::string, class Symbol>>;

/// Options of Symbol::Variable, stored as MXNet's hidden attributes.
struct VariableOptions {
  StrMap attr{};  ///< user attributes (hidden keys such as lr_mult become __lr_mult__)
  std::optional<Shape> shape{};       ///< __shape__
  std::optional<DType> dtype{};       ///< __dtype__ (MXNet's type code)
  std::optional<Scalar> lr_mult{};    ///< __lr_mult__
  std::optional<Scalar> wd_mult{};    ///< __wd_mult__
  std::optional<std::string> init{};  ///< __init__ (an initializer's JSON, e.g. ["zero", {}])
};

/// Result of shape or type inference, in list_arguments / list_outputs /
/// list_auxiliary_states order. Unknown values are Shape() / DType::kUnknown.
template <typename T>
struct Inferred {
  std::vector<T> arguments;
  std::vector<T> outputs;
  std::vector<T> auxiliary_states;
  /// Names of the arguments, auxiliary states and outputs still (partly) unknown.
  std::vector<std::string> unknown;
  bool complete() const { return unknown.empty(); }
};
using InferredShapes = Inferred<Shape>;
using InferredTypes = Inferred<DType>;

class OpCall;

class Symbol {
 public:
  /// An empty symbol (no outputs).
  Symbol() = default;
  explicit Symbol(std::vector<NodeEntry> outputs) : outputs_(std::move(outputs)) {}

  // ---- creation ----
  /// A free variable (an argument). Applies the current AttrScope.
  static Symbol Variable(std::string_view name, const VariableOptions& options = {});
  /// Starts an operator call by operator name or alias (see OpCall).
  static OpCall Op(std::string_view op_name);
  /// Concatenation of the outputs of `symbols`.
  static Symbol Group(const std::vector<Symbol>& symbols);

  /// General composition (MXNet's `net(data=net2, name=...)`): a copy of this graph in which
  /// each variable named in `inputs` is replaced by that symbol's single output; `name`, when
  /// given, renames the head node. Throws when a name matches no variable.
  Symbol Compose(const NamedSymbols& inputs, std::string_view name = {}) const;
  Symbol operator()(const NamedSymbols& inputs, std::string_view name = {}) const {
    return Compose(inputs, name);
  }

  // ---- structure ----
  size_t num_outputs() const { return outputs_.size(); }
  const std::vector<NodeEntry>& outputs() const { return outputs_; }
  /// Output i as a symbol.
  Symbol operator[](size_t index) const;
  /// The output named `name` (as list_outputs names it); throws when absent or ambiguous.
  Symbol operator[](std::string_view name) const;
  /// The head node's name when there is one output, else nullopt.
  std::optional<std::string> name() const;
  /// Every node's visible outputs (variables included), in graph order.
  Symbol GetInternals() const;
  /// The inputs of the head node(s); nullopt when there are none (a variable).
  std::optional<Symbol> GetChildren() const;
  /// A copy with new nodes (same names and attributes).
  Symbol DeepCopy() const;

  std::vector<std::string> ListArguments() const;
  std::vector<std::string> ListOutputs() const;
  std::vector<std::string> ListAuxiliaryStates() const;
  /// Arguments and auxiliary states, in graph order.
  std::vector<std::string> ListInputs() const;

  // ---- attributes ----
  /// The head node's attribute `key` (also `__key__` for hidden keys such as lr_mult).
  std::optional<std::string> Attr(std::string_view key) const;
  /// The head node's attributes (operator parameters excluded), with hidden keys also under
  /// their bare names.
  StrMap ListAttr() const;
  /// Attributes of every node as flat keys `<node>_<key>` (operator parameters excluded).
  StrMap ListAttrRecursive() const;
  /// Every node's whole dictionary (parameters included), hidden keys also under bare names;
  /// nodes without attributes are absent.
  std::map<std::string, StrMap> AttrDict() const;
  /// A copy whose head node(s) carry these extra attributes (hidden keys become __key__).
  Symbol WithAttrs(const StrMap& attrs) const;

  // ---- inference ----
  /// Full inference; nullopt when some argument, auxiliary state or output stays unknown.
  /// Throws ShapeError naming node, operator, input and both shapes on inconsistency.
  std::optional<InferredShapes> InferShape(const ShapeDict& known = {}) const;
  InferredShapes InferShapePartial(const ShapeDict& known = {}) const;
  std::optional<InferredTypes> InferType(const TypeDict& known = {}) const;
  InferredTypes InferTypePartial(const TypeDict& known = {}) const;

  // ---- serialization (symbol_json.cc) ----
  /// MXNet 1.9's JSON (mxnet_version 10901), byte for byte.
  std::string ToJSON() const;
  /// Reads every era of MXNet symbol files, upgrading old ones as MXNet does. `source` names the
  /// text in error messages (a file name).
  static Symbol FromJSON(std::string_view json, std::string_view source = "<json>");
  void Save(const std::string& path) const;
  static Symbol Load(const std::string& path);

 private:
  friend class OpCall;
  std::vector<NodeEntry> outputs_;
};

/// An operator call being put together: inputs (positional or named), parameters, attributes
/// and a name. Build() (or conversion to Symbol) creates the node, its automatic variables and
/// names, exactly as MXNet's generated operator functions do.
class OpCall {
 public:
  explicit OpCall(std::string_view op_name);

  /// Next positional input (variadic operators take only these).
  OpCall& Input(const Symbol& input);
  /// Input by name ("data", "weight", ...).
  OpCall& Input(std::string name, const Symbol& input);
  OpCall& Inputs(const std::vector<Symbol>& inputs);
  /// Parameter from its string form, as symbol files store it ("(3, 3)", "True").
  OpCall& Param(std::string key, std::string value);
  OpCall& Param(std::string key, const char* value) { return Param(std::move(key), std::string(value)); }
  OpCall& Param(std::string key, bool value) { return Param(std::move(key), FormatParam(value)); }
  OpCall& Param(std::string key, int value) { return Param(std::move(key), FormatParam(value)); }
  OpCall& Param(std::string key, int64_t value) { return Param(std::move(key), FormatParam(value)); }
  OpCall& Param(std::string key, double value) { return Param(std::move(key), FormatParam(value)); }
  OpCall& Param(std::string key, const Shape& value) {
    return Param(std::move(key), FormatParam(value));
  }
  OpCall& Param(std::string key, DType value) { return Param(std::move(key), FormatParam(value)); }
  OpCall& Params(const StrMap& params);
  /// Attribute (not a parameter): copied to automatically created variables too.
  OpCall& Attr(std::string key, std::string value);
  OpCall& Attrs(const StrMap& attrs);
  OpCall& Name(std::string name);

  Symbol Build() const;
  operator Symbol() const { return Build(); }

 private:
  std::string op_name_;
  std::vector<Symbol> positional_;
  NamedSymbols named_;
  std::vector<std::pair<std::string, std::string>> params_;
  StrMap attrs_;
  std::string name_;
};

// Elementwise arithmetic, named as MXNet names it (`_plus0`, `_plusscalar0`, `_rminusscalar0`).
Symbol operator+(const Symbol& lhs, const Symbol& rhs);
Symbol operator-(const Symbol& lhs, const Symbol& rhs);
Symbol operator*(const Symbol& lhs, const Symbol& rhs);
Symbol operator/(const Symbol& lhs, const Symbol& rhs);
Symbol operator+(const Symbol& lhs, Scalar rhs);
Symbol operator-(const Symbol& lhs, Scalar rhs);
Symbol operator*(const Symbol& lhs, Scalar rhs);
Symbol operator/(const Symbol& lhs, Scalar rhs);
Symbol operator+(Scalar lhs, const Symbol& rhs);
Symbol operator-(Scalar lhs, const Symbol& rhs);
Symbol operator*(Scalar lhs, const Symbol& rhs);
Symbol operator/(Scalar lhs, const Symbol& rhs);
/// -x = x * -1.0 (MXNet's __neg__).
Symbol operator-(const Symbol& operand);

}  // namespace loom
