#include "operators/cpu/tensor_misc.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"
#include "operators/cpu/reduce.h"

namespace loom::cpu {
namespace {

constexpr int64_t kCheapGrain = int64_t{1} << 15;
constexpr int64_t kCostlyGrain = int64_t{1} << 12;

// out[i] (req) = f(i) over [0, n), split over threads; f returns the arithmetic type A.
template <typename T, typename A, typename F>
void MapTo(int64_t n, int64_t grain, T* out, OpReq req, const F& f) {
  if (req == OpReq::kNull) return;
  const bool add = req == OpReq::kAddTo;
  ParallelFor(n, grain, [&](int64_t b, int64_t e) {
    if (add) {
      for (int64_t i = b; i < e; ++i) out[i] = static_cast<T>(A(out[i]) + f(i));
    } else {
      for (int64_t i = b; i < e; ++i) out[i] = static_cast<T>(f(i));
    }
  });
}

// Arithmetic type of the bool-including dispatch: bool adds as int.
template <typename T>
using ArithT = std::conditional_t<std::is_same_v<T, bool>, int, AccT<T>>;

}  // namespace

void CopyForward(const TensorView& x, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSize(y, x.size(), "copy", "out");
  CheckSameDType(x, y, "copy", "data", "out");
  if (req != OpReq::kAddTo) {
    if (x.ptr != y.ptr) std::memcpy(y.ptr, x.ptr, x.bytes());
    return;
  }
  DispatchAll(x.dtype, "copy", [&]<typename T>(Tag<T>) {
    const T* px = x.data<T>();
    MapTo<T, ArithT<T>>(x.size(), kCheapGrain, y.data<T>(), req,
                        [&](int64_t i) { return ArithT<T>(px[i]); });
  });
}

void FillForward(double value, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  DispatchAll(y.dtype, "fill", [&]<typename T>(Tag<T>) {
    const ArithT<T> v = static_cast<ArithT<T>>(value);
    MapTo<T, ArithT<T>>(y.size(), kCheapGrain, y.data<T>(), req, [&](int64_t) { return v; });
  });
}

void CastForward(const TensorView& x, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(x, y, "Cast", "data", "out");
  if (x.dtype == y.dtype) return CopyForward(x, y, req);
  DispatchAll(x.dtype, "Cast", [&]<typename S>(Tag<S>) {
    const S* px = x.data<S>();
    DispatchAll(y.dtype, "Cast", [&]<typename D>(Tag<D>) {
      using A = ArithT<D>;
      MapTo<D, A>(x.size(), kCheapGrain, y.data<D>(), req, [&](int64_t i) {
        return static_cast<A>(static_cast<D>(static_cast<ArithT<S>>(px[i])));
      });
    });
  });
}

void AddNForward(std::span<const TensorView> inputs, const TensorView& out, OpReq req) {
  if (req == OpReq::kNull) return;
  LOOM_CHECK(!inputs.empty(), "add_n: expected at least one input");
  for (size_t k = 0; k < inputs.size(); ++k) {
    CheckSameShape(out, inputs[k], "add_n", "out", "arg" + std::to_string(k));
    CheckSameDType(out, inputs[k], "add_n", "out", "arg" + std::to_string(k));
  }
  DispatchFloatHalf(out.dtype, "add_n", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    std::vector<const T*> in;
    for (const TensorView& t : inputs) in.push_back(t.data<T>());
    MapTo<T, A>(out.size(), kCheapGrain / 4, out.data<T>(), req, [&](int64_t i) {
      A s = A(in[0][i]);
      for (size_t k = 1; k < in.size(); ++k) s += A(in[k][i]);
      return s;
    });
  });
}

void SinForward(const TensorView& x, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(x, y, "sin", "data", "out");
  CheckSameDType(x, y, "sin", "data", "out");
  DispatchFloatHalf(x.dtype, "sin", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    MapTo<T, A>(x.size(), kCostlyGrain, y.data<T>(), req,
                [&](int64_t i) { return std::sin(A(px[i])); });
  });
}

void SinBackward(const TensorView& dy, const TensorView& x, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameShape(x, dy, "sin", "data", "out_grad");
  CheckSameShape(x, dx, "sin", "data", "data_grad");
  CheckSameDType(x, dy, "sin", "data", "out_grad");
  CheckSameDType(x, dx, "sin", "data", "data_grad");
  DispatchFloatHalf(x.dtype, "sin", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    const T* pdy = dy.data<T>();
    MapTo<T, A>(x.size(), kCostlyGrain, dx.data<T>(), req,
                [&](int64_t i) { return A(pdy[i]) * std::cos(A(px[i])); });
  });
}

void NanReduceForward(bool prod, const TensorView& x, std::span<const int> axes,
                      const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = prod ? "nanprod" : "nansum";
  CheckSameDType(x, y, name, "data", "out");
  DispatchFloatHalf(x.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    std::vector<T> clean(static_cast<size_t>(x.size()));
    const T neutral = static_cast<T>(prod ? A(1) : A(0));
    for (int64_t i = 0; i < x.size(); ++i) clean[i] = std::isnan(A(px[i])) ? neutral : px[i];
    TensorView cx = x;
    cx.ptr = clean.data();
    ReduceForward(prod ? ReduceOp::kProd : ReduceOp::kSum, cx, axes, y, req);
  });
}

void NanReduceBackward(bool prod, const TensorView& dy, const TensorView& x, const TensorView& y,
                       std::span<const int> axes, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  const char* name = prod ? "nanprod" : "nansum";
  CheckSameShape(x, dx, name, "data", "data_grad");
  CheckSameDType(x, dx, name, "data", "data_grad");
  DispatchFloatHalf(x.dtype, name, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    const T* px = x.data<T>();
    std::vector<T> clean(static_cast<size_t>(x.size()));
    for (int64_t i = 0; i < x.size(); ++i) {
      clean[i] = std::isnan(A(px[i])) ? static_cast<T>(A(1)) : px[i];
    }
    TensorView cx = x;
    cx.ptr = clean.data();
    std::vector<T> full(static_cast<size_t>(x.size()));
    TensorView fv = dx;
    fv.ptr = full.data();
    ReduceBackward(prod ? ReduceOp::kProd : ReduceOp::kSum, dy, cx, y, axes, fv, OpReq::kWriteTo);
    T* pdx = dx.data<T>();
    MapTo<T, A>(x.size(), kCheapGrain, pdx, req,
                [&](int64_t i) { return std::isnan(A(px[i])) ? A(0) : A(full[i]); });
  });
}

}  // namespace loom::cpu
