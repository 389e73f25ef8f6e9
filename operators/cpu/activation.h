// Activation and LeakyReLU CPU kernels (relu, sigmoid, tanh, softrelu, softsign; leaky, prelu,
// rrelu, elu, selu, gelu), with gradients.
//
//   ActivationForward(ActType::kRelu, x, y, OpReq::kWriteTo);
//   ActivationBackward(ActType::kRelu, dy, x, y, dx, OpReq::kWriteTo);
//   LeakyReLUParams p{.type = LeakyType::kPrelu};
//   LeakyReLUForward(p, ctx, x, &gamma, y, OpReq::kWriteTo, nullptr);
//
// Activation is the element-wise kernel of elementwise.h (its backward reads y except for
// softsign, which reads x). LeakyReLU's backward reads the input x; prelu's gamma has one slope
// per channel (axis 1) or a single one. float16 (float32 math), float32, float64; prelu and rrelu
// float32/float64. Thread-safe.
#pragma once

#include <cstdint>

#include "loom/core/kernel.h"
#include "operators/cpu/elementwise.h"

namespace loom::cpu {

enum class ActType : uint8_t { kRelu, kSigmoid, kTanh, kSoftrelu, kSoftsign };

/// The element-wise operation act_type names.
UnaryOp ActivationUnaryOp(ActType type);

void ActivationForward(ActType type, const TensorView& x, const TensorView& y, OpReq req);
void ActivationBackward(ActType type, const TensorView& dy, const TensorView& x,
                        const TensorView& y, const TensorView& dx, OpReq req);

enum class LeakyType : uint8_t { kLeaky, kPrelu, kRrelu, kElu, kSelu, kGelu };

struct LeakyReLUParams {
  LeakyType type = LeakyType::kLeaky;
  double slope = 0.25;         ///< leaky and elu
  double lower_bound = 0.125;  ///< rrelu's slope range
  double upper_bound = 0.334;
};

/// leaky: x > 0 ? x : slope x; prelu: x > 0 ? x : gamma[c] x; rrelu: a random slope in
/// [lower, upper] per element while training (ctx.is_train; drawn from ctx.rng, kept in mask,
/// which must then be non-null), (lower + upper) / 2 otherwise; elu: x > 0 ? x : slope (e^x - 1);
/// selu: lambda (x > 0 ? x : alpha (e^x - 1)); gelu: x Phi(x) with the exact normal CDF (erf).
void LeakyReLUForward(const LeakyReLUParams& p, const OpContext& ctx, const TensorView& x,
                      const TensorView* gamma, const TensorView& y, OpReq req,
                      const TensorView* mask);
/// dx from the input x; prelu also gamma_grad (summed over everything but the channel), rrelu
/// reads the mask its training forward wrote.
void LeakyReLUBackward(const LeakyReLUParams& p, const TensorView& dy, const TensorView& x,
                       const TensorView* gamma, const TensorView* mask, const TensorView& dx,
                       OpReq req, const TensorView* gamma_grad, OpReq gamma_req);

}  // namespace loom::cpu
