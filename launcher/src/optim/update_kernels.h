// The fused element-wise update rules of the optimizers (internal). Each kernel updates elements
// [begin, end) of one parameter in a single pass; the arithmetic follows MXNet 1.9.1's kernels
// (src/operator/optimizer_op-inl.h, contrib/adamw-inl.h) operation by operation, in the weight's
// element type, with every hyper-parameter first rounded to float as MXNet's float parameters are.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

// The loops compile for the CPU (optimizer.cc) and, under nvcc, as device functions that the GPU
// update kernel (cuda/update_kernels_gpu.cu) calls with one element each.
#if defined(__CUDACC__)
#define LOOM_HOST_DEVICE __host__ __device__
#else
#define LOOM_HOST_DEVICE
#endif

namespace loom::train::detail {

// The update rules with a fused kernel.
enum class UpdateRule { kSgd, kNag, kAdam, kAdamW, kRmsProp, kAdaGrad };

// MXNet's mshadow_op::clip (x > b: b; x < -b: -b; else x). NaN passes through: both comparisons
// are false for it. Branch-free, so the loops below vectorise.
template <typename T>
LOOM_HOST_DEVICE inline T Clip(T x, T bound) {
  const T low = x < -bound ? -bound : x;
  return bound < low ? bound : low;
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
  T eta = 0;  // adamw: the bias-corrected learning rate
};

// Calls body(std::bool_constant<clip>) with clip = (clip_gradient >= 0), so that each loop is
// compiled without a branch on it.
template <typename T, typename Body>
LOOM_HOST_DEVICE inline void WithClip(const UpdateScalars<T>& s, Body&& body) {
  if (s.clip_gradient >= T(0)) {
    body(std::true_type{});
  } else {
    body(std::false_type{});
  }
}

template <bool kClip, typename T>
LOOM_HOST_DEVICE inline T MaybeClip(T x, T bound) {
  if constexpr (kClip) {
    return Clip(x, bound);
  } else {
    return x;
  }
}

// multi_sgd_mom_update / multi_sgd_update (what MXNet 1.9.1's SGD runs for dense arrays):
//   mom = momentum * mom - lr * wd * w - lr * clip(rescale * g);  w += mom
// (without clipping the last term is (lr * rescale) * g, as in MXNet). Without momentum state
// (mom == nullptr) the same with mom = 0.
template <typename T>
LOOM_HOST_DEVICE void SgdKernel(T* w, const T* g, T* mom, int64_t begin, int64_t end, const UpdateScalars<T>& s) {
  const T lr = s.lr, momentum = s.momentum, rescale = s.rescale_grad, bound = s.clip_gradient;
  const T lr_wd = s.lr * s.wd;
  const T lr_rescale = s.lr * s.rescale_grad;
  const T zero = s.momentum * T(0);
  WithClip(s, [&](auto clip) {
    auto grad_term = [&](T gi) {
      if constexpr (decltype(clip)::value) {
        return lr * Clip(rescale * gi, bound);
      } else {
        return lr_rescale * gi;
      }
    };
    if (mom != nullptr) {
      for (int64_t i = begin; i < end; ++i) {
        const T m = momentum * mom[i] - lr_wd * w[i] - grad_term(g[i]);
        mom[i] = m;
        w[i] = w[i] + m;
      }
    } else {
      for (int64_t i = begin; i < end; ++i) {
        const T m = zero - lr_wd * w[i] - grad_term(g[i]);
        w[i] = w[i] + m;
      }
    }
  });
}

// sgd_update (what MXNet's NAG runs without momentum):
//   w = (1 - lr * wd) * w - lr * clip(rescale * g)    (without clipping: (lr * rescale) * g)
template <typename T>
LOOM_HOST_DEVICE void PlainSgdKernel(T* w, const T* g, int64_t begin, int64_t end, const UpdateScalars<T>& s) {
  const T lr = s.lr, rescale = s.rescale_grad, bound = s.clip_gradient;
  const T keep = T(1) - s.lr * s.wd;
  const T lr_rescale = s.lr * s.rescale_grad;
  WithClip(s, [&](auto clip) {
    for (int64_t i = begin; i < end; ++i) {
      if constexpr (decltype(clip)::value) {
        w[i] = keep * w[i] - lr * Clip(rescale * g[i], bound);
      } else {
        w[i] = keep * w[i] - lr_rescale * g[i];
      }
    }
  });
}

// nag_mom_update, run in place as MXNet runs it (out aliases weight, so the momentum's weight
// decay term sees the updated weight):
//   gc = clip(rescale * g);  mom = momentum * mom
//   w' = w - mom + (momentum + 1) * (mom - lr * (gc + wd * w))
//   mom = mom - lr * (gc + wd * w')
template <typename T>
LOOM_HOST_DEVICE void NagKernel(T* w, const T* g, T* mom, int64_t begin, int64_t end, const UpdateScalars<T>& s) {
  const T momentum = s.momentum, momentum_1 = s.momentum + T(1);
  const T lr = s.lr, wd = s.wd, rescale = s.rescale_grad, bound = s.clip_gradient;
  WithClip(s, [&](auto clip) {
    for (int64_t i = begin; i < end; ++i) {
      const T gc = MaybeClip<decltype(clip)::value>(rescale * g[i], bound);
      const T m = momentum * mom[i];
      const T w_new = w[i] - m + momentum_1 * (m - lr * (gc + wd * w[i]));
      w[i] = w_new;
      mom[i] = m - lr * (gc + wd * w_new);
    }
  });
}

// adam_update (lr already carries MXNet's bias correction sqrt(1 - beta2^t) / (1 - beta1^t)):
//   gr = clip(g * rescale + w * wd)
//   mean = beta1 * mean + (1 - beta1) * gr;  var = beta2 * var + (1 - beta2) * gr * gr
//   w = w - lr * mean / (sqrt(var) + epsilon)
template <typename T>
LOOM_HOST_DEVICE void AdamKernel(T* w, const T* g, T* mean, T* var, int64_t begin, int64_t end,
                const UpdateScalars<T>& s) {
  const T beta1 = s.beta1, one_beta1 = T(1) - s.beta1;
  const T beta2 = s.beta2, one_beta2 = T(1) - s.beta2;
  const T lr = s.lr, wd = s.wd, rescale = s.rescale_grad, bound = s.clip_gradient;
  const T epsilon = s.epsilon;
  WithClip(s, [&](auto clip) {
    for (int64_t i = begin; i < end; ++i) {
      const T gr = MaybeClip<decltype(clip)::value>(g[i] * rescale + w[i] * wd, bound);
      const T m = beta1 * mean[i] + one_beta1 * gr;
      const T v = beta2 * var[i] + one_beta2 * gr * gr;
      mean[i] = m;
      var[i] = v;
      w[i] = w[i] - lr * m / (std::sqrt(v) + epsilon);
    }
  });
}

// contrib adamw_update with lr = 1 and eta = the bias-corrected learning rate (how MXNet's
// AdamW users, e.g. GluonNLP's BERTAdam, drive it): decoupled weight decay
//   gr = clip(g * rescale)
//   mean = beta1 * mean + (1 - beta1) * gr;  var = beta2 * var + (1 - beta2) * (gr * gr)
//   w = w - eta * (mean / (sqrt(var) + epsilon) + wd * w)
template <typename T>
LOOM_HOST_DEVICE void AdamWKernel(T* w, const T* g, T* mean, T* var, int64_t begin, int64_t end,
                 const UpdateScalars<T>& s) {
  const T beta1 = s.beta1, one_beta1 = T(1) - s.beta1;
  const T beta2 = s.beta2, one_beta2 = T(1) - s.beta2;
  const T lr = T(1), eta = s.eta, wd = s.wd, rescale = s.rescale_grad, bound = s.clip_gradient;
  const T epsilon = s.epsilon;
  WithClip(s, [&](auto clip) {
    for (int64_t i = begin; i < end; ++i) {
      const T gr = MaybeClip<decltype(clip)::value>(g[i] * rescale, bound);
      const T m = beta1 * mean[i] + one_beta1 * gr;
      const T v = beta2 * var[i] + one_beta2 * (gr * gr);
      mean[i] = m;
      var[i] = v;
      w[i] = w[i] - eta * (lr * m / (std::sqrt(v) + epsilon) + wd * w[i]);
    }
  });
}

// rmsprop_update (centered = False), beta1 holding gamma1 (rho):
//   gr = clip(rescale * g + wd * w)
//   n = (1 - gamma1) * (gr * gr) + gamma1 * n
//   w = w - lr * (gr / sqrt(n + epsilon))
template <typename T>
LOOM_HOST_DEVICE void RmsPropKernel(T* w, const T* g, T* n, int64_t begin, int64_t end, const UpdateScalars<T>& s) {
  const T gamma1 = s.beta1, one_gamma1 = T(1) - s.beta1;
  const T lr = s.lr, wd = s.wd, rescale = s.rescale_grad, bound = s.clip_gradient;
  const T epsilon = s.epsilon;
  WithClip(s, [&](auto clip) {
    for (int64_t i = begin; i < end; ++i) {
      const T gr = MaybeClip<decltype(clip)::value>(rescale * g[i] + wd * w[i], bound);
      const T n_new = one_gamma1 * (gr * gr) + gamma1 * n[i];
      n[i] = n_new;
      w[i] = w[i] - lr * (gr / std::sqrt(n_new + epsilon));
    }
  });
}

// MXNet's AdaGrad for dense arrays (NDArray operations in Python, each rounded to T):
//   gr = clip(g * rescale);  history += gr * gr
//   w += (gr / sqrt(history + epsilon) + w * wd) * -lr
template <typename T>
LOOM_HOST_DEVICE void AdaGradKernel(T* w, const T* g, T* history, int64_t begin, int64_t end,
                   const UpdateScalars<T>& s) {
  const T neg_lr = -s.lr, wd = s.wd, rescale = s.rescale_grad, bound = s.clip_gradient;
  const T epsilon = s.epsilon;
  WithClip(s, [&](auto clip) {
    for (int64_t i = begin; i < end; ++i) {
      const T gr = MaybeClip<decltype(clip)::value>(g[i] * rescale, bound);
      const T h = history[i] + gr * gr;
      history[i] = h;
      const T div = gr / std::sqrt(h + epsilon);
      w[i] = w[i] + (div + w[i] * wd) * neg_lr;
    }
  });
}

}  // namespace loom::train::detail
