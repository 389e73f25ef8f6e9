// The CPU kernels of the `<op>_scalar` operators and their `_backward_<op>_scalar` nodes, shared
// by elemwise_scalar.cc (+ - * / and their reversed forms) and elemwise_max_min_power.cc
// (maximum, minimum, power and hypot with a scalar).
//
//   LOOM_REGISTER_OP(_plus_scalar)...Kernel(DeviceType::kCPU,
//                                            FCompute(ScalarKernel<cpu::ScalarOp::kPlus>))
#pragma once

#include "operators/cpu/elementwise.h"
#include "tensor_kernels.h"

namespace loom::ops {

template <cpu::ScalarOp kOp>
void ScalarKernel(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req, Outputs out) {
  cpu::ScalarForward(kOp, in[0], attrs.param<ScalarParam>().scalar, out[0], req[0]);
}

// Inputs (out_grad, data).
template <cpu::ScalarOp kOp>
void ScalarBackwardKernel(const NodeAttrs& attrs, const OpContext&, Inputs in, Reqs req,
                          Outputs out) {
  cpu::ScalarBackward(kOp, in[0], in[1], attrs.param<ScalarParam>().scalar, out[0], req[0]);
}

}  // namespace loom::ops
