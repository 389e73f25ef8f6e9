#include "grad_ops.h"

#include <cstring>
#include <vector>

#include "elementwise.h"
#include "loom/core/kernel.h"

namespace loom::detail {
namespace {

bool Writes(OpReq req) { return req == OpReq::kWriteTo || req == OpReq::kWriteInplace; }

// out (req) = sum of the inputs. out may be input 0 (in place).
void GradSum(const NodeAttrs&, const OpContext&, std::span<const TensorView> in,
             std::span<const OpReq> req, std::span<const TensorView> out) {
  const TensorView& y = out[0];
  const auto n = static_cast<size_t>(y.size());
  size_t next = 0;
  if (req[0] == OpReq::kNull) return;
  if (Writes(req[0])) {
    if (y.ptr != in[0].ptr) std::memcpy(y.ptr, in[0].ptr, y.bytes());
    next = 1;
  }
  for (size_t i = next; i < in.size(); ++i)
    BinaryKernel(ArithOp::kAdd, y.dtype, y.ptr, in[i].ptr, y.ptr, n);
}

void GradZeros(const NodeAttrs&, const OpContext&, std::span<const TensorView>,
               std::span<const OpReq> req, std::span<const TensorView> out) {
  if (Writes(req[0])) std::memset(out[0].ptr, 0, out[0].bytes());
}

void GradCopy(const NodeAttrs&, const OpContext&, std::span<const TensorView> in,
              std::span<const OpReq> req, std::span<const TensorView> out) {
  const TensorView& y = out[0];
  if (Writes(req[0])) {
    if (y.ptr != in[0].ptr) std::memcpy(y.ptr, in[0].ptr, y.bytes());
  } else if (req[0] == OpReq::kAddTo) {
    BinaryKernel(ArithOp::kAdd, y.dtype, y.ptr, in[0].ptr, y.ptr, static_cast<size_t>(y.size()));
  }
}

std::vector<std::pair<int, int>> InplaceFirst(const NodeAttrs&) { return {{0, 0}}; }

}  // namespace

LOOM_REGISTER_OP(_grad_sum)
    .Describe("Sum of the gradients of one entry (inserted by the gradient pass).")
    .VariadicInputs("num_args")
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Kernel(DeviceType::kCPU, FCompute(GradSum));

LOOM_REGISTER_OP(_grad_zeros)
    .Describe(
        "A zero gradient shaped like its input, which it does not read (inserted by the "
        "gradient pass).")
    .Inputs({"like"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute(GradZeros));

LOOM_REGISTER_OP(_grad_copy)
    .Describe("A copy of a gradient into a second array (inserted by the executor).")
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute(GradCopy));

LOOM_REGISTER_OP(_CrossDeviceCopy)
    .Describe(
        "A copy of an entry to another device (inserted by placement; run as an engine copy).")
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType);

const OpSchema& GradSumOp() {
  static const OpSchema& op = OpRegistry::Global().Get("_grad_sum");
  return op;
}
const OpSchema& GradZerosOp() {
  static const OpSchema& op = OpRegistry::Global().Get("_grad_zeros");
  return op;
}
const OpSchema& GradCopyOp() {
  static const OpSchema& op = OpRegistry::Global().Get("_grad_copy");
  return op;
}

const OpSchema& CrossDeviceCopyOp() {
  static const OpSchema& op = OpRegistry::Global().Get("_CrossDeviceCopy");
  return op;
}

}  // namespace loom::detail
