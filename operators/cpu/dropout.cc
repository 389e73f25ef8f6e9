#include "operators/cpu/dropout.h"

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"
#include "operators/cpu/walk.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "Dropout";
constexpr int64_t kGrain = int64_t{1} << 15;

// out (req) = a * b elementwise (b = nullptr: out = a).
template <typename T>
void Multiply(int64_t n, const T* a, const T* b, T* out, OpReq req) {
  using A = AccT<T>;
  ParallelFor(n, kGrain, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      const A v = b ? A(a[i]) * A(b[i]) : A(a[i]);
      out[i] = static_cast<T>(req == OpReq::kAddTo ? A(out[i]) + v : v);
    }
  });
}

}  // namespace

bool DropoutActive(const DropoutParams& p, bool is_train) {
  return (is_train || p.always) && p.p > 0;
}

void DropoutForward(const DropoutParams& p, const OpContext& ctx, const TensorView& x,
                    const TensorView& y, OpReq req, const TensorView& mask) {
  LOOM_CHECK(p.p >= 0 && p.p <= 1, kOp, ": expected p in [0, 1] but got ", p.p);
  CheckSameShape(x, y, kOp, "data", "out");
  CheckSameDType(x, y, kOp, "data", "out");
  const bool active = DropoutActive(p, ctx.is_train);
  if (active) {
    LOOM_CHECK(ctx.rng != nullptr, kOp, ": training needs a random generator (kRandom resource)");
    CheckSameShape(x, mask, kOp, "data", "mask");
    CheckSameDType(x, mask, kOp, "data", "mask");
  }
  DispatchFloatHalf(x.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* px = x.data<T>();
    if (!active) {
      if (req != OpReq::kNull) Multiply<T>(x.size(), px, nullptr, y.data<T>(), req);
      return;
    }
    // One draw per element of the shape with `axes` set to 1, broadcast over those axes.
    Shape drawn = x.shape;
    for (int a : p.axes) drawn[NormalizeAxis(a, x.shape.ndim(), kOp)] = 1;
    std::vector<T> draws(static_cast<size_t>(drawn.Size()));
    const T keep_value = static_cast<T>(p.p >= 1 ? 0.0 : 1.0 / (1.0 - p.p));
    // keep when a 32-bit uniform draw is >= p * 2^32 (two draws per 64-bit output).
    const uint64_t threshold = static_cast<uint64_t>(p.p * 4294967296.0);
    auto& gen = *ctx.rng;
    for (size_t i = 0; i < draws.size(); i += 2) {
      const uint64_t bits = gen();
      draws[i] = (bits & 0xffffffffu) >= threshold ? keep_value : T(0);
      if (i + 1 < draws.size()) draws[i + 1] = (bits >> 32) >= threshold ? keep_value : T(0);
    }
    T* pm = mask.data<T>();
    if (drawn == x.shape) {
      std::copy(draws.begin(), draws.end(), pm);
    } else {
      const Walk walk(x.shape, {&drawn}, "Dropout");
      walk.ForRows(0, walk.rows(), [&](int64_t o, const int64_t* off, const int64_t* st) {
        for (int64_t i = 0; i < walk.inner(); ++i) pm[o + i] = draws[off[0] + i * st[0]];
      });
    }
    if (req != OpReq::kNull) Multiply<T>(x.size(), px, pm, y.data<T>(), req);
  });
}

void DropoutBackward(const DropoutParams& p, bool is_train, const TensorView& dy,
                     const TensorView& mask, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(dy, dx, kOp, "out_grad", "data_grad");
  CheckSameDType(dy, dx, kOp, "out_grad", "data_grad");
  const bool active = DropoutActive(p, is_train);
  if (active) CheckSameShape(dy, mask, kOp, "out_grad", "mask");
  DispatchFloatHalf(dy.dtype, kOp, [&]<typename T>(Tag<T>) {
    Multiply<T>(dy.size(), dy.data<T>(), active ? mask.data<T>() : nullptr, dx.data<T>(), req);
  });
}

}  // namespace loom::cpu
