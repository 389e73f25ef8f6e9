// The public Executor: checking what the caller binds, SimpleBind, Reshape, CopyParamsFrom and
// the bind-free memory plan.
#include "loom/core/executor.h"

#include <algorithm>
#include <set>

#include "executor_impl.h"

namespace loom {

using detail::ExecutorImpl;

const char* ToString(GradReq req) {
  switch (req) {
    case GradReq::kNull:
      return "null";
    case GradReq::kWrite:
      return "write";
    case GradReq::kAdd:
      return "add";
  }
  return "?";
}

namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "(none)" : s;
}

GradReq ParseGradReq(const std::string& text, const std::string& argument) {
  if (text == "write") return GradReq::kWrite;
  if (text == "add") return GradReq::kAdd;
  if (text == "null") return GradReq::kNull;
  throw Error("grad_req '" + text + "' for argument '" + argument +
              "' is not one of the accepted values 'write', 'add', 'null'");
}

// "an argument", "an auxiliary state".
std::string WithArticle(const std::string& kind) {
  return (std::string("aeiou").find(kind[0]) == std::string::npos ? "a " : "an ") + kind;
}

template <typename Map>
void CheckKnownNames(const Map& by_name, const std::vector<std::string>& names, const char* what,
                     const std::string& kind) {
  for (const auto& [name, value] : by_name) {
    LOOM_CHECK(std::find(names.begin(), names.end(), name) != names.end(), "'", name, "' in ", what,
               " is not ", WithArticle(kind), " of the symbol; they are: ", Join(names));
  }
}

// Arrays in list order from a list or a map. With `required`, every name needs a (non-none)
// array; otherwise missing ones are none.
std::vector<NDArray> ResolveArrays(const ArrayArgs& given, const std::vector<std::string>& names,
                                   const char* what, const char* kind, bool required) {
  std::vector<NDArray> out(names.size());
  const auto& v = given.value();
  if (const auto* list = std::get_if<std::vector<NDArray>>(&v)) {
    LOOM_CHECK(list->size() == names.size(), "expected ", names.size(), " ", what, " (",
               Join(names), ") but got ", list->size());
    out = *list;
  } else if (const auto* map = std::get_if<NDArrayMap>(&v)) {
    CheckKnownNames(*map, names, what, kind);
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = map->find(names[i]);
      if (it != map->end()) out[i] = it->second;
    }
  }
  if (required) {
    for (size_t i = 0; i < names.size(); ++i) {
      LOOM_CHECK(!out[i].is_none(), "missing ", kind, " '", names[i], "' in ", what,
                 " (expected: ", Join(names), ")");
    }
  }
  return out;
}

void CheckContext(const NDArray& a, const std::string& what, Context ctx) {
  LOOM_CHECK(a.ctx() == ctx, what, " is on ", a.ctx().ToString(), " but the executor is bound to ",
             ctx.ToString(), ": all arrays must be on the bind context unless group2ctx places ",
             "them elsewhere");
}

// Shapes and dtypes of arguments and auxiliary states from the forward graph alone.
detail::ExecGraph InferForward(const Symbol& symbol, Context ctx, const ContextMap& group2ctx,
                               const ShapeDict& shapes, const TypeDict& dtypes,
                               bool default_float32) {
  const std::vector<std::string> args = symbol.ListArguments(), aux = symbol.ListAuxiliaryStates();
  std::vector<std::string> inputs = args;
  inputs.insert(inputs.end(), aux.begin(), aux.end());
  CheckKnownNames(shapes, inputs, "shapes", "argument or auxiliary state");
  CheckKnownNames(dtypes, inputs, "dtypes", "argument or auxiliary state");
  detail::ExecGraphSpec spec;
  spec.symbol = &symbol;
  spec.ctx = ctx;
  spec.group2ctx = &group2ctx;
  spec.grad_req.assign(args.size(), GradReq::kNull);
  spec.default_float32 = default_float32;
  auto fill = [&](const std::vector<std::string>& names, std::vector<Shape>* s,
                  std::vector<DType>* t) {
    for (const std::string& n : names) {
      auto is = shapes.find(n);
      auto it = dtypes.find(n);
      s->push_back(is == shapes.end() ? Shape() : is->second);
      t->push_back(it == dtypes.end() ? DType::kUnknown : it->second);
    }
  };
  fill(args, &spec.arg_shapes, &spec.arg_dtypes);
  fill(aux, &spec.aux_shapes, &spec.aux_dtypes);
  return detail::BuildExecGraph(spec);
}

}  // namespace

bool ArrayArgs::empty() const { return std::holds_alternative<std::monostate>(value_); }

std::vector<GradReq> GradReqArgs::Resolve(const std::vector<std::string>& arguments) const {
  std::vector<GradReq> out(arguments.size(), GradReq::kNull);
  if (const auto* all = std::get_if<std::string>(&value_)) {
    for (size_t i = 0; i < arguments.size(); ++i) out[i] = ParseGradReq(*all, arguments[i]);
  } else if (const auto* list = std::get_if<std::vector<std::string>>(&value_)) {
    LOOM_CHECK(list->size() == arguments.size(), "expected one grad_req per argument (",
               arguments.size(), ": ", Join(arguments), ") but got ", list->size());
    for (size_t i = 0; i < arguments.size(); ++i) out[i] = ParseGradReq((*list)[i], arguments[i]);
  } else {
    const auto& map = std::get<std::map<std::string, std::string, std::less<>>>(value_);
    CheckKnownNames(map, arguments, "grad_req", "argument");
    for (size_t i = 0; i < arguments.size(); ++i) {
      auto it = map.find(arguments[i]);
      if (it != map.end()) out[i] = ParseGradReq(it->second, arguments[i]);
    }
  }
  return out;
}

Executor::Executor(std::unique_ptr<ExecutorImpl> impl) : impl_(std::move(impl)) {}
Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&&) noexcept = default;
Executor::~Executor() = default;

Executor Executor::Bind(const Symbol& symbol, Context ctx, const ArrayArgs& args,
                        const ArrayArgs& args_grad, const GradReqArgs& grad_req,
                        const ArrayArgs& aux_states, const ContextMap& group2ctx,
                        const ExecutorOptions& options) {
  try {
    const std::vector<std::string> arg_names = symbol.ListArguments();
    const std::vector<std::string> aux_names = symbol.ListAuxiliaryStates();
    detail::BoundArrays b;
    b.args = ResolveArrays(args, arg_names, "args", "argument", true);
    b.aux = ResolveArrays(aux_states, aux_names, "aux_states", "auxiliary state", true);
    b.grads = ResolveArrays(args_grad, arg_names, "args_grad", "argument", false);
    b.grad_req = grad_req.Resolve(arg_names);
    for (size_t i = 0; i < arg_names.size(); ++i) {
      // As MXNet: an argument without a gradient array gets no gradient.
      if (b.grads[i].is_none()) b.grad_req[i] = GradReq::kNull;
      if (b.grad_req[i] == GradReq::kNull) b.grads[i] = NDArray();
      const NDArray& g = b.grads[i];
      if (g.is_none()) continue;
      LOOM_CHECK_TYPED(ShapeError, g.shape() == b.args[i].shape(),
                       "the gradient array of argument '", arg_names[i], "' has shape ",
                       g.shape().ToString(), " but the argument has shape ",
                       b.args[i].shape().ToString());
      LOOM_CHECK_TYPED(DTypeError, g.dtype() == b.args[i].dtype(), "the gradient array of ",
                       "argument '", arg_names[i], "' has dtype ", ToString(g.dtype()),
                       " but the argument has dtype ", ToString(b.args[i].dtype()));
    }
    if (group2ctx.empty()) {
      for (size_t i = 0; i < arg_names.size(); ++i) {
        CheckContext(b.args[i], "argument '" + arg_names[i] + "'", ctx);
        if (!b.grads[i].is_none()) {
          CheckContext(b.grads[i], "the gradient of argument '" + arg_names[i] + "'", ctx);
        }
      }
      for (size_t i = 0; i < aux_names.size(); ++i) {
        CheckContext(b.aux[i], "auxiliary state '" + aux_names[i] + "'", ctx);
      }
    }
    return Executor(
        std::make_unique<ExecutorImpl>(symbol, ctx, group2ctx, options, std::move(b), nullptr));
  } catch (Error& e) {
    e.AddContext("in Executor::Bind");
    throw;
  }
}

Executor Executor::SimpleBind(const Symbol& symbol, Context ctx, const ShapeDict& shapes,
                              const TypeDict& dtypes, const GradReqArgs& grad_req,
                              const ContextMap& group2ctx, const ExecutorOptions& options) {
  try {
    detail::ExecGraph fwd = InferForward(symbol, ctx, group2ctx, shapes, dtypes, true);
    const IndexedGraph& g = *fwd.idx;
    detail::BoundArrays b;
    b.grad_req = grad_req.Resolve(fwd.arg_names);
    auto alloc = [&](uint32_t nid) {
      const uint32_t eid = g.entry_id(nid, 0);
      const Context dev =
          group2ctx.empty() ? ctx : detail::ArrayDevice(*g.node(nid), group2ctx, ctx);
      return NDArray::Zeros(fwd.shapes[eid], dev, fwd.dtypes[eid]);
    };
    for (size_t i = 0; i < fwd.arg_nids.size(); ++i) {
      b.args.push_back(alloc(fwd.arg_nids[i]));
      b.grads.push_back(b.grad_req[i] == GradReq::kNull ? NDArray() : alloc(fwd.arg_nids[i]));
    }
    for (uint32_t nid : fwd.aux_nids) b.aux.push_back(alloc(nid));
    return Executor(
        std::make_unique<ExecutorImpl>(symbol, ctx, group2ctx, options, std::move(b), nullptr));
  } catch (Error& e) {
    e.AddContext("in Executor::SimpleBind");
    throw;
  }
}

MemoryPlanStats Executor::PlanMemory(const Symbol& symbol, const ShapeDict& shapes,
                                     const TypeDict& dtypes, const GradReqArgs& grad_req,
                                     const ExecutorOptions& options) {
  const ContextMap none;
  detail::ExecGraph fwd = InferForward(symbol, Context::CPU(), none, shapes, dtypes, true);
  detail::ExecGraphSpec spec;
  spec.symbol = &symbol;
  spec.ctx = Context::CPU();
  spec.group2ctx = &none;
  spec.grad_req = grad_req.Resolve(fwd.arg_names);
  for (uint32_t nid : fwd.arg_nids) {
    spec.arg_shapes.push_back(fwd.shapes[fwd.idx->entry_id(nid, 0)]);
    spec.arg_dtypes.push_back(fwd.dtypes[fwd.idx->entry_id(nid, 0)]);
  }
  for (uint32_t nid : fwd.aux_nids) {
    spec.aux_shapes.push_back(fwd.shapes[fwd.idx->entry_id(nid, 0)]);
    spec.aux_dtypes.push_back(fwd.dtypes[fwd.idx->entry_id(nid, 0)]);
  }
  detail::ExecGraph graph = detail::BuildExecGraph(spec);
  const ExecutorOptions resolved = detail::ResolveOptions(options);
  return detail::PlanStats(graph, detail::PlanMemory(graph.PlanRequest(resolved)));
}

void Executor::Forward(bool is_train, const NDArrayMap& inputs) {
  impl_->Forward(is_train, inputs);
}
void Executor::Backward(const std::vector<NDArray>& out_grads) { impl_->Backward(out_grads); }
const std::vector<NDArray>& Executor::outputs() const { return impl_->outputs; }
const std::vector<NDArray>& Executor::arg_arrays() const { return impl_->bound.args; }
const std::vector<NDArray>& Executor::grad_arrays() const { return impl_->bound.grads; }
const std::vector<NDArray>& Executor::aux_arrays() const { return impl_->bound.aux; }
const NDArrayMap& Executor::arg_dict() const { return impl_->arg_dict; }
const NDArrayMap& Executor::grad_dict() const { return impl_->grad_dict; }
const NDArrayMap& Executor::aux_dict() const { return impl_->aux_dict; }
const std::vector<GradReq>& Executor::grad_req() const { return impl_->bound.grad_req; }
void Executor::SetSeed(uint64_t seed) { impl_->SetSeed(seed); }
MemoryPlanStats Executor::memory_plan() const { return impl_->Stats(); }
std::vector<ExecNodeInfo> Executor::Nodes() const { return impl_->Nodes(); }
std::string Executor::DebugStr() const { return impl_->DebugStr(); }
const Symbol& Executor::symbol() const { return impl_->symbol; }
Context Executor::context() const { return impl_->ctx; }

Executor Executor::Reshape(const ShapeDict& shapes, bool partial_shaping,
                           bool allow_up_sizing) const {
  const ExecutorImpl& im = *impl_;
  try {
    TypeDict dtypes;
    for (size_t i = 0; i < im.graph.arg_names.size(); ++i) {
      dtypes.emplace(im.graph.arg_names[i], im.bound.args[i].dtype());
    }
    for (size_t i = 0; i < im.graph.aux_names.size(); ++i) {
      dtypes.emplace(im.graph.aux_names[i], im.bound.aux[i].dtype());
    }
    detail::ExecGraph fwd = InferForward(im.symbol, im.ctx, im.group2ctx, shapes, dtypes, false);
    const IndexedGraph& g = *fwd.idx;
    // The old array when the shape is unchanged, a view of it when smaller, a new one if allowed.
    auto adapt = [&](const NDArray& old, const Shape& shape, const std::string& name) {
      if (old.is_none() || old.shape() == shape) return old;
      LOOM_CHECK(partial_shaping || shapes.count(name) != 0, "the shape of '", name,
                 "' changed from ", old.shape().ToString(), " to ", shape.ToString(),
                 " though it was not given; this can stop the new executor from sharing ",
                 "parameters with the old one: check the network, or set partial_shaping=true ",
                 "if it is intended");
      const size_t bytes = detail::EntryBytes(shape, old.dtype());
      if (bytes <= old.nbytes()) return old.View(shape, old.dtype(), old.byte_offset());
      LOOM_CHECK(allow_up_sizing, "the new shape ", shape.ToString(), " of '", name,
                 "' is larger than the original ", old.shape().ToString(),
                 "; making a big executor first and then down-sizing it is more efficient than ",
                 "the reverse; set allow_up_sizing=true to allocate new arrays");
      return NDArray::Zeros(shape, old.ctx(), old.dtype());
    };
    detail::BoundArrays b;
    b.grad_req = im.bound.grad_req;
    for (size_t i = 0; i < fwd.arg_nids.size(); ++i) {
      const Shape& s = fwd.shapes[g.entry_id(fwd.arg_nids[i], 0)];
      b.args.push_back(adapt(im.bound.args[i], s, fwd.arg_names[i]));
      b.grads.push_back(adapt(im.bound.grads[i], s, fwd.arg_names[i]));
    }
    for (size_t i = 0; i < fwd.aux_nids.size(); ++i) {
      b.aux.push_back(
          adapt(im.bound.aux[i], fwd.shapes[g.entry_id(fwd.aux_nids[i], 0)], fwd.aux_names[i]));
    }
    return Executor(std::make_unique<ExecutorImpl>(im.symbol, im.ctx, im.group2ctx, im.options,
                                                   std::move(b), &im.pool()));
  } catch (Error& e) {
    e.AddContext("in Executor::Reshape");
    throw;
  }
}

void Executor::CopyParamsFrom(const NDArrayMap& arg_params, const NDArrayMap& aux_params,
                              bool allow_extra) {
  auto copy = [&](const NDArrayMap& params, const NDArrayMap& dst, const char* kind) {
    for (const auto& [name, value] : params) {
      auto it = dst.find(name);
      if (it == dst.end()) {
        LOOM_CHECK(allow_extra, "CopyParamsFrom: '", name, "' is not ", kind,
                   " of the executor's symbol (set allow_extra=true to skip such names)");
        continue;
      }
      NDArray target = it->second;
      try {
        target.CopyFrom(value.dtype() == target.dtype() ? value : value.AsType(target.dtype()));
      } catch (Error& e) {
        e.AddContext("in CopyParamsFrom, copying '" + name + "'");
        throw;
      }
    }
  };
  copy(arg_params, impl_->arg_dict, "an argument");
  copy(aux_params, impl_->aux_dict, "an auxiliary state");
}

}  // namespace loom
