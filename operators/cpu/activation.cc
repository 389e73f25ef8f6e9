#include "operators/cpu/activation.h"

#include <cmath>
#include <random>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/math.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kLeaky = "LeakyReLU";
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluLambda = 1.0507009873554804934193349852946;
constexpr int64_t kGrain = int64_t{1} << 13;

// Channel of element i for prelu's gamma: data viewed as (outer, C, inner).
struct ChannelOf {
  int64_t channels = 1, inner = 1;
  int64_t operator()(int64_t i) const { return channels == 1 ? 0 : (i / inner) % channels; }
};

ChannelOf PreluChannels(const TensorView& x, const TensorView& gamma) {
  ChannelOf c;
  if (gamma.size() == 1) return c;
  LOOM_CHECK_TYPED(ShapeError, x.shape.ndim() >= 2 && gamma.size() == x.shape[1], kLeaky,
                   ": expected prelu's gamma to hold 1 or data.shape[1] slopes for data ",
                   x.shape.ToString(), " but got ", gamma.shape.ToString());
  c.channels = x.shape[1];
  c.inner = x.shape.Size(2, x.shape.ndim());
  return c;
}

template <typename A>
A Gelu(A x) {
  return A(0.5) * x * (A(1) + std::erf(x * A(M_SQRT1_2)));
}
template <typename A>
A GeluDerivative(A x) {
  return A(0.5) * (A(1) + std::erf(x * A(M_SQRT1_2))) +
         x * std::exp(A(-0.5) * x * x) * A(0.5 * M_2_SQRTPI * M_SQRT1_2);
}

}  // namespace

UnaryOp ActivationUnaryOp(ActType type) {
  switch (type) {
    case ActType::kRelu:
      return UnaryOp::kRelu;
    case ActType::kSigmoid:
      return UnaryOp::kSigmoid;
    case ActType::kTanh:
      return UnaryOp::kTanh;
    case ActType::kSoftrelu:
      return UnaryOp::kSoftrelu;
    case ActType::kSoftsign:
      return UnaryOp::kSoftsign;
  }
  throw Error(detail::StrCat("Activation: unknown act_type code ", static_cast<int>(type)));
}

void ActivationForward(ActType type, const TensorView& x, const TensorView& y, OpReq req) {
  UnaryForward(ActivationUnaryOp(type), x, y, req);
}

void ActivationBackward(ActType type, const TensorView& dy, const TensorView& x,
                        const TensorView& y, const TensorView& dx, OpReq req) {
  UnaryBackward(ActivationUnaryOp(type), dy, x, y, dx, req);
}

void LeakyReLUForward(const LeakyReLUParams& p, const OpContext& ctx, const TensorView& x,
                      const TensorView* gamma, const TensorView& y, OpReq req,
                      const TensorView* mask) {
  if (req == OpReq::kNull) return;
  CheckSameShape(x, y, kLeaky, "data", "out");
  CheckSameDType(x, y, kLeaky, "data", "out");
  const bool rrelu_train = p.type == LeakyType::kRrelu && ctx.is_train;
  if (p.type == LeakyType::kPrelu) {
    LOOM_CHECK(gamma != nullptr, kLeaky, ": expected a gamma input for act_type='prelu'");
    CheckSameDType(x, *gamma, kLeaky, "data", "gamma");
  }
  if (rrelu_train) {
    LOOM_CHECK(mask != nullptr && ctx.rng != nullptr, kLeaky,
               ": rrelu in training needs a mask output and a random generator");
    CheckSameShape(x, *mask, kLeaky, "data", "mask");
    CheckSameDType(x, *mask, kLeaky, "data", "mask");
  }
  auto body = [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t n = x.size();
    auto store = [&](int64_t i, A v) {
      py[i] = static_cast<T>(req == OpReq::kAddTo ? A(py[i]) + v : v);
    };
    switch (p.type) {
      case LeakyType::kLeaky:
      case LeakyType::kRrelu: {
        if (rrelu_train) {
          T* pm = mask->data<T>();
          std::uniform_real_distribution<double> slope(p.lower_bound, p.upper_bound);
          for (int64_t i = 0; i < n; ++i) pm[i] = static_cast<T>(slope(*ctx.rng));
          for (int64_t i = 0; i < n; ++i) {
            const A v = A(px[i]);
            store(i, v > A(0) ? v : A(pm[i]) * v);
          }
          break;
        }
        const A s = static_cast<A>(
            p.type == LeakyType::kLeaky ? p.slope : (p.lower_bound + p.upper_bound) / 2);
        ParallelFor(n, kGrain * 4, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            const A v = A(px[i]);
            store(i, v > A(0) ? v : s * v);
          }
        });
        break;
      }
      case LeakyType::kPrelu: {
        const ChannelOf channel = PreluChannels(x, *gamma);
        const T* pg = gamma->data<T>();
        ParallelFor(n, kGrain * 4, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            const A v = A(px[i]);
            store(i, v > A(0) ? v : A(pg[channel(i)]) * v);
          }
        });
        break;
      }
      case LeakyType::kElu:
      case LeakyType::kSelu: {
        const bool selu = p.type == LeakyType::kSelu;
        const A alpha = static_cast<A>(selu ? kSeluAlpha : p.slope);
        const A scale = static_cast<A>(selu ? kSeluLambda : 1.0);
        ParallelFor(n, kGrain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            const A v = A(px[i]);
            store(i, scale * (v > A(0) ? v : alpha * (Exp(v) - A(1))));
          }
        });
        break;
      }
      case LeakyType::kGelu:
        ParallelFor(n, kGrain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) store(i, Gelu(A(px[i])));
        });
        break;
    }
  };
  if (p.type == LeakyType::kPrelu || p.type == LeakyType::kRrelu) {
    DispatchFloat(x.dtype, kLeaky, body);
  } else {
    DispatchFloatHalf(x.dtype, kLeaky, body);
  }
}

void LeakyReLUBackward(const LeakyReLUParams& p, const TensorView& dy, const TensorView& x,
                       const TensorView* gamma, const TensorView* mask, const TensorView& dx,
                       OpReq req, const TensorView* gamma_grad, OpReq gamma_req) {
  CheckSameShape(x, dy, kLeaky, "data", "out_grad");
  CheckSameDType(x, dy, kLeaky, "data", "out_grad");
  if (req != OpReq::kNull) CheckSameShape(x, dx, kLeaky, "data", "data_grad");
  if (p.type != LeakyType::kPrelu) gamma_req = OpReq::kNull;
  if (p.type == LeakyType::kPrelu) {
    LOOM_CHECK(gamma != nullptr, kLeaky, ": expected a gamma input for act_type='prelu'");
  }
  if (gamma_req != OpReq::kNull) {
    LOOM_CHECK(gamma_grad != nullptr, kLeaky, ": expected a gamma_grad output");
    CheckSameShape(*gamma, *gamma_grad, kLeaky, "gamma", "gamma_grad");
  }
  if (p.type == LeakyType::kRrelu && mask != nullptr)
    CheckSameShape(x, *mask, kLeaky, "data", "mask");
  auto body = [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    const T* pdy = dy.data<T>();
    const int64_t n = x.size();
    if (gamma_req != OpReq::kNull) {
      const ChannelOf channel = PreluChannels(x, *gamma);
      std::vector<A> sum(static_cast<size_t>(gamma->size()), A(0));
      for (int64_t i = 0; i < n; ++i) {
        const A v = A(px[i]);
        if (!(v > A(0))) sum[channel(i)] += A(pdy[i]) * v;
      }
      T* pgg = gamma_grad->data<T>();
      for (int64_t c = 0; c < gamma->size(); ++c) {
        pgg[c] = static_cast<T>(gamma_req == OpReq::kAddTo ? A(pgg[c]) + sum[c] : sum[c]);
      }
    }
    if (req == OpReq::kNull) return;
    T* pdx = dx.data<T>();
    auto map = [&](int64_t grain, auto derivative) {
      ParallelFor(n, grain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const A v = A(pdy[i]) * derivative(i, A(px[i]));
          pdx[i] = static_cast<T>(req == OpReq::kAddTo ? A(pdx[i]) + v : v);
        }
      });
    };
    switch (p.type) {
      case LeakyType::kLeaky:
      case LeakyType::kRrelu: {
        if (p.type == LeakyType::kRrelu && mask != nullptr) {
          const T* pm = mask->data<T>();
          map(kGrain * 4, [&](int64_t i, A v) { return v > A(0) ? A(1) : A(pm[i]); });
          break;
        }
        const A s = static_cast<A>(
            p.type == LeakyType::kLeaky ? p.slope : (p.lower_bound + p.upper_bound) / 2);
        map(kGrain * 4, [&](int64_t, A v) { return v > A(0) ? A(1) : s; });
        break;
      }
      case LeakyType::kPrelu: {
        const ChannelOf channel = PreluChannels(x, *gamma);
        const T* pg = gamma->data<T>();
        map(kGrain * 4, [&](int64_t i, A v) { return v > A(0) ? A(1) : A(pg[channel(i)]); });
        break;
      }
      case LeakyType::kElu:
      case LeakyType::kSelu: {
        const bool selu = p.type == LeakyType::kSelu;
        const A alpha = static_cast<A>(selu ? kSeluAlpha : p.slope);
        const A scale = static_cast<A>(selu ? kSeluLambda : 1.0);
        map(kGrain, [&](int64_t, A v) { return scale * (v > A(0) ? A(1) : alpha * Exp(v)); });
        break;
      }
      case LeakyType::kGelu:
        map(kGrain, [&](int64_t, A v) { return GeluDerivative(v); });
        break;
    }
  };
  if (p.type == LeakyType::kPrelu || p.type == LeakyType::kRrelu) {
    DispatchFloat(x.dtype, kLeaky, body);
  } else {
    DispatchFloatHalf(x.dtype, kLeaky, body);
  }
}

}  // namespace loom::cpu
