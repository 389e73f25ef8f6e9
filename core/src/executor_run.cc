// Running a bound graph: the body of the cached engine operations, the NaN check, and Forward /
// Backward, which only push.
#include <cmath>
#include <cstring>

#include "executor_impl.h"
#include "gpu_memory.h"
#include "loom/core/half.h"

namespace loom::detail {
namespace {

template <typename T>
int64_t FirstNonFinite(const void* data, int64_t n) {
  const T* p = static_cast<const T*>(data);
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(static_cast<double>(static_cast<float>(p[i])))) return i;
  }
  return -1;
}

int64_t FirstNonFinite(const TensorView& t) {
  switch (t.dtype) {
    case DType::kFloat32:
      return FirstNonFinite<float>(t.ptr, t.size());
    case DType::kFloat64: {
      const double* p = static_cast<const double*>(t.ptr);
      for (int64_t i = 0; i < t.size(); ++i) {
        if (!std::isfinite(p[i])) return i;
      }
      return -1;
    }
    case DType::kFloat16:
      return FirstNonFinite<Half>(t.ptr, t.size());
    default:
      return -1;
  }
}

double ValueAt(const TensorView& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat32:
      return static_cast<const float*>(t.ptr)[i];
    case DType::kFloat64:
      return static_cast<const double*>(t.ptr)[i];
    default:
      return static_cast<float>(static_cast<const Half*>(t.ptr)[i]);
  }
}

// LOOM_CHECK_NAN: fail naming the node and output holding the first NaN or Inf.
void CheckFinite(const NodeExec& n) {
  for (size_t j = 0; j < n.out.size(); ++j) {
    const TensorView& t = n.out[j];
    if (n.req[j] == OpReq::kNull || !t.ctx.is_host()) continue;
    const int64_t i = FirstNonFinite(t);
    if (i < 0) continue;
    const double v = ValueAt(t, i);
    throw Error(detail::StrCat("LOOM_CHECK_NAN: ", n.label, " produced ",
                               std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf"), " in output '",
                               n.out_names[j], "' (element ", i, " of shape ", t.shape.ToString(),
                               "); it is the first node to do so"));
  }
}

void CopyNode(const NodeExec& n, RunContext rc) {
  if (n.req[0] == OpReq::kNull) return;
  const TensorView& src = n.in[0];
  const TensorView& dst = n.out[0];
  if (src.ctx.is_host() && dst.ctx.is_host()) {
    if (dst.bytes() > 0) std::memmove(dst.ptr, src.ptr, dst.bytes());
  } else {
    GpuMemory().Copy(dst.ptr, src.ptr, dst.bytes(), rc.stream);
  }
}

void RunNode(ExecState& state, const NodeExec& n, bool is_train, RunContext rc) {
  if (n.skip) return;
  try {
    if (n.is_copy) {
      CopyNode(n, rc);
    } else {
      OpContext oc;
      oc.run = rc;
      oc.is_train = is_train;
      if (n.uses_temp || n.uses_rng) {
        DeviceResources& res = state.resources.at(n.ctx);
        if (n.uses_temp) {
          oc.temp_space =
              std::span<std::byte>(static_cast<std::byte*>(res.temp.data()), n.temp_bytes);
        }
        if (n.uses_rng) oc.rng = &res.rng;
      }
      if (n.uses_reducer) oc.replica_reducer = state.reducer.get();
      (*n.kernel)(*n.attrs, oc, n.in, n.req, n.out);
    }
    if (state.check_nan) CheckFinite(n);
  } catch (Error& e) {
    e.AddContext("in " + n.label);
    throw;
  } catch (std::exception& e) {
    Error wrapped(e.what());
    wrapped.AddContext("in " + n.label);
    throw wrapped;
  }
}

}  // namespace

ExecState::~ExecState() {
  for (auto& [ctx, res] : resources) {
    if (res.rng_var) Engine::Get().DeleteVariable([](RunContext) {}, ctx, res.rng_var);
  }
  if (reducer_var) Engine::Get().DeleteVariable([](RunContext) {}, Context::CPU(), reducer_var);
}

void RunNodes(ExecState& state, size_t begin, size_t end, bool is_train, RunContext rc) {
  for (size_t i = begin; i < end; ++i) RunNode(state, state.nodes[i], is_train, rc);
}

void ExecutorImpl::Forward(bool is_train, const NDArrayMap& inputs) {
  for (const auto& [name, value] : inputs) {
    auto it = arg_dict.find(name);
    LOOM_CHECK(it != arg_dict.end(), "Forward: '", name, "' is not an argument of the symbol; ",
               "its arguments are: ", [&] {
                 std::string s;
                 for (const std::string& a : graph.arg_names) s += (s.empty() ? "" : ", ") + a;
                 return s;
               }());
    NDArray& dst = it->second;
    LOOM_CHECK_TYPED(ShapeError, value.shape() == dst.shape(), "Forward: input '", name,
                     "' has shape ", value.shape().ToString(), " but the executor was bound with ",
                     dst.shape().ToString(), " (use Reshape for new shapes)");
    if (value.var() == dst.var() && value.byte_offset() == dst.byte_offset() &&
        value.dtype() == dst.dtype()) {
      continue;  // the bound array itself
    }
    dst.CopyFrom(value.dtype() == dst.dtype() ? value : value.AsType(dst.dtype()));
  }
  Engine& engine = Engine::Get();
  for (const CachedOp& op : is_train ? forward_train_ : forward_infer_) {
    engine.Push(op.handle, op.ctx);
  }
  trained_forward_ = is_train;
}

void ExecutorImpl::Backward(const std::vector<NDArray>& out_grads) {
  if (!graph.training()) return;  // every grad_req is "null": nothing to compute
  LOOM_CHECK(trained_forward_,
             "Backward needs a Forward(is_train=true) since the previous Backward: the backward "
             "pass reads what the training forward pass left, and its memory is reused");
  std::vector<std::string> missing;
  for (size_t i = 0; i < head_grads.size(); ++i) {
    if (!head_grads[i].is_none()) missing.push_back(graph.output_names[i]);
  }
  if (!missing.empty()) {
    LOOM_CHECK(
        !out_grads.empty(),
        "Because the last operator is not Loss function, head_gradient is required when "
        "calling backward. If you are attempting to minimize the output as an objective, "
        "please modify your network and pass it through the make_loss symbol. (Outputs "
        "needing a head gradient: ",
        [&] {
          std::string s;
          for (const std::string& m : missing) s += (s.empty() ? "" : ", ") + m;
          return s;
        }(),
        ")");
  }
  if (!out_grads.empty()) {
    LOOM_CHECK(out_grads.size() == head_grads.size(), "Backward: expected ", head_grads.size(),
               " head gradients (one per output) but got ", out_grads.size());
  }
  for (size_t i = 0; i < head_grads.size() && !out_grads.empty(); ++i) {
    if (head_grads[i].is_none()) continue;  // a loss head ignores its head gradient
    const NDArray& g = out_grads[i];
    LOOM_CHECK(!g.is_none(), "Backward: output '", graph.output_names[i],
               "' needs a head gradient but got a none array");
    LOOM_CHECK_TYPED(ShapeError, g.shape() == head_grads[i].shape(), "Backward: the head gradient ",
                     "of output '", graph.output_names[i], "' has shape ", g.shape().ToString(),
                     " but the output has shape ", head_grads[i].shape().ToString());
    head_grads[i].CopyFrom(g.dtype() == head_grads[i].dtype() ? g
                                                              : g.AsType(head_grads[i].dtype()));
  }
  Engine& engine = Engine::Get();
  for (const CachedOp& op : backward_) engine.Push(op.handle, op.ctx);
  trained_forward_ = false;
}

void ExecutorImpl::SetSeed(uint64_t seed) {
  uint64_t k = 0;
  for (auto& [dev, res] : state_->resources) {
    const uint64_t s = seed + k++;
    std::mt19937_64* gen = &res.rng;
    Engine::Get().Push([state = state_, gen, s](RunContext) { gen->seed(s); }, dev, {},
                       {res.rng_var}, 0, "SetSeed");
  }
}

}  // namespace loom::detail
