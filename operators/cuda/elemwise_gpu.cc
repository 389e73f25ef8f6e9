// GPU kernels of the element-wise operators: unary math (and sin, negative), elemwise_* and
// _maximum / _minimum / _power, the <op>_scalar family, clip, where, add_n and the loss heads'
// constant gradients (_backward_MakeLoss, _backward_make_loss), with their backward operators.
#include <vector>

#include "loom/core/operator.h"
#include "operators/cpu/common.h"
#include "operators/cuda/elemwise_kernels.h"
#include "operators/cuda/gpu_util.h"
#include "operators/src/clip_param.h"
#include "operators/src/make_loss_param.h"
#include "operators/src/op_common.h"

namespace loom::gpu {
namespace {

// ---- unary -----------------------------------------------------------------------------------

// Whether the backward operator's second input is the forward input (else the forward output).
constexpr bool BackwardReadsInput(UnaryKind op) {
  return op == UnaryKind::kAbs || op == UnaryKind::kSquare || op == UnaryKind::kLog ||
         op == UnaryKind::kSin;
}

template <UnaryKind kOp>
void UnaryForwardGpu(const char* name, const OpContext& ctx, Views in, Reqs req, Views out) {
  cpu::CheckSameDType(in[0], out[0], name, "data", "out");
  cpu::CheckSameShape(in[0], out[0], name, "data", "out");
  UnaryForward(kOp, in[0].dtype, in[0].ptr, out[0].ptr, in[0].size(), Req(req[0]), ctx.run.stream,
               name);
}

// Inputs (out_grad, data) or (out_grad, out).
template <UnaryKind kOp>
void UnaryBackwardGpu(const char* name, const OpContext& ctx, Views in, Reqs req, Views out) {
  cpu::CheckSameDType(in[0], out[0], name, "out_grad", "data_grad");
  cpu::CheckSameDType(in[0], in[1], name, "out_grad", BackwardReadsInput(kOp) ? "data" : "out");
  cpu::CheckSameShape(in[0], out[0], name, "out_grad", "data_grad");
  constexpr bool kReadsX = BackwardReadsInput(kOp);
  UnaryBackward(kOp, in[0].dtype, in[0].ptr, kReadsX ? in[1].ptr : nullptr,
                kReadsX ? nullptr : in[1].ptr, out[0].ptr, in[0].size(), Req(req[0]),
                ctx.run.stream, name);
}

#define LOOM_GPU_UNARY_FORWARD(Name, Kind)                                                 \
  LOOM_REGISTER_KERNEL(                                                                    \
      #Name, kGPU,                                                                         \
      FCompute([](const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) { \
        UnaryForwardGpu<UnaryKind::Kind>(#Name, ctx, in, req, out);                        \
      }))
#define LOOM_GPU_UNARY(Name, Kind)                                                         \
  LOOM_GPU_UNARY_FORWARD(Name, Kind);                                                      \
  LOOM_REGISTER_KERNEL(                                                                    \
      "_backward_" #Name, kGPU,                                                            \
      FCompute([](const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) { \
        UnaryBackwardGpu<UnaryKind::Kind>("_backward_" #Name, ctx, in, req, out);          \
      }))

LOOM_GPU_UNARY(exp, kExp);
LOOM_GPU_UNARY(log, kLog);
LOOM_GPU_UNARY(sqrt, kSqrt);
LOOM_GPU_UNARY(rsqrt, kRsqrt);
LOOM_GPU_UNARY(square, kSquare);
LOOM_GPU_UNARY(tanh, kTanh);
LOOM_GPU_UNARY(sigmoid, kSigmoid);
LOOM_GPU_UNARY(relu, kRelu);
LOOM_GPU_UNARY(abs, kAbs);
LOOM_GPU_UNARY(sin, kSin);
// negative's gradient is negative itself.
LOOM_GPU_UNARY_FORWARD(negative, kNegative);

#undef LOOM_GPU_UNARY
#undef LOOM_GPU_UNARY_FORWARD

// ---- binary ----------------------------------------------------------------------------------

template <BinaryKind kOp>
void BinaryForwardGpu(const char* name, const OpContext& ctx, Views in, Reqs req, Views out) {
  cpu::CheckSameShape(in[0], in[1], name, "lhs", "rhs");
  cpu::CheckSameShape(in[0], out[0], name, "lhs", "out");
  cpu::CheckSameDType(in[0], in[1], name, "lhs", "rhs");
  cpu::CheckSameDType(in[0], out[0], name, "lhs", "out");
  BinaryForward(kOp, in[0].dtype, in[0].ptr, in[1].ptr, out[0].ptr, in[0].size(), Req(req[0]),
                ctx.run.stream, name);
}

// Inputs (out_grad, lhs, rhs); outputs (lhs_grad, rhs_grad).
template <BinaryKind kOp>
void BinaryBackwardGpu(const char* name, const OpContext& ctx, Views in, Reqs req, Views out) {
  cpu::CheckSameShape(in[1], in[2], name, "lhs", "rhs");
  cpu::CheckSameShape(in[1], in[0], name, "lhs", "out_grad");
  cpu::CheckSameDType(in[1], in[2], name, "lhs", "rhs");
  cpu::CheckSameDType(in[1], in[0], name, "lhs", "out_grad");
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(in[1], out[0], name, "lhs", "lhs_grad");
  if (req[1] != OpReq::kNull) cpu::CheckSameShape(in[1], out[1], name, "lhs", "rhs_grad");
  BinaryBackward(kOp, in[1].dtype, in[0].ptr, in[1].ptr, in[2].ptr, out[0].ptr, Req(req[0]),
                 out[1].ptr, Req(req[1]), in[1].size(), ctx.run.stream, name);
}

#define LOOM_GPU_BINARY(Name, Kind)                                                        \
  LOOM_REGISTER_KERNEL(                                                                    \
      #Name, kGPU,                                                                         \
      FCompute([](const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) { \
        BinaryForwardGpu<BinaryKind::Kind>(#Name, ctx, in, req, out);                      \
      }))
#define LOOM_GPU_BINARY_BACKWARD(Name, Kind)                                               \
  LOOM_REGISTER_KERNEL(                                                                    \
      Name, kGPU,                                                                          \
      FCompute([](const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) { \
        BinaryBackwardGpu<BinaryKind::Kind>(Name, ctx, in, req, out);                      \
      }))

LOOM_GPU_BINARY(elemwise_add, kAdd);
LOOM_GPU_BINARY(elemwise_sub, kSub);
LOOM_GPU_BINARY(elemwise_mul, kMul);
LOOM_GPU_BINARY(elemwise_div, kDiv);
LOOM_GPU_BINARY(_maximum, kMaximum);
LOOM_GPU_BINARY(_minimum, kMinimum);
LOOM_GPU_BINARY(_power, kPower);
LOOM_GPU_BINARY_BACKWARD("_backward_elemwise_mul", kMul);
LOOM_GPU_BINARY_BACKWARD("_backward_elemwise_div", kDiv);
LOOM_GPU_BINARY_BACKWARD("_backward_maximum", kMaximum);
LOOM_GPU_BINARY_BACKWARD("_backward_minimum", kMinimum);
LOOM_GPU_BINARY_BACKWARD("_backward_power", kPower);

#undef LOOM_GPU_BINARY_BACKWARD
#undef LOOM_GPU_BINARY

// ---- scalar ----------------------------------------------------------------------------------

template <ScalarKind kOp>
void ScalarForwardGpu(const char* name, const NodeAttrs& attrs, const OpContext& ctx, Views in,
                      Reqs req, Views out) {
  cpu::CheckSameShape(in[0], out[0], name, "data", "out");
  cpu::CheckSameDType(in[0], out[0], name, "data", "out");
  ScalarForward(kOp, in[0].dtype, in[0].ptr, attrs.param<ops::ScalarParam>().scalar, out[0].ptr,
                in[0].size(), Req(req[0]), ctx.run.stream, name);
}

// Inputs (out_grad, data).
template <ScalarKind kOp>
void ScalarBackwardGpu(const char* name, const NodeAttrs& attrs, const OpContext& ctx, Views in,
                       Reqs req, Views out) {
  cpu::CheckSameShape(in[1], in[0], name, "data", "out_grad");
  cpu::CheckSameShape(in[1], out[0], name, "data", "data_grad");
  cpu::CheckSameDType(in[1], in[0], name, "data", "out_grad");
  cpu::CheckSameDType(in[1], out[0], name, "data", "data_grad");
  ScalarBackward(kOp, in[1].dtype, in[0].ptr, in[1].ptr, attrs.param<ops::ScalarParam>().scalar,
                 out[0].ptr, in[1].size(), Req(req[0]), ctx.run.stream, name);
}

#define LOOM_GPU_SCALAR(Name, Kind)                                                              \
  LOOM_REGISTER_KERNEL(                                                                          \
      #Name, kGPU,                                                                               \
      FCompute([](const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) { \
        ScalarForwardGpu<ScalarKind::Kind>(#Name, attrs, ctx, in, req, out);                     \
      }))
#define LOOM_GPU_SCALAR_BACKWARD(Name, Kind)                                                     \
  LOOM_REGISTER_KERNEL(                                                                          \
      "_backward" #Name, kGPU,                                                                   \
      FCompute([](const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) { \
        ScalarBackwardGpu<ScalarKind::Kind>("_backward" #Name, attrs, ctx, in, req, out);        \
      }))

LOOM_GPU_SCALAR(_plus_scalar, kPlus);
LOOM_GPU_SCALAR(_minus_scalar, kMinus);
LOOM_GPU_SCALAR(_rminus_scalar, kRMinus);
LOOM_GPU_SCALAR(_mul_scalar, kMul);
LOOM_GPU_SCALAR(_div_scalar, kDiv);
LOOM_GPU_SCALAR(_rdiv_scalar, kRDiv);
LOOM_GPU_SCALAR(_power_scalar, kPower);
LOOM_GPU_SCALAR(_rpower_scalar, kRPower);
LOOM_GPU_SCALAR(_maximum_scalar, kMaximum);
LOOM_GPU_SCALAR(_minimum_scalar, kMinimum);
// The other scalar operators' gradients are scalar operators themselves (or negative).
LOOM_GPU_SCALAR_BACKWARD(_rdiv_scalar, kRDiv);
LOOM_GPU_SCALAR_BACKWARD(_power_scalar, kPower);
LOOM_GPU_SCALAR_BACKWARD(_rpower_scalar, kRPower);
LOOM_GPU_SCALAR_BACKWARD(_maximum_scalar, kMaximum);
LOOM_GPU_SCALAR_BACKWARD(_minimum_scalar, kMinimum);

#undef LOOM_GPU_SCALAR_BACKWARD
#undef LOOM_GPU_SCALAR

// ---- clip ------------------------------------------------------------------------------------

void ClipForwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<ops::ClipParam>();
  cpu::CheckSameShape(in[0], out[0], "clip", "data", "out");
  cpu::CheckSameDType(in[0], out[0], "clip", "data", "out");
  LOOM_CHECK(p.a_min <= p.a_max, "clip: expected a_min <= a_max but got ", p.a_min, " and ",
             p.a_max);
  ClipForward(in[0].dtype, in[0].ptr, p.a_min, p.a_max, out[0].ptr, in[0].size(), Req(req[0]),
              ctx.run.stream);
}

// Inputs (out_grad, data).
void ClipBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const auto& p = attrs.param<ops::ClipParam>();
  cpu::CheckSameShape(in[1], in[0], "clip", "data", "out_grad");
  cpu::CheckSameShape(in[1], out[0], "clip", "data", "data_grad");
  cpu::CheckSameDType(in[1], in[0], "clip", "data", "out_grad");
  cpu::CheckSameDType(in[1], out[0], "clip", "data", "data_grad");
  ClipBackward(in[1].dtype, in[0].ptr, in[1].ptr, p.a_min, p.a_max, out[0].ptr, in[1].size(),
               Req(req[0]), ctx.run.stream);
}

LOOM_REGISTER_KERNEL("clip", kGPU, FCompute(ClipForwardGpu));
LOOM_REGISTER_KERNEL("_backward_clip", kGPU, FCompute(ClipBackwardGpu));

// ---- where -----------------------------------------------------------------------------------

// Elements of x per element of cond: 1 when cond has x's shape, a row's for a 1-D cond.
int64_t CondRowLength(const TensorView& cond, const TensorView& x) {
  if (cond.shape == x.shape) return 1;
  LOOM_CHECK_TYPED(ShapeError,
                   cond.shape.ndim() == 1 && x.shape.ndim() >= 1 && cond.shape[0] == x.shape[0],
                   "where: expected condition of shape ", x.shape.ToString(), " or (",
                   x.shape.ndim() >= 1 ? x.shape[0] : 0, ",) but got ", cond.shape.ToString());
  return x.shape[0] == 0 ? 1 : x.size() / x.shape[0];
}

// Inputs (condition, x, y).
void WhereForwardGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  cpu::CheckSameShape(in[1], in[2], "where", "x", "y");
  cpu::CheckSameShape(in[1], out[0], "where", "x", "out");
  cpu::CheckSameDType(in[1], in[2], "where", "x", "y");
  cpu::CheckSameDType(in[1], out[0], "where", "x", "out");
  WhereForward(in[0].dtype, in[0].ptr, CondRowLength(in[0], in[1]), in[1].dtype, in[1].ptr,
               in[2].ptr, out[0].ptr, in[1].size(), Req(req[0]), ctx.run.stream);
}

// Inputs (out_grad, condition); outputs (x_grad, y_grad).
void WhereBackwardGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] != OpReq::kNull) cpu::CheckSameShape(in[0], out[0], "where", "out_grad", "x_grad");
  if (req[1] != OpReq::kNull) cpu::CheckSameShape(in[0], out[1], "where", "out_grad", "y_grad");
  WhereBackward(in[1].dtype, in[1].ptr, CondRowLength(in[1], in[0]), in[0].dtype, in[0].ptr,
                out[0].ptr, Req(req[0]), out[1].ptr, Req(req[1]), in[0].size(), ctx.run.stream);
}

LOOM_REGISTER_KERNEL("where", kGPU, FCompute(WhereForwardGpu));
LOOM_REGISTER_KERNEL("_backward_where", kGPU, FCompute(WhereBackwardGpu));

// ---- add_n -----------------------------------------------------------------------------------

void AddNGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  LOOM_CHECK(!in.empty(), "add_n: expected at least one input");
  std::vector<const void*> ptrs;
  for (size_t k = 0; k < in.size(); ++k) {
    cpu::CheckSameShape(out[0], in[k], "add_n", "out", "arg" + std::to_string(k));
    cpu::CheckSameDType(out[0], in[k], "add_n", "out", "arg" + std::to_string(k));
    ptrs.push_back(in[k].ptr);
  }
  LOOM_CHECK_TYPED(NotSupportedError, IsFloat(out[0].dtype),
                   "add_n on GPU supports float16, float32 and float64 but got ",
                   ToString(out[0].dtype));
  AddN(out[0].dtype, ptrs.data(), static_cast<int>(ptrs.size()), out[0].ptr, out[0].size(),
       Req(req[0]), ctx.run.stream);
}

LOOM_REGISTER_KERNEL("add_n", kGPU, FCompute(AddNGpu));

// ---- loss heads' gradients -------------------------------------------------------------------

// Input (output); output (data_grad).
void MakeLossBackwardGpu(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req,
                         Views out) {
  if (req[0] == OpReq::kNull) return;
  const auto& p = attrs.param<ops::MakeLossParam>();
  const TensorView& y = in[0];
  cpu::CheckSameShape(y, out[0], "MakeLoss", "output", "data_grad");
  cpu::CheckSameDType(y, out[0], "MakeLoss", "output", "data_grad");
  using Norm = ops::MakeLossParam::Normalization;
  double norm = 1;
  if (p.normalization == Norm::kBatch && y.shape.ndim() > 0) {
    norm = static_cast<double>(std::max<int64_t>(y.shape[0], 1));
  }
  const bool count_valid = p.normalization == Norm::kValid;
  void* scratch = count_valid ? Workspace(ctx, sizeof(unsigned long long)) : nullptr;
  MakeLossBackward(y.dtype, y.ptr, y.size(), p.grad_scale, norm, count_valid, p.valid_thresh,
                   scratch, out[0].ptr, Req(req[0]), ctx.run.stream);
}

// make_loss: ones.
void MakeLossOnesGpu(const NodeAttrs&, const OpContext& ctx, Views in, Reqs req, Views out) {
  if (req[0] == OpReq::kNull) return;
  cpu::CheckSameShape(in[0], out[0], "make_loss", "output", "data_grad");
  cpu::CheckSameDType(in[0], out[0], "make_loss", "output", "data_grad");
  MakeLossBackward(in[0].dtype, in[0].ptr, in[0].size(), 1.0, 1.0, false, 0.0, nullptr, out[0].ptr,
                   Req(req[0]), ctx.run.stream);
}

LOOM_REGISTER_KERNEL("_backward_MakeLoss", kGPU, FCompute(MakeLossBackwardGpu));
LOOM_REGISTER_KERNEL("_backward_make_loss", kGPU, FCompute(MakeLossOnesGpu));

}  // namespace
}  // namespace loom::gpu
