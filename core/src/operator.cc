#include "loom/core/operator.h"

#include <algorithm>

namespace loom {

namespace {
// Bounds a variadic operator's input count so a hostile file cannot ask for billions of inputs.
constexpr int64_t kMaxVariadicInputs = 1 << 16;
}  // namespace

bool MergeShape(Shape* dst, const Shape& src) {
  if (src.ndim() == 0) return true;
  if (dst->ndim() == 0) {
    *dst = src;
    return true;
  }
  if (dst->ndim() != src.ndim()) return false;
  for (int i = 0; i < src.ndim(); ++i) {
    if ((*dst)[i] == 0) {
      (*dst)[i] = src[i];
    } else if (src[i] != 0 && src[i] != (*dst)[i]) {
      return false;
    }
  }
  return true;
}

bool MergeType(DType* dst, DType src) {
  if (src == DType::kUnknown) return true;
  if (*dst == DType::kUnknown) {
    *dst = src;
    return true;
  }
  return *dst == src;
}

namespace {

std::string ValueText(const Shape& s) { return s.ToString(); }
std::string ValueText(DType t) { return ToString(t); }
bool Merge(Shape* dst, const Shape& src) { return MergeShape(dst, src); }
bool Merge(DType* dst, DType src) { return MergeType(dst, src); }
template <typename T>
constexpr const char* kWhat = std::is_same_v<T, Shape> ? "shape" : "dtype";

template <typename T>
[[noreturn]] void Throw(std::string message) {
  if constexpr (std::is_same_v<T, Shape>) {
    throw ShapeError(std::move(message));
  } else {
    throw DTypeError(std::move(message));
  }
}

}  // namespace

template <typename T>
std::string InferContext<T>::DescribeInput(size_t i) const {
  std::string name = input_names_ && i < input_names_->size() ? (*input_names_)[i]
                                                               : "#" + std::to_string(i);
  std::string s = "input '" + name + "'";
  if (input_sources_ && i < input_sources_->size() && !(*input_sources_)[i].empty() &&
      (*input_sources_)[i] != name) {
    s += " ('" + (*input_sources_)[i] + "')";
  }
  return s;
}

template <typename T>
void InferContext<T>::Fail(std::string_view message) const {
  Throw<T>(attrs_.name + ": " + attrs_.op->name() + " " + std::string(message));
}

template <typename T>
void InferContext<T>::SetIn(size_t i, const T& value, std::string_view why) {
  LOOM_INTERNAL_ASSERT(i < inputs_->size(), "input index ", i, " out of range for ",
                       attrs_.op->name());
  T merged = (*inputs_)[i];
  if (!Merge(&merged, value)) {
    Fail(DescribeInput(i) + " has " + kWhat<T> + " " + ValueText((*inputs_)[i]) + " but expected " +
         ValueText(value) + (why.empty() ? "" : " from " + std::string(why)));
  }
  (*inputs_)[i] = std::move(merged);
}

template <typename T>
void InferContext<T>::SetOut(size_t i, const T& value, std::string_view why) {
  LOOM_INTERNAL_ASSERT(i < outputs_->size(), "output index ", i, " out of range for ",
                       attrs_.op->name());
  T merged = (*outputs_)[i];
  if (!Merge(&merged, value)) {
    Fail("output " + std::to_string(i) + " has " + kWhat<T> + " " + ValueText((*outputs_)[i]) +
         " but expected " + ValueText(value) + (why.empty() ? "" : " from " + std::string(why)));
  }
  (*outputs_)[i] = std::move(merged);
}

template class InferContext<Shape>;
template class InferContext<DType>;

const char* ToString(ResourceKind kind) {
  static constexpr const char* kNames[] = {"temp_space", "random", "replica_reducer"};
  static_assert(std::size(kNames) == static_cast<size_t>(ResourceKind::kCount));
  return kNames[static_cast<size_t>(kind)];
}

namespace {
template <typename T>
void Elemwise(InferContext<T>& ctx) {
  T value{};
  if constexpr (std::is_same_v<T, DType>) value = DType::kUnknown;
  // Outputs first, then inputs, as MXNet's ElemwiseAttr: the first conflict names that input.
  for (size_t i = 0; i < ctx.num_outputs(); ++i) Merge(&value, ctx.out(i));
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!Merge(&value, ctx.in(i))) {
      ctx.Fail(ctx.DescribeInput(i) + " has " + kWhat<T> + " " + ValueText(ctx.in(i)) +
               " but the other inputs and outputs have " + ValueText(value));
    }
  }
  for (size_t i = 0; i < ctx.num_inputs(); ++i) ctx.SetIn(i, value);
  for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.SetOut(i, value);
}
}  // namespace

void ElemwiseShape(ShapeContext& ctx) { Elemwise(ctx); }
void ElemwiseType(TypeContext& ctx) { Elemwise(ctx); }

OpSchema::OpSchema(std::string name, std::string file, int line)
    : name_(std::move(name)), file_(std::move(file)), line_(line) {}

OpSchema& OpSchema::Describe(std::string doc) {
  doc_ = std::move(doc);
  return *this;
}

OpSchema& OpSchema::Alias(std::string alias) {
  aliases_.push_back(alias);
  OpRegistry::Global().AddAlias(std::move(alias), this);
  return *this;
}

OpSchema& OpSchema::Inputs(std::vector<std::string> names) {
  fixed_inputs_ = std::move(names);
  input_fn_ = nullptr;
  return *this;
}

OpSchema& OpSchema::Inputs(ListNamesFn names) {
  input_fn_ = std::move(names);
  return *this;
}

OpSchema& OpSchema::VariadicInputs(std::string count_param, std::string prefix) {
  variadic_count_param_ = std::move(count_param);
  variadic_prefix_ = std::move(prefix);
  return *this;
}

OpSchema& OpSchema::AuxStates(std::vector<std::string> names) {
  aux_names_ = std::move(names);
  return *this;
}

OpSchema& OpSchema::Outputs(std::vector<std::string> names) {
  num_outputs_ = static_cast<uint32_t>(names.size());
  fixed_outputs_ = std::move(names);
  return *this;
}

OpSchema& OpSchema::Outputs(ListNamesFn names) {
  output_fn_ = std::move(names);
  return *this;
}

OpSchema& OpSchema::NumOutputs(uint32_t n) {
  num_outputs_ = n;
  return *this;
}

OpSchema& OpSchema::NumOutputs(CountFn n) {
  num_outputs_fn_ = std::move(n);
  return *this;
}

OpSchema& OpSchema::NumVisibleOutputs(uint32_t n) {
  num_visible_ = n;
  return *this;
}

OpSchema& OpSchema::NumVisibleOutputs(CountFn n) {
  num_visible_fn_ = std::move(n);
  return *this;
}

OpSchema& OpSchema::InferShape(InferShapeFn fn) {
  infer_shape_ = std::move(fn);
  return *this;
}

OpSchema& OpSchema::InferType(InferTypeFn fn) {
  infer_type_ = std::move(fn);
  return *this;
}

OpSchema& OpSchema::SetInputVarAttrOnCompose(SetInputVarAttrFn fn) {
  set_input_var_attr_ = std::move(fn);
  return *this;
}

OpSchema& OpSchema::Gradient(GradientFn fn) {
  gradient_ = std::move(fn);
  return *this;
}

OpSchema& OpSchema::InplaceOptions(InplaceFn fn) {
  inplace_ = std::move(fn);
  return *this;
}

OpSchema& OpSchema::Resources(ResourceFn fn) {
  resources_ = std::move(fn);
  return *this;
}

OpSchema& OpSchema::KernelAny(DeviceType device, std::any fn) {
  LOOM_CHECK(!kernels_[static_cast<size_t>(device)].has_value(), "operator '", name_,
             "' already has a ", ToString(device), " kernel");
  kernels_[static_cast<size_t>(device)] = std::move(fn);
  return *this;
}

OpSchema& OpSchema::TempSpace(TempSpaceFn fn) {
  temp_space_ = std::move(fn);
  return *this;
}

std::string OpSchema::location() const { return file_ + ":" + std::to_string(line_); }

void OpSchema::ParseParams(NodeAttrs* attrs) const {
  try {
    attrs->parsed = params_.Parse(attrs->dict);
    if (is_variadic()) {
      auto it = attrs->dict.find(variadic_count_param_);
      LOOM_CHECK(it != attrs->dict.end(), "required parameter '", variadic_count_param_,
                 "' is missing");
      int64_t n = detail::ParseInt(it->second);
      LOOM_CHECK(n >= 1 && n <= kMaxVariadicInputs, "parameter '", variadic_count_param_,
                 "': expected 1 to ", kMaxVariadicInputs, " inputs but got ", n);
    }
  } catch (Error& e) {
    e.AddContext("in operator " + name_ + " (name=\"" + attrs->name + "\")");
    throw;
  }
}

std::vector<std::string> OpSchema::ListInputNames(const NodeAttrs& attrs) const {
  if (input_fn_) return input_fn_(attrs);
  if (is_variadic()) {
    int64_t n = detail::ParseInt(attrs.dict.at(variadic_count_param_));
    std::vector<std::string> names;
    for (int64_t i = 0; i < n; ++i) names.push_back(variadic_prefix_ + std::to_string(i));
    return names;
  }
  return fixed_inputs_;
}

uint32_t OpSchema::NumInputs(const NodeAttrs& attrs) const {
  if (input_fn_) return static_cast<uint32_t>(input_fn_(attrs).size());
  if (is_variadic()) {
    return static_cast<uint32_t>(detail::ParseInt(attrs.dict.at(variadic_count_param_)));
  }
  return static_cast<uint32_t>(fixed_inputs_.size());
}

std::vector<uint32_t> OpSchema::AuxInputIndices(const NodeAttrs& attrs) const {
  std::vector<uint32_t> out;
  if (aux_names_.empty()) return out;
  std::vector<std::string> names = ListInputNames(attrs);
  for (uint32_t i = 0; i < names.size(); ++i) {
    if (std::find(aux_names_.begin(), aux_names_.end(), names[i]) != aux_names_.end()) {
      out.push_back(i);
    }
  }
  return out;
}

uint32_t OpSchema::NumOutputs(const NodeAttrs& attrs) const {
  if (output_fn_) return static_cast<uint32_t>(output_fn_(attrs).size());
  if (num_outputs_fn_) return num_outputs_fn_(attrs);
  return num_outputs_;
}

uint32_t OpSchema::NumVisibleOutputs(const NodeAttrs& attrs) const {
  if (num_visible_fn_) return num_visible_fn_(attrs);
  if (num_visible_) return *num_visible_;
  return NumOutputs(attrs);
}

std::optional<std::vector<std::string>> OpSchema::ListOutputNames(const NodeAttrs& attrs) const {
  if (output_fn_) return output_fn_(attrs);
  return fixed_outputs_;
}

OpRegistry& OpRegistry::Global() {
  static OpRegistry registry;
  return registry;
}

OpSchema& OpRegistry::Register(std::string name, const char* file, int line) {
  std::lock_guard lock(mu_);
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    throw Error("operator '" + name + "' registered twice: at " + std::string(file) + ":" +
                std::to_string(line) + " and before by " + it->second->location());
  }
  auto op = std::make_unique<OpSchema>(name, file, line);
  OpSchema* ptr = op.get();
  auto [first, last] = pending_kernels_.equal_range(name);
  for (auto it = first; it != last; ++it) ptr->KernelAny(it->second.device, std::move(it->second.fn));
  pending_kernels_.erase(first, last);
  by_name_.emplace(name, ptr);
  ops_.emplace(std::move(name), std::move(op));
  return *ptr;
}

void OpRegistry::AddAlias(std::string alias, OpSchema* op) {
  std::lock_guard lock(mu_);
  if (auto it = by_name_.find(alias); it != by_name_.end()) {
    throw Error("alias '" + alias + "' of operator '" + op->name() + "' (" + op->location() +
                ") is already the name or alias of operator '" + it->second->name() + "' (" +
                it->second->location() + ")");
  }
  by_name_.emplace(std::move(alias), op);
}

void OpRegistry::AddKernel(std::string name, DeviceType device, std::any fn, const char* file,
                           int line) {
  std::lock_guard lock(mu_);
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    it->second->KernelAny(device, std::move(fn));
    return;
  }
  pending_kernels_.emplace(std::move(name),
                           PendingKernel{device, std::move(fn), std::string(file) + ":" +
                                                                    std::to_string(line)});
}

std::vector<std::string> OpRegistry::UnattachedKernels() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, k] : pending_kernels_) out.push_back(name + " (" + k.location + ")");
  return out;
}

const OpSchema* OpRegistry::Find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

namespace {
// Edit distance, for suggesting the operator a misspelled name meant.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

const OpSchema& OpRegistry::Get(std::string_view name) const {
  if (const OpSchema* op = Find(name)) return *op;
  std::lock_guard lock(mu_);
  std::vector<std::pair<size_t, std::string>> close;
  for (const auto& [candidate, op] : by_name_) {
    size_t d = Distance(name, candidate);
    if (d <= std::max<size_t>(2, name.size() / 4)) close.emplace_back(d, candidate);
  }
  std::sort(close.begin(), close.end());
  std::string hint;
  for (size_t i = 0; i < close.size() && i < 3; ++i) hint += (i ? ", " : "") + close[i].second;
  throw Error("unknown operator '" + std::string(name) + "'" +
              (hint.empty() ? std::string(" (Loom has ") + std::to_string(ops_.size()) +
                                  " operators; `loom ops` lists them)"
                            : "; did you mean " + hint + "?"));
}

std::vector<const OpSchema*> OpRegistry::List() const {
  std::lock_guard lock(mu_);
  std::vector<const OpSchema*> out;
  for (const auto& [name, op] : ops_) out.push_back(op.get());
  return out;
}

}  // namespace loom
