// The operator registry: every operator is defined once, with one macro and a fluent chain, and
// that schema is all the symbolic layer, the graph passes and (next) the executor know of it.
//
//   struct ActivationParam {
//     enum class Act { kRelu, kSigmoid } act_type = Act::kRelu;
//     static void Declare(loom::ParamDeclarer<ActivationParam>& d) {
//       d("act_type", &ActivationParam::act_type)
//           .Enum<Act>({{"relu", Act::kRelu}, {"sigmoid", Act::kSigmoid}})
//           .Describe("Activation function.");
//     }
//   };
//   LOOM_REGISTER_OP(Activation)
//       .Describe("Elementwise activation.")
//       .Params<ActivationParam>()
//       .Inputs({"data"})
//       .InferShape(loom::ElemwiseShape)
//       .InferType(loom::ElemwiseType);
//
//   const loom::OpSchema& op = loom::OpRegistry::Global().Get("Activation");
//
// Inputs may depend on parameters (FullyConnected's no_bias), be variadic (Concat's num_args
// inputs arg0, arg1, ...) or be auxiliary states (BatchNorm's moving_mean). Outputs may be
// partly hidden (BatchNorm shows 1 of 3). Shape and type functions read known input and output
// values and set what they can determine, in both directions; conflicting values throw an error
// naming the node, operator, input and both values.
//
// Registration happens during static initialisation and fails loudly (throws) on a duplicate name
// or alias. Lookups are thread-safe; a schema must not be changed once symbols use it.
#pragma once

#include <any>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/graph.h"
#include "loom/core/op_param.h"
#include "loom/core/shape.h"
#include "loom/scheduler/context.h"
#include "loom/scheduler/error.h"

namespace loom {

/// Merges `src` into `dst` with MXNet 1.x semantics: ndim 0 is unknown, a 0 dimension is unknown.
/// Returns false when both are known and differ.
bool MergeShape(Shape* dst, const Shape& src);
/// Merges a dtype (kUnknown is unknown). Returns false when both are known and differ.
bool MergeType(DType* dst, DType src);

/// What an inference function sees for one node: its attributes, the current input and output
/// values (Shape or DType), and setters that merge new knowledge and report conflicts.
template <typename T>
class InferContext {
 public:
  InferContext(const NodeAttrs& attrs, std::vector<T>* inputs, std::vector<T>* outputs,
               const std::vector<std::string>* input_names,
               const std::vector<std::string>* input_sources)
      : attrs_(attrs),
        inputs_(inputs),
        outputs_(outputs),
        input_names_(input_names),
        input_sources_(input_sources) {}

  const NodeAttrs& attrs() const { return attrs_; }
  template <typename P>
  const P& param() const {
    return attrs_.param<P>();
  }
  size_t num_inputs() const { return inputs_->size(); }
  size_t num_outputs() const { return outputs_->size(); }
  const T& in(size_t i) const { return (*inputs_)[i]; }
  const T& out(size_t i) const { return (*outputs_)[i]; }
  /// Merges `value` into input i; throws ShapeError/DTypeError naming the node, operator, input
  /// and both values when they disagree. `why` (optional) says where the expectation comes from.
  void SetIn(size_t i, const T& value, std::string_view why = {});
  void SetOut(size_t i, const T& value, std::string_view why = {});
  /// Throws ShapeError/DTypeError "<node>: <Op> <message>".
  [[noreturn]] void Fail(std::string_view message) const;
  /// "input 'weight' (fc1_weight)".
  std::string DescribeInput(size_t i) const;

 private:
  const NodeAttrs& attrs_;
  std::vector<T>* inputs_;
  std::vector<T>* outputs_;
  const std::vector<std::string>* input_names_;
  const std::vector<std::string>* input_sources_;
};
using ShapeContext = InferContext<Shape>;
using TypeContext = InferContext<DType>;

using InferShapeFn = std::function<void(ShapeContext&)>;
using InferTypeFn = std::function<void(TypeContext&)>;
using ListNamesFn = std::function<std::vector<std::string>(const NodeAttrs&)>;
using CountFn = std::function<uint32_t(const NodeAttrs&)>;
/// Called on each variable input while composing (MXNet's FSetInputVarAttrOnCompose): may add
/// attributes to the variable's dictionary (BatchNorm's `__init__` on its moving statistics).
using SetInputVarAttrFn =
    std::function<void(const NodeAttrs& op_attrs, StrMap* var_dict, uint32_t input_index)>;
/// Pairs (input index, output index) that may share memory.
using InplaceFn = std::function<std::vector<std::pair<int, int>>(const NodeAttrs&)>;
/// Gradient graph of a node (the executor's contract, docs/executor.md): `out_grads` holds one
/// entry per output of `node` (hidden outputs included; an output that receives no gradient gets a
/// `_grad_zeros` entry of its shape). Returns exactly one entry per input, in input order, each
/// with that input's shape and dtype; `NodeEntry{}` means a zero gradient (BlockGrad, labels), and
/// entries at auxiliary-state positions are ignored. New nodes are ordinary operator nodes, usually
/// `_backward_<Op>` made with loom::MakeBackwardNode (loom/core/gradient.h): the forward node's
/// attributes (dict and parsed parameters), name `<node>_backward`, control_deps[0] = node.
using GradientFn = std::function<std::vector<NodeEntry>(const NodePtr& node,
                                                        const std::vector<NodeEntry>& out_grads)>;

/// Resources a kernel asks the executor for. kCount keeps the name table in step.
/// kReplicaReducer: OpContext::replica_reducer (cross-replica sums, loom/core/replica_reducer.h),
/// given only when the executor has a reducer; the executor then runs the node's operations in
/// push order relative to every other node using it.
enum class ResourceKind : uint8_t { kTempSpace = 0, kRandom, kReplicaReducer, kCount };
const char* ToString(ResourceKind kind);
using ResourceFn = std::function<std::vector<ResourceKind>(const NodeAttrs&)>;
/// Bytes of scratch memory (ResourceKind::kTempSpace) a node's kernel needs, from its attributes
/// and its inputs' and outputs' shapes and dtypes, as known when the executor binds.
using TempSpaceFn =
    std::function<size_t(const NodeAttrs& attrs, std::span<const Shape> in_shapes,
                         std::span<const DType> in_types, std::span<const Shape> out_shapes)>;

/// Every input, output and output the same shape (unknown values filled from known ones).
void ElemwiseShape(ShapeContext& ctx);
/// Every input and output the same dtype.
void ElemwiseType(TypeContext& ctx);

/// One operator's definition. Built by the LOOM_REGISTER_OP chain; read by everything else.
class OpSchema {
 public:
  OpSchema(std::string name, std::string file, int line);
  OpSchema(const OpSchema&) = delete;
  OpSchema& operator=(const OpSchema&) = delete;

  // ---- registration chain ----
  OpSchema& Describe(std::string doc);
  /// Another name the operator answers to (`Softmax` for SoftmaxOutput); must be unique.
  OpSchema& Alias(std::string alias);
  /// The parameter struct (see op_param.h).
  template <typename P>
  OpSchema& Params() {
    params_ = ParamSchema::Of<P>();
    return *this;
  }
  /// Fixed input names.
  OpSchema& Inputs(std::vector<std::string> names);
  /// Input names that depend on the parameters (FullyConnected without bias).
  OpSchema& Inputs(ListNamesFn names);
  /// A variable number of inputs `<prefix>0, <prefix>1, ...`, counted by the integer parameter
  /// `count_param` (set automatically to the number of inputs given when absent). With
  /// Inputs(fn) as well, fn names the inputs (UpSampling: arg0, ... for nearest, but data and
  /// weight for bilinear whatever num_args says).
  OpSchema& VariadicInputs(std::string count_param, std::string prefix = "arg");
  /// Inputs (by name) that are auxiliary states: written by the operator, never given gradients.
  OpSchema& AuxStates(std::vector<std::string> names);
  /// Named outputs (MXNet's FListOutputNames); the count follows.
  OpSchema& Outputs(std::vector<std::string> names);
  OpSchema& Outputs(ListNamesFn names);
  /// Unnamed outputs: a Symbol names them `<node>_output` or `<node>_output<i>`.
  OpSchema& NumOutputs(uint32_t n);
  OpSchema& NumOutputs(CountFn n);
  /// How many leading outputs a Symbol exposes (default: all).
  OpSchema& NumVisibleOutputs(uint32_t n);
  OpSchema& NumVisibleOutputs(CountFn n);
  OpSchema& InferShape(InferShapeFn fn);
  OpSchema& InferType(InferTypeFn fn);
  OpSchema& SetInputVarAttrOnCompose(SetInputVarAttrFn fn);
  // Slots the executor (next issue) fills and reads.
  OpSchema& Gradient(GradientFn fn);
  OpSchema& InplaceOptions(InplaceFn fn);
  OpSchema& Resources(ResourceFn fn);
  /// How much temp space the kernel needs; required when Resources asks for kTempSpace.
  OpSchema& TempSpace(TempSpaceFn fn);
  /// A compute kernel for one device type; the executor defines the function type it stores and
  /// reads back with kernel<Fn>().
  template <typename Fn>
  OpSchema& Kernel(DeviceType device, Fn fn) {
    return KernelAny(device, std::any(std::move(fn)));
  }
  OpSchema& KernelAny(DeviceType device, std::any fn);

  // ---- queries ----
  const std::string& name() const { return name_; }
  const std::string& doc() const { return doc_; }
  const std::vector<std::string>& aliases() const { return aliases_; }
  const ParamSchema& params() const { return params_; }
  /// "file:line" of the registration.
  std::string location() const;

  /// Parses attrs->dict into attrs->parsed; throws naming the operator, node and parameter.
  void ParseParams(NodeAttrs* attrs) const;
  std::vector<std::string> ListInputNames(const NodeAttrs& attrs) const;
  uint32_t NumInputs(const NodeAttrs& attrs) const;
  bool is_variadic() const { return !variadic_count_param_.empty(); }
  const std::string& variadic_count_param() const { return variadic_count_param_; }
  /// Input indices that are auxiliary states.
  std::vector<uint32_t> AuxInputIndices(const NodeAttrs& attrs) const;
  uint32_t NumOutputs(const NodeAttrs& attrs) const;
  uint32_t NumVisibleOutputs(const NodeAttrs& attrs) const;
  /// Registered output names, or nullopt when the operator leaves them unnamed.
  std::optional<std::vector<std::string>> ListOutputNames(const NodeAttrs& attrs) const;
  const InferShapeFn& infer_shape() const { return infer_shape_; }
  /// The type function (ElemwiseType unless the operator set one).
  const InferTypeFn& infer_type() const { return infer_type_; }
  const SetInputVarAttrFn& set_input_var_attr() const { return set_input_var_attr_; }
  const GradientFn& gradient() const { return gradient_; }
  const InplaceFn& inplace_options() const { return inplace_; }
  const ResourceFn& resources() const { return resources_; }
  const TempSpaceFn& temp_space() const { return temp_space_; }
  template <typename Fn>
  const Fn* kernel(DeviceType device) const {
    return std::any_cast<Fn>(&kernels_[static_cast<size_t>(device)]);
  }
  bool has_kernel(DeviceType device) const {
    return kernels_[static_cast<size_t>(device)].has_value();
  }

 private:
  std::string name_, doc_, file_;
  int line_ = 0;
  std::vector<std::string> aliases_;
  ParamSchema params_;
  std::vector<std::string> fixed_inputs_{"data"};
  ListNamesFn input_fn_;
  std::string variadic_count_param_, variadic_prefix_;
  std::vector<std::string> aux_names_;
  std::optional<std::vector<std::string>> fixed_outputs_;
  ListNamesFn output_fn_;
  CountFn num_outputs_fn_;
  uint32_t num_outputs_ = 1;
  CountFn num_visible_fn_;
  std::optional<uint32_t> num_visible_;
  InferShapeFn infer_shape_;
  InferTypeFn infer_type_ = ElemwiseType;
  SetInputVarAttrFn set_input_var_attr_;
  GradientFn gradient_;
  InplaceFn inplace_;
  ResourceFn resources_;
  TempSpaceFn temp_space_;
  std::array<std::any, static_cast<size_t>(DeviceType::kCount)> kernels_;
};

/// All registered operators, by name and alias.
class OpRegistry {
 public:
  static OpRegistry& Global();

  /// Adds an operator; throws loom::Error when the name is taken.
  OpSchema& Register(std::string name, const char* file, int line);
  /// Adds an alias of a registered operator; throws when the alias is taken.
  void AddAlias(std::string alias, OpSchema* op);
  /// The operator with this name or alias, or nullptr.
  const OpSchema* Find(std::string_view name) const;
  /// Like Find; throws loom::Error "unknown operator 'X'" (with the closest names) otherwise.
  const OpSchema& Get(std::string_view name) const;
  /// Every operator once, sorted by name.
  std::vector<const OpSchema*> List() const;

  /// Attaches a kernel for `device` to operator `name` from a file other than the one that
  /// registers it (the GPU kernels in operators/cuda/): at once when the operator is registered,
  /// otherwise as soon as it is (static initialisers run in no set order across files).
  /// Throws loom::Error when the operator already has a kernel for that device.
  void AddKernel(std::string name, DeviceType device, std::any fn, const char* file, int line);
  /// "name (file:line)" of every kernel added for a name no operator has taken (a typo in a
  /// kernel file); empty when all are attached.
  std::vector<std::string> UnattachedKernels() const;

 private:
  struct PendingKernel {
    DeviceType device;
    std::any fn;
    std::string location;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<OpSchema>, std::less<>> ops_;
  std::map<std::string, OpSchema*, std::less<>> by_name_;
  std::multimap<std::string, PendingKernel, std::less<>> pending_kernels_;
};

}  // namespace loom

#define LOOM_OP_CONCAT_INNER(a, b) a##b
#define LOOM_OP_CONCAT(a, b) LOOM_OP_CONCAT_INNER(a, b)

/// Registers operator `Name` (an identifier, as written in symbol files) and starts its chain.
#define LOOM_REGISTER_OP(Name)                                                      \
  [[maybe_unused]] static ::loom::OpSchema& LOOM_OP_CONCAT(loom_op_registration_, \
                                                           __COUNTER__) =           \
      ::loom::OpRegistry::Global().Register(#Name, __FILE__, __LINE__)

/// Attaches kernel `Fn` (e.g. FCompute(ReluForwardGpu)) for `Device` (e.g. kGPU) to the operator
/// registered elsewhere under `Name` (a string: "relu", "_backward_relu").
#define LOOM_REGISTER_KERNEL(Name, Device, Fn)                                           \
  [[maybe_unused]] static const bool LOOM_OP_CONCAT(loom_kernel_registration_,          \
                                                    __COUNTER__) =                      \
      (::loom::OpRegistry::Global().AddKernel(Name, ::loom::DeviceType::Device, Fn,     \
                                              __FILE__, __LINE__),                      \
       true)
