// The fused element-wise update rules of the optimizers (internal). Each kernel updates elements
// [begin, end) of one parameter in a single pass; the arithmetic follows MXNet 1.9.1's kernels
// (src/operator/optimizer_op-inl.h, contrib/adamw-inl.h) operation by operation, in the weight's
// element type, with every hyper-parameter first rounded to float as MXNet's float parameters are.
#pragma once

#include <cmath>
#include <cstdint>

namespace loom::train::detail {

// MXNet's mshadow_op::clip: NaN passes through.
template <typename T>
inline T Clip(T x, T bound) {
  return x > bound ? bound : (x < -bound ? -bound : x);
}

// Scalars of one update, already in the element type T.
template <typename T>
struct UpdateScalars {
  T lr = 0;
  T wd = 0;
  T rescale_grad = 1;
  T clip_gradient = -1;  // >= 0: clipping on
  T momentum = 0;
  T beta1 = 0;
  T beta2 = 0;
  T epsilon = 0;
  T eta = 0;             // adamw: the bias-corrected learning rate
};

// multi_sgd_mom_update / multi_sgd_update (what MXNet 1.9.1's SGD runs for dense arrays):
//   mom = momentum * mom - lr * wd * w - lr * clip(rescale * g);  w += mom
// Without momentum state (mom == nullptr) the same with mom = 0.
template <typename T>
void SgdKernel(T* w, const T* g, T* mom, int64_t begin, int64_t end, const UpdateScalars<T>& s) {
  const T lr_wd = s.lr * s.wd;
  const T lr_rescale = s.lr * s.rescale_grad;
  const bool clip = s.clip_gradient >= T(0);
  if (mom != nullptr) {
    if (clip) {
      for (int64_t i = begin; i < end; ++i) {
        const T m = s.momentum * mom[i] - lr_wd * w[i] -
                    s.lr * Clip(s.rescale_grad * g[i], s.clip_gradient);
        mom[i] = m;
        w[i] = w[i] + m;
      }
    } else {
      for (int64_t i = begin; i < end; ++i) {
        const T m = s.momentum * mom[i] - lr_wd * w[i] - lr_rescale * g[i];
        mom[i] = m;
        w[i] = w[i] + m;
      }
    }
  } else {
    const T zero = s.momentum * T(0);
    if (clip) {
      for (int64_t i = begin; i < end; ++i) {
        const T m = zero - lr_wd * w[i] - s.lr * Clip(s.rescale_grad * g[i], s.clip_gradient);
        w[i] = w[i] + m;
      }
    } else {
      for (int64_t i = begin; i < end; ++i) {
        const T m = zero - lr_wd * w[i] - lr_rescale * g[i];
        w[i] = w[i] + m;
      }
    }
  }
}

// sgd_update (what MXNet's NAG runs without momentum):
//   w = (1 - lr * wd) * w - lr * clip(rescale * g)
template <typename T>
void PlainSgdKernel(T* w, const T* g, int64_t begin, int64_t end, const UpdateScalars<T>& s) {
  const T keep = T(1) - s.lr * s.wd;
  if (s.clip_gradient >= T(0)) {
    for (int64_t i = begin; i < end; ++i) {
      w[i] = keep * w[i] - s.lr * Clip(s.rescale_grad * g[i], s.clip_gradient);
    }
  } else {
    const T lr_rescale = s.lr * s.rescale_grad;
    for (int64_t i = begin; i < end; ++i) w[i] = keep * w[i] - lr_rescale * g[i];
  }
}

// nag_mom_update, run in place as MXNet runs it (out aliases weight, so the momentum's weight
// decay term sees the updated weight):
//   gc = clip(rescale * g);  mom = momentum * mom
//   w' = w - mom + (momentum + 1) * (mom - lr * (gc + wd * w))
//   mom = mom - lr * (gc + wd * w')
template <typename T>
void NagKernel(T* w, const T* g, T* mom, int64_t begin, int64_t end, const UpdateScalars<T>& s) {
  const T momentum_1 = s.momentum + T(1);
  const bool clip = s.clip_gradient >= T(0);
  for (int64_t i = begin; i < end; ++i) {
    const T gs = s.rescale_grad * g[i];
    const T gc = clip ? Clip(gs, s.clip_gradient) : gs;
    const T m = s.momentum * mom[i];
    const T w_new = w[i] - m + momentum_1 * (m - s.lr * (gc + s.wd * w[i]));
    w[i] = w_new;
    mom[i] = m - s.lr * (gc + s.wd * w_new);
  }
}

// adam_update (lr already carries MXNet's bias correction sqrt(1 - beta2^t) / (1 - beta1^t)):
//   gr = clip(g * rescale + w * wd)
//   mean = beta1 * mean + (1 - beta1) * gr;  var = beta2 * var + (1 - beta2) * gr * gr
//   w = w - lr * mean / (sqrt(var) + epsilon)
template <typename T>
void AdamKernel(T* w, const T* g, T* mean, T* var, int64_t begin, int64_t end,
                const UpdateScalars<T>& s) {
  const T one_beta1 = T(1) - s.beta1;
  const T one_beta2 = T(1) - s.beta2;
  const bool clip = s.clip_gradient >= T(0);
  for (int64_t i = begin; i < end; ++i) {
    const T gs = g[i] * s.rescale_grad + w[i] * s.wd;
    const T gr = clip ? Clip(gs, s.clip_gradient) : gs;
    const T m = s.beta1 * mean[i] + one_beta1 * gr;
    const T v = s.beta2 * var[i] + one_beta2 * gr * gr;
    mean[i] = m;
    var[i] = v;
    w[i] = w[i] - s.lr * m / (std::sqrt(v) + s.epsilon);
  }
}

// contrib adamw_update with lr = 1 and eta = the bias-corrected learning rate (how MXNet's
// AdamW users, e.g. GluonNLP's BERTAdam, drive it): decoupled weight decay
//   gr = clip(g * rescale)
//   mean = beta1 * mean + (1 - beta1) * gr;  var = beta2 * var + (1 - beta2) * (gr * gr)
//   w = w - eta * (mean / (sqrt(var) + epsilon) + wd * w)
template <typename T>
void AdamWKernel(T* w, const T* g, T* mean, T* var, int64_t begin, int64_t end,
                 const UpdateScalars<T>& s) {
  const T one_beta1 = T(1) - s.beta1;
  const T one_beta2 = T(1) - s.beta2;
  const T lr = T(1);
  const bool clip = s.clip_gradient >= T(0);
  for (int64_t i = begin; i < end; ++i) {
    const T gs = g[i] * s.rescale_grad;
    const T gr = clip ? Clip(gs, s.clip_gradient) : gs;
    const T m = s.beta1 * mean[i] + one_beta1 * gr;
    const T v = s.beta2 * var[i] + one_beta2 * (gr * gr);
    mean[i] = m;
    var[i] = v;
    w[i] = w[i] - s.eta * (lr * m / (std::sqrt(v) + s.epsilon) + s.wd * w[i]);
  }
}

// rmsprop_update (centered = False), beta1 holding gamma1 (rho):
//   gr = clip(rescale * g + wd * w)
//   n = (1 - gamma1) * gr * gr + gamma1 * n
//   w = w - lr * gr / sqrt(n + epsilon)
template <typename T>
void RmsPropKernel(T* w, const T* g, T* n, int64_t begin, int64_t end,
                   const UpdateScalars<T>& s) {
  const T one_gamma1 = T(1) - s.beta1;
  const bool clip = s.clip_gradient >= T(0);
  for (int64_t i = begin; i < end; ++i) {
    const T gs = s.rescale_grad * g[i] + s.wd * w[i];
    const T gr = clip ? Clip(gs, s.clip_gradient) : gs;
    const T n_new = one_gamma1 * (gr * gr) + s.beta1 * n[i];
    n[i] = n_new;
    w[i] = w[i] - s.lr * (gr / std::sqrt(n_new + s.epsilon));
  }
}

// MXNet's AdaGrad for dense arrays (NDArray operations in Python, each rounded to T):
//   gr = clip(g * rescale);  history += gr^2
//   w += (gr / sqrt(history + epsilon) + w * wd) * -lr
template <typename T>
void AdaGradKernel(T* w, const T* g, T* history, int64_t begin, int64_t end,
                   const UpdateScalars<T>& s) {
  const T neg_lr = -s.lr;
  const bool clip = s.clip_gradient >= T(0);
  for (int64_t i = begin; i < end; ++i) {
    const T gs = g[i] * s.rescale_grad;
    const T gr = clip ? Clip(gs, s.clip_gradient) : gs;
    const T h = history[i] + gr * gr;
    history[i] = h;
    const T div = gr / std::sqrt(h + s.epsilon);
    w[i] = w[i] + (div + w[i] * s.wd) * neg_lr;
  }
}

}  // namespace loom::train::detail
