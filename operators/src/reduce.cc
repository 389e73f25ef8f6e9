// Reductions over axes: sum, mean, max, min, prod, nansum, nanprod; argmax and argmin.
#include "operators/cpu/reduce.h"

#include "operators/cpu/tensor_misc.h"
#include "shape_util.h"
#include "tensor_kernels.h"
#include "reduce_param.h"

namespace loom::ops {
namespace {

void ReduceAxesShape(ShapeContext& ctx) {
  const auto& p = ctx.param<ReduceAxesParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int n = data.ndim();
  Shape out;
  if (!p.axis || p.axis->ndim() == 0) {
    out = p.keepdims ? Shape(std::vector<int64_t>(n, 1)) : Shape{1};
  } else {
    std::vector<bool> listed(n, false);
    for (int64_t a : *p.axis) {
      const int axis = NormalizeAxis(ctx, a, data);
      if (listed[axis]) {
        ctx.Fail("parameter axis=" + FormatParam(*p.axis) + " lists axis " + std::to_string(axis) +
                 " twice");
      }
      listed[axis] = true;
    }
    for (int i = 0; i < n; ++i) {
      const bool reduced = listed[i] != p.exclude;
      if (!reduced) {
        out.push_back(data[i]);
      } else if (p.keepdims) {
        out.push_back(1);
      }
    }
    if (out.ndim() == 0) out.push_back(1);
  }
  ctx.SetOut(0, out, "data " + Str(data));
}

// The axes a node reduces, for data of `ndim` dimensions (sorted, as the kernels want them).
std::vector<int> ReducedAxes(const NodeAttrs& attrs, int ndim, const char* op) {
  const auto& p = attrs.param<ReduceAxesParam>();
  std::vector<int> axis;
  if (p.axis) {
    for (int64_t a : *p.axis) axis.push_back(static_cast<int>(a));
  }
  return cpu::ResolveReduceAxes(ndim, axis, p.exclude, op);
}

template <cpu::ReduceOp kOp>
void ReduceKernel(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req, Outputs out) {
  const auto axes = ReducedAxes(attrs, in[0].shape.ndim(), cpu::ToString(kOp));
  cpu::ReduceForward(kOp, in[0], axes, out[0], req[0]);
}

// sum and mean read only the head gradient: inputs (out_grad); the data's shape is the output's.
template <cpu::ReduceOp kOp>
void ReduceBackwardGradOnly(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req,
                            Outputs out) {
  const auto axes = ReducedAxes(attrs, out[0].shape.ndim(), cpu::ToString(kOp));
  cpu::ReduceBackward(kOp, in[0], out[0], TensorView{}, axes, out[0], req[0]);
}

// max, min and prod: inputs (out_grad, data, out).
template <cpu::ReduceOp kOp>
void ReduceBackwardKernel(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req,
                          Outputs out) {
  const auto axes = ReducedAxes(attrs, in[1].shape.ndim(), cpu::ToString(kOp));
  cpu::ReduceBackward(kOp, in[0], in[1], in[2], axes, out[0], req[0]);
}

template <bool kProd>
void NanReduceKernel(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req, Outputs out) {
  const auto axes = ReducedAxes(attrs, in[0].shape.ndim(), kProd ? "nanprod" : "nansum");
  cpu::NanReduceForward(kProd, in[0], axes, out[0], req[0]);
}

// inputs (out_grad, data, out).
template <bool kProd>
void NanReduceBackwardKernel(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req,
                             Outputs out) {
  const auto axes = ReducedAxes(attrs, in[1].shape.ndim(), kProd ? "nanprod" : "nansum");
  cpu::NanReduceBackward(kProd, in[0], in[1], in[2], axes, out[0], req[0]);
}

#define LOOM_REDUCE(Name, Doc)                                                             \
  LOOM_REGISTER_OP(Name)                                                                   \
      .Describe(Doc                                                                        \
                " Over `axis` (all axes by default, the others with exclude); the output " \
                "drops reduced axes ((1,) when none is left) or keeps them as 1 with "     \
                "keepdims.")                                                               \
      .Params<ReduceAxesParam>()                                                           \
      .Inputs({"data"})                                                                    \
      .InferShape(ReduceAxesShape)                                                         \
      .InferType(ElemwiseType)

// The backward operator `_backward_<Name>`, reading `inputs`.
#define LOOM_REDUCE_BACKWARD(Name, KernelFn, ...)                                     \
  LOOM_REGISTER_OP(_backward_##Name)                                                  \
      .Describe("Gradient of " #Name ": out_grad spread back over the reduced axes.") \
      .Inputs({__VA_ARGS__})                                                          \
      .Kernel(DeviceType::kCPU, FCompute(KernelFn))

LOOM_REDUCE(sum, "Sum.")
    .Alias("sum_axis")
    .Kernel(DeviceType::kCPU, FCompute(ReduceKernel<cpu::ReduceOp::kSum>))
    .Gradient(BackwardOf("_backward_sum", {kOutGrad}));
LOOM_REDUCE_BACKWARD(sum, ReduceBackwardGradOnly<cpu::ReduceOp::kSum>, "out_grad");

LOOM_REDUCE(mean, "Arithmetic mean.")
    .Kernel(DeviceType::kCPU, FCompute(ReduceKernel<cpu::ReduceOp::kMean>))
    .Gradient(BackwardOf("_backward_mean", {kOutGrad}));
LOOM_REDUCE_BACKWARD(mean, ReduceBackwardGradOnly<cpu::ReduceOp::kMean>, "out_grad");

// max / min: the gradient goes to every element equal to the result (MXNet's rule).
LOOM_REDUCE(max, "Maximum.")
    .Alias("max_axis")
    .Kernel(DeviceType::kCPU, FCompute(ReduceKernel<cpu::ReduceOp::kMax>))
    .Gradient(BackwardOf("_backward_max", {kOutGrad, InputAt(0), OutputAt(0)}));
LOOM_REDUCE_BACKWARD(max, ReduceBackwardKernel<cpu::ReduceOp::kMax>, "out_grad", "data", "out");

LOOM_REDUCE(min, "Minimum.")
    .Alias("min_axis")
    .Kernel(DeviceType::kCPU, FCompute(ReduceKernel<cpu::ReduceOp::kMin>))
    .Gradient(BackwardOf("_backward_min", {kOutGrad, InputAt(0), OutputAt(0)}));
LOOM_REDUCE_BACKWARD(min, ReduceBackwardKernel<cpu::ReduceOp::kMin>, "out_grad", "data", "out");

// prod: dy * y / x (MXNet's formula; undefined where x is 0).
LOOM_REDUCE(prod, "Product.")
    .Kernel(DeviceType::kCPU, FCompute(ReduceKernel<cpu::ReduceOp::kProd>))
    .Gradient(BackwardOf("_backward_prod", {kOutGrad, InputAt(0), OutputAt(0)}));
LOOM_REDUCE_BACKWARD(prod, ReduceBackwardKernel<cpu::ReduceOp::kProd>, "out_grad", "data", "out");

LOOM_REDUCE(nansum, "Sum, treating NaN as 0.")
    .Kernel(DeviceType::kCPU, FCompute(NanReduceKernel<false>))
    .Gradient(BackwardOf("_backward_nansum", {kOutGrad, InputAt(0), OutputAt(0)}));
LOOM_REDUCE_BACKWARD(nansum, NanReduceBackwardKernel<false>, "out_grad", "data", "out");

LOOM_REDUCE(nanprod, "Product, treating NaN as 1.")
    .Kernel(DeviceType::kCPU, FCompute(NanReduceKernel<true>))
    .Gradient(BackwardOf("_backward_nanprod", {kOutGrad, InputAt(0), OutputAt(0)}));
LOOM_REDUCE_BACKWARD(nanprod, NanReduceBackwardKernel<true>, "out_grad", "data", "out");

#undef LOOM_REDUCE_BACKWARD
#undef LOOM_REDUCE

void ReduceAxisShape(ShapeContext& ctx) {
  const auto& p = ctx.param<ReduceAxisParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  Shape out;
  if (!p.axis || data.ndim() == 1) {
    out = p.keepdims ? Shape(std::vector<int64_t>(data.ndim(), 1)) : Shape{1};
  } else {
    const int axis = NormalizeAxis(ctx, *p.axis, data);
    for (int i = 0; i < data.ndim(); ++i) {
      if (i != axis) {
        out.push_back(data[i]);
      } else if (p.keepdims) {
        out.push_back(1);
      }
    }
  }
  ctx.SetOut(0, out, "data " + Str(data));
}

template <bool kMax>
void ArgReduceKernel(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req, Outputs out) {
  const auto& p = attrs.param<ReduceAxisParam>();
  std::optional<int> axis;
  if (p.axis) axis = static_cast<int>(*p.axis);
  cpu::ArgReduce(kMax, in[0], axis, out[0], req[0]);
}

// The indices are piecewise constant in the data: a zero gradient (MXNet's MakeZeroGradNodes).
#define LOOM_ARG_REDUCE(Name, Doc)                                                         \
  LOOM_REGISTER_OP(Name)                                                                   \
      .Describe(Doc                                                                        \
                " The indices have the data's dtype; the axis is dropped (kept as 1 with " \
                "keepdims); without an axis the result is (1,).")                          \
      .Params<ReduceAxisParam>()                                                           \
      .Inputs({"data"})                                                                    \
      .InferShape(ReduceAxisShape)                                                         \
      .InferType(ElemwiseType)                                                             \
      .Gradient(ZeroGradient)

LOOM_ARG_REDUCE(argmax, "Index of the maximum along `axis`.")
    .Kernel(DeviceType::kCPU, FCompute(ArgReduceKernel<true>));
LOOM_ARG_REDUCE(argmin, "Index of the minimum along `axis`.")
    .Kernel(DeviceType::kCPU, FCompute(ArgReduceKernel<false>));

#undef LOOM_ARG_REDUCE

}  // namespace
}  // namespace loom::ops
