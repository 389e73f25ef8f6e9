// The calling convention between the executor and operator kernels: non-owning views of the
// inputs and outputs, how each output is to be written, and the run context.
//
//   void ReluForward(const NodeAttrs& attrs, const OpContext& ctx,
//                    std::span<const TensorView> in, std::span<const OpReq> req,
//                    std::span<const TensorView> out) {
//     const float* x = in[0].data<float>();
//     float* y = out[0].data<float>();
//     for (int64_t i = 0; i < in[0].size(); ++i) Assign(req[0], y[i], std::max(x[i], 0.0f));
//   }
//   LOOM_REGISTER_OP(relu)...Kernel(DeviceType::kCPU, FCompute(ReluForward));
//
// Views are valid only during the call. Kernels run on the engine's worker for ctx.run.ctx (on a
// GPU: enqueue on ctx.run.stream and return). Kernels may throw loom::Error; the executor adds the
// node's name.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <type_traits>

#include "loom/core/dtype.h"
#include "loom/core/half.h"
#include "loom/core/replica_reducer.h"
#include "loom/core/shape.h"
#include "loom/scheduler/context.h"
#include "loom/scheduler/engine.h"
#include "loom/scheduler/error.h"

namespace loom {

struct NodeAttrs;

/// A non-owning view of an array's memory: pointer, shape, dtype, device. Value type.
struct TensorView {
  void* ptr = nullptr;
  Shape shape;
  DType dtype = DType::kFloat32;
  Context ctx;

  int64_t size() const { return shape.Size(); }
  size_t bytes() const { return static_cast<size_t>(size()) * DTypeSize(dtype); }
  /// The data as T*; throws loom::DTypeError when T does not match dtype.
  template <typename T>
  T* data() const;
};

/// How a kernel writes an output. kCount keeps the name table in step.
enum class OpReq : uint8_t {
  kNull = 0,      ///< not needed: skip it
  kWriteTo,       ///< overwrite (the buffer is not an input)
  kWriteInplace,  ///< overwrite; the buffer is also one of the inputs (in-place option)
  kAddTo,         ///< accumulate into what is there (grad_req "add", summed gradients)
  kCount
};
const char* ToString(OpReq req);

/// Writes or accumulates v into dst as req says (kNull leaves dst alone).
template <typename T>
inline void Assign(OpReq req, T& dst, T v) {
  if (req == OpReq::kAddTo) {
    dst += v;
  } else if (req != OpReq::kNull) {
    dst = v;
  }
}

/// What a running kernel gets besides its data.
struct OpContext {
  RunContext run;
  /// Training pass (Dropout drops, BatchNorm uses batch statistics and updates its moving ones).
  bool is_train = false;
  /// Scratch memory requested with ResourceKind::kTempSpace (empty otherwise): at least the bytes
  /// the kernel's resource request asked for, valid during the call.
  std::span<std::byte> temp_space;
  /// Random generator requested with ResourceKind::kRandom (nullptr otherwise); owned by the
  /// executor, used by one kernel at a time.
  std::mt19937_64* rng = nullptr;
  /// Sums over the replicas of a data-parallel job, for kernels that list
  /// ResourceKind::kReplicaReducer, when the executor has one (ExecutorOptions::replica_reducer);
  /// nullptr otherwise (one replica). Calls are ordered across replicas by the executor.
  ReplicaReducer* replica_reducer = nullptr;
};

/// A kernel: forward or backward computation of one node.
using FCompute = std::function<void(const NodeAttrs& attrs, const OpContext& ctx,
                                    std::span<const TensorView> inputs, std::span<const OpReq> req,
                                    std::span<const TensorView> outputs)>;

namespace detail {
template <typename T>
constexpr DType DTypeOf();
template <> constexpr DType DTypeOf<float>() { return DType::kFloat32; }
template <> constexpr DType DTypeOf<double>() { return DType::kFloat64; }
template <> constexpr DType DTypeOf<Half>() { return DType::kFloat16; }
template <> constexpr DType DTypeOf<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType DTypeOf<int32_t>() { return DType::kInt32; }
template <> constexpr DType DTypeOf<int8_t>() { return DType::kInt8; }
template <> constexpr DType DTypeOf<int64_t>() { return DType::kInt64; }
template <> constexpr DType DTypeOf<bool>() { return DType::kBool; }
}  // namespace detail

template <typename T>
T* TensorView::data() const {
  LOOM_CHECK_TYPED(DTypeError, dtype == detail::DTypeOf<std::remove_const_t<T>>(),
                   "expected a tensor of dtype ", ToString(detail::DTypeOf<std::remove_const_t<T>>()),
                   " but got ", ToString(dtype));
  return static_cast<T*>(ptr);
}

}  // namespace loom
