// Executor: a Symbol bound to arrays on devices, run forward and backward through the dependency
// engine (MXNet's GraphExecutor).
//
//   loom::Symbol net = ...;                                   // e.g. an MLP ending in
//   SoftmaxOutput loom::Executor exe = loom::Executor::SimpleBind(net, loom::Context::CPU(),
//                                                   {{"data", {128, 784}}});   // zero arrays
//   exe.CopyParamsFrom(params);                               // weights by name
//   exe.Forward(/*is_train=*/true, {{"data", batch}, {"softmax_label", labels}});
//   exe.Backward();                                           // a loss head needs no out_grads
//   std::vector<float> dw = exe.grad_dict().at("fc1_weight").ToVector<float>();   // waits
//   loom::MemoryPlanStats plan = exe.memory_plan();           // what binding costs
//
// Bind builds, once: placement on devices (group2ctx), the gradient graph (for arguments whose
// grad_req is not "null"), shape and type inference over forward and backward, the memory plan
// (in-place and shared buffers) and one cached engine operation per node or bulk segment.
// Forward and Backward only push those operations and return at once; an error inside one
// surfaces at the next wait on an array it writes (outputs, gradients), naming the node.
//
// Arrays: arguments, gradients and auxiliary states are the caller's arrays (Bind) or zeros the
// executor allocates (SimpleBind); outputs are views of the executor's pooled memory, valid until
// the next Forward. Thread safety: one executor is driven from one thread at a time; executors
// made by Reshape share memory with their origin and must not run at the same time as it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "loom/core/ndarray.h"
#include "loom/core/replica_reducer.h"
#include "loom/core/symbol.h"
#include "loom/scheduler/context.h"

namespace loom {

namespace detail {
class ExecutorImpl;
}

/// How an argument's gradient is stored (MXNet's OpReqType codes).
enum class GradReq : uint8_t { kNull = 0, kWrite = 1, kAdd = 3 };
/// "null", "write", "add".
const char* ToString(GradReq req);

using NDArrayMap = std::map<std::string, NDArray, std::less<>>;
using ContextMap = std::map<std::string, Context, std::less<>>;

/// Arrays given to Bind: a list in list_arguments() (list_auxiliary_states()) order, or a map by
/// name. A none NDArray in a gradient list means "no gradient" for that argument.
class ArrayArgs {
 public:
  ArrayArgs() = default;
  ArrayArgs(std::vector<NDArray> list) : value_(std::move(list)) {}  // NOLINT: implicit by design
  ArrayArgs(std::initializer_list<NDArray> list) : value_(std::vector<NDArray>(list)) {}
  ArrayArgs(NDArrayMap by_name) : value_(std::move(by_name)) {}  // NOLINT
  bool empty() const;
  const std::variant<std::monostate, std::vector<NDArray>, NDArrayMap>& value() const {
    return value_;
  }

 private:
  std::variant<std::monostate, std::vector<NDArray>, NDArrayMap> value_;
};

/// grad_req: one of "write", "add", "null" for every argument, a list in list_arguments() order,
/// or a map by name (arguments not named get "null").
class GradReqArgs {
 public:
  GradReqArgs(const char* all = "write") : value_(std::string(all)) {}     // NOLINT
  GradReqArgs(std::string all) : value_(std::move(all)) {}                 // NOLINT
  GradReqArgs(std::vector<std::string> list) : value_(std::move(list)) {}  // NOLINT
  GradReqArgs(std::map<std::string, std::string, std::less<>> by_name)     // NOLINT
      : value_(std::move(by_name)) {}
  /// One request per argument; throws loom::Error naming the argument and the accepted values
  /// for an unknown string, and naming unknown arguments.
  std::vector<GradReq> Resolve(const std::vector<std::string>& arguments) const;

 private:
  std::variant<std::string, std::vector<std::string>,
               std::map<std::string, std::string, std::less<>>>
      value_;
};

/// Executor settings; defaults come from the environment (docs/environment.md).
struct ExecutorOptions {
  /// Let outputs take over an input's memory where the operator allows it.
  bool inplace = true;
  /// Share freed buffers between entries within this size ratio (MXNet's NNVM_EXEC_MATCH_RANGE);
  /// 0 disables sharing.
  int match_range = 16;
  /// Nodes per bulk segment (consecutive CPU nodes run as one engine operation); nullopt reads
  /// LOOM_EXEC_BULK_SIZE (default 15); 0 or 1 runs one engine operation per node.
  std::optional<int> bulk_size;
  /// Check every float output for NaN/Inf after each node and fail naming the first node
  /// producing one; nullopt reads LOOM_CHECK_NAN.
  std::optional<bool> check_nan;
  /// Seed of the executor's random generators (ResourceKind::kRandom).
  uint64_t seed = 0;
  /// Cross-replica statistics for data-parallel training (loom/core/replica_reducer.h); null:
  /// one replica. When set, BatchNorm in training mode (not use_global_stats; the is_train
  /// forward pass and its backward) computes the batch mean and variance over every replica's
  /// batch (the count, the sum of the local counts, is reduced too), and its backward reduces
  /// the per-channel sums it needs (sum dy, sum dy * xhat), so N replicas with batch B each
  /// compute what one replica with batch N * B would (up to rounding; sums in double), moving
  /// averages included. gamma's and beta's gradients stay local sums: summing them over the
  /// replicas (the KVStore) gives the global batch's. Nodes using the reducer run in push order
  /// (the ordering contract in replica_reducer.h). CPU kernels only: binding such a node on a
  /// GPU throws NotSupportedError.
  std::shared_ptr<ReplicaReducer> replica_reducer;
};

/// What binding costs, in bytes.
struct MemoryPlanStats {
  /// Pooled memory for everything the executor computes (one chunk per storage id).
  size_t planned_bytes = 0;
  /// The same entries with one buffer each (in-place and sharing disabled).
  size_t unplanned_bytes = 0;
  /// Arguments, gradients, auxiliary states and head gradients (arrays outside the plan).
  size_t external_bytes = 0;
  /// Scratch memory per device, for kernels that request temp space.
  size_t temp_space_bytes = 0;
  /// Pooled chunks, planned entries, and entries written in place of an input.
  size_t num_storage = 0;
  size_t num_entries = 0;
  size_t num_inplace = 0;
  /// True when the plan includes the backward pass.
  bool training = false;
};

/// One node of the bound graph (forward, backward and inserted nodes).
struct ExecNodeInfo {
  std::string name;
  std::string op;  ///< "" for variables
  Context ctx;
  bool backward = false;  ///< runs in Backward()
};

class Executor {
 public:
  /// Binds to the caller's arrays. args: every argument (list or map); args_grad: optional (an
  /// argument without a gradient array gets grad_req "null"); aux_states: every auxiliary state;
  /// group2ctx: devices for `__ctx_group__` attributes. Without group2ctx, every array must be on
  /// ctx.
  /// @throws loom::Error naming the argument for a missing array, a wrong number of arrays, a bad
  ///         grad_req, a wrong context; ShapeError/DTypeError naming node, argument, expected and
  ///         given values.
  static Executor Bind(const Symbol& symbol, Context ctx, const ArrayArgs& args,
                       const ArrayArgs& args_grad = {}, const GradReqArgs& grad_req = "write",
                       const ArrayArgs& aux_states = {}, const ContextMap& group2ctx = {},
                       const ExecutorOptions& options = {});
  /// Binds to zero arrays it allocates: shapes (and dtypes, float32 by default) of the inputs
  /// the rest is inferred from; gradients for arguments whose grad_req is not "null".
  /// @throws loom::Error naming the arguments whose shapes cannot be inferred.
  static Executor SimpleBind(const Symbol& symbol, Context ctx, const ShapeDict& shapes,
                             const TypeDict& dtypes = {}, const GradReqArgs& grad_req = "write",
                             const ContextMap& group2ctx = {}, const ExecutorOptions& options = {});
  /// The memory plan SimpleBind would make, without allocating anything or needing kernels
  /// (`loom inspect`): with any grad_req other than "null" it includes the backward pass.
  static MemoryPlanStats PlanMemory(const Symbol& symbol, const ShapeDict& shapes,
                                    const TypeDict& dtypes = {},
                                    const GradReqArgs& grad_req = "null",
                                    const ExecutorOptions& options = {});

  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;
  ~Executor();

  /// Copies `inputs` into the named arguments (shapes must match; dtypes are converted), then
  /// pushes the forward pass. is_train: training mode (auxiliary states updated, dropout on).
  void Forward(bool is_train = false, const NDArrayMap& inputs = {});
  /// Pushes the backward pass. out_grads: one head gradient per output, in list_outputs()
  /// order; none needed when every output is a loss (its gradient ignores the head gradient).
  /// Needs a Forward(is_train=true) since the previous Backward.
  void Backward(const std::vector<NDArray>& out_grads = {});

  const std::vector<NDArray>& outputs() const;
  const std::vector<NDArray>& arg_arrays() const;
  /// Per argument, in list_arguments() order; none for arguments without a gradient.
  const std::vector<NDArray>& grad_arrays() const;
  const std::vector<NDArray>& aux_arrays() const;
  const NDArrayMap& arg_dict() const;
  /// Only arguments with a gradient.
  const NDArrayMap& grad_dict() const;
  const NDArrayMap& aux_dict() const;
  const std::vector<GradReq>& grad_req() const;

  /// A new executor for new input shapes sharing this one's parameters and memory (MXNet's
  /// reshape): arrays whose shape is unchanged are shared, smaller ones are views of the old
  /// arrays, larger ones need allow_up_sizing (new arrays); arguments not named in shapes may
  /// change shape only with partial_shaping.
  Executor Reshape(const ShapeDict& shapes, bool partial_shaping = false,
                   bool allow_up_sizing = false) const;
  /// Copies parameters into the arguments and auxiliary states of the same names (converting
  /// dtypes). Names that are not arguments (auxiliary states) are errors unless allow_extra.
  void CopyParamsFrom(const NDArrayMap& arg_params, const NDArrayMap& aux_params = {},
                      bool allow_extra = false);
  /// Reseeds the random generators (after work already pushed).
  void SetSeed(uint64_t seed);

  /// Planned memory of the bound graph.
  MemoryPlanStats memory_plan() const;
  /// The bound graph's nodes in execution order.
  std::vector<ExecNodeInfo> Nodes() const;
  /// Nodes with their devices, inputs, storage ids, bytes and requests, and the totals
  /// ("Total <n> MB allocated", as MXNet prints it).
  std::string DebugStr() const;
  const Symbol& symbol() const;
  Context context() const;

 private:
  explicit Executor(std::unique_ptr<detail::ExecutorImpl> impl);
  std::unique_ptr<detail::ExecutorImpl> impl_;
};

}  // namespace loom
