// Element-wise GPU kernels: grid-stride loops over the elements, arithmetic in Acc<T>, one kernel
// instantiation per operation (the formulas live in elemwise_device.cuh). The maps of one or two
// inputs to one output read and write 16-byte packs when every pointer is 16-byte aligned (one
// float4's worth per access: enough bytes in flight to fill an H100's memory bandwidth), the
// remaining elements one by one.
#include <algorithm>
#include <cstdint>

#include "operators/cuda/elemwise_device.cuh"
#include "operators/cuda/elemwise_kernels.h"

namespace loom::gpu {
namespace {

template <typename T, typename A>
__device__ __forceinline__ void StoreArith(int req, T* dst, A v) {
  if (req == kReqAddTo) {
    *dst = FromAcc<T>(static_cast<A>(static_cast<A>(ToAcc(*dst)) + v));
  } else if (req != kReqNull) {
    *dst = FromAcc<T>(v);
  }
}

// Elements per 16-byte pack.
template <typename T>
constexpr int kPack = static_cast<int>(16 / sizeof(T));
template <typename T>
struct alignas(16) Pack {
  T v[kPack<T>];
};

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// y (req) = f(x): packs [0, packs) as 16-byte accesses, then elements [packs * kPack, n).
template <typename T, typename F>
__global__ void Map1Kernel(const T* x, T* y, int64_t packs, int64_t n, int req, F f) {
  constexpr int kV = kPack<T>;
  const auto* xp = reinterpret_cast<const Pack<T>*>(x);
  auto* yp = reinterpret_cast<Pack<T>*>(y);
  LOOM_CUDA_KERNEL_LOOP(p, packs) {
    const Pack<T> xv = xp[p];
    Pack<T> yv = req == kReqAddTo ? yp[p] : Pack<T>{};
#pragma unroll
    for (int k = 0; k < kV; ++k) Store(req, &yv.v[k], f(ToAcc(xv.v[k])));
    yp[p] = yv;
  }
  const int64_t done = packs * kV;
  LOOM_CUDA_KERNEL_LOOP(t, n - done) {
    const int64_t i = done + t;
    Store(req, y + i, f(ToAcc(x[i])));
  }
}

// y (req) = f(a, b), as Map1Kernel.
template <typename T, typename F>
__global__ void Map2Kernel(const T* a, const T* b, T* y, int64_t packs, int64_t n, int req, F f) {
  constexpr int kV = kPack<T>;
  const auto* ap = reinterpret_cast<const Pack<T>*>(a);
  const auto* bp = reinterpret_cast<const Pack<T>*>(b);
  auto* yp = reinterpret_cast<Pack<T>*>(y);
  LOOM_CUDA_KERNEL_LOOP(p, packs) {
    const Pack<T> av = ap[p];
    const Pack<T> bv = bp[p];
    Pack<T> yv = req == kReqAddTo ? yp[p] : Pack<T>{};
#pragma unroll
    for (int k = 0; k < kV; ++k) Store(req, &yv.v[k], f(ToAcc(av.v[k]), ToAcc(bv.v[k])));
    yp[p] = yv;
  }
  const int64_t done = packs * kV;
  LOOM_CUDA_KERNEL_LOOP(t, n - done) {
    const int64_t i = done + t;
    Store(req, y + i, f(ToAcc(a[i]), ToAcc(b[i])));
  }
}

template <typename T, typename F>
void LaunchMap1(const void* x, void* y, int64_t n, int req, void* stream, F f) {
  const int64_t packs = Aligned16(x) && Aligned16(y) ? n / kPack<T> : 0;
  Map1Kernel<T><<<Blocks(packs + n - packs * kPack<T>), kThreads, 0, Stream(stream)>>>(
      static_cast<const T*>(x), static_cast<T*>(y), packs, n, req, f);
}

template <typename T, typename F>
void LaunchMap2(const void* a, const void* b, void* y, int64_t n, int req, void* stream, F f) {
  const int64_t packs = Aligned16(a) && Aligned16(b) && Aligned16(y) ? n / kPack<T> : 0;
  Map2Kernel<T><<<Blocks(packs + n - packs * kPack<T>), kThreads, 0, Stream(stream)>>>(
      static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), packs, n, req, f);
}

// The per-element functions the maps apply (A: the arithmetic type).
template <UnaryKind kOp>
struct UnaryFn {
  template <typename A>
  __device__ A operator()(A x) const {
    return UnaryValue<kOp>(x);
  }
};

// out_grad times f' from the forward input (kReadsX) or output.
template <UnaryKind kOp, bool kReadsX>
struct UnaryGradFn {
  template <typename A>
  __device__ A operator()(A g, A v) const {
    return g * (kReadsX ? UnaryDerivative<kOp>(v, A(0)) : UnaryDerivative<kOp>(A(0), v));
  }
};

// out_grad times a constant f' (copy, negative: the derivative reads neither x nor y).
template <UnaryKind kOp>
struct UnaryConstGradFn {
  template <typename A>
  __device__ A operator()(A g) const {
    return g * UnaryDerivative<kOp>(A(0), A(0));
  }
};

template <BinaryKind kOp>
struct BinaryFn {
  template <typename A>
  __device__ A operator()(A a, A b) const {
    return BinaryValue<kOp>(a, b);
  }
};

template <ScalarKind kOp, typename A>
struct ScalarFn {
  A s;
  __device__ A operator()(A x) const { return ScalarValue<kOp>(x, s); }
};

template <ScalarKind kOp, typename A>
struct ScalarGradFn {
  A s;
  __device__ A operator()(A g, A x) const { return g * ScalarDerivative<kOp>(x, s); }
};

template <typename A>
struct ClipFn {
  A lo, hi;
  __device__ A operator()(A v) const { return v < lo ? lo : (v > hi ? hi : v); }
};

template <typename A>
struct ClipGradFn {
  A lo, hi;
  __device__ A operator()(A g, A v) const { return (v < lo || v > hi) ? A(0) : g; }
};

template <BinaryKind kOp, typename T>
__global__ void BinaryBackwardKernel(const T* dy, const T* a, const T* b, T* da, int a_req, T* db,
                                     int b_req, int64_t n) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const A g = ToAcc(dy[i]), av = ToAcc(a[i]), bv = ToAcc(b[i]);
    if (a_req != kReqNull) Store(a_req, da + i, g * BinaryDerivativeA<kOp>(av, bv));
    if (b_req != kReqNull) Store(b_req, db + i, g * BinaryDerivativeB<kOp>(av, bv));
  }
}

template <typename C>
__device__ __forceinline__ bool IsTrue(const C* cond, int64_t i) {
  return ToAcc(cond[i]) != Acc<C>(0);
}

template <typename C, typename T>
__global__ void WhereForwardKernel(const C* cond, int64_t row_len, const T* x, const T* y, T* out,
                                   int64_t n, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    Store(req, out + i, IsTrue(cond, i / row_len) ? ToAcc(x[i]) : ToAcc(y[i]));
  }
}

template <typename C, typename T>
__global__ void WhereBackwardKernel(const C* cond, int64_t row_len, const T* dout, T* dx, int x_req,
                                    T* dy, int y_req, int64_t n) {
  using A = Acc<T>;
  LOOM_CUDA_KERNEL_LOOP(i, n) {
    const bool pick = IsTrue(cond, i / row_len);
    const A g = ToAcc(dout[i]);
    if (x_req != kReqNull) Store(x_req, dx + i, pick ? g : A(0));
    if (y_req != kReqNull) Store(y_req, dy + i, pick ? A(0) : g);
  }
}

template <typename T>
__global__ void FillKernel(T* y, int64_t n, ArithOf<T> v, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, n) { StoreArith(req, y + i, v); }
}

constexpr int kMaxAddN = 16;
struct AddNInputs {
  const void* p[kMaxAddN];
};

// out (req) = the sum of the inputs: packs [0, packs) as 16-byte accesses, then the rest.
template <typename T>
__global__ void AddNKernel(AddNInputs in, int num, T* out, int64_t packs, int64_t n, int req) {
  using A = ArithOf<T>;
  constexpr int kV = kPack<T>;
  auto* outp = reinterpret_cast<Pack<T>*>(out);
  LOOM_CUDA_KERNEL_LOOP(p, packs) {
    A s[kV];
    const Pack<T> first = static_cast<const Pack<T>*>(in.p[0])[p];
#pragma unroll
    for (int k = 0; k < kV; ++k) s[k] = static_cast<A>(ToAcc(first.v[k]));
    for (int m = 1; m < num; ++m) {
      const Pack<T> v = static_cast<const Pack<T>*>(in.p[m])[p];
#pragma unroll
      for (int k = 0; k < kV; ++k) s[k] = static_cast<A>(s[k] + ToAcc(v.v[k]));
    }
    Pack<T> yv = req == kReqAddTo ? outp[p] : Pack<T>{};
#pragma unroll
    for (int k = 0; k < kV; ++k) StoreArith(req, &yv.v[k], s[k]);
    outp[p] = yv;
  }
  const int64_t done = packs * kV;
  LOOM_CUDA_KERNEL_LOOP(t, n - done) {
    const int64_t i = done + t;
    A s = static_cast<A>(ToAcc(static_cast<const T*>(in.p[0])[i]));
    for (int m = 1; m < num; ++m) s = static_cast<A>(s + ToAcc(static_cast<const T*>(in.p[m])[i]));
    StoreArith(req, out + i, s);
  }
}

template <typename T>
__global__ void CountAboveKernel(const T* y, int64_t n, double thresh, unsigned long long* count) {
  unsigned long long c = 0;
  LOOM_CUDA_KERNEL_LOOP(i, n) { c += static_cast<double>(ToAcc(y[i])) > thresh ? 1 : 0; }
  for (int off = 16; off > 0; off /= 2) c += __shfl_down_sync(0xffffffffu, c, off);
  if ((threadIdx.x & 31) == 0 && c != 0) atomicAdd(count, c);
}

template <typename T>
__global__ void MakeLossGradKernel(T* dx, int64_t n, double grad_scale, double norm,
                                   const unsigned long long* count, int req) {
  const double d = count != nullptr ? static_cast<double>(*count > 0 ? *count : 1) : norm;
  const Acc<T> v = static_cast<Acc<T>>(grad_scale / d);
  LOOM_CUDA_KERNEL_LOOP(i, n) { Store(req, dx + i, v); }
}

}  // namespace

void UnaryForward(UnaryKind op, DType dtype, const void* x, void* y, int64_t n, int req,
                  void* stream, const char* what) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<UnaryKind, kNumUnaryKinds>(op, what, [&](auto k) {
      LaunchMap1<T>(x, y, n, req, stream, UnaryFn<decltype(k)::value>{});
    });
  });
  CheckLaunch(what);
}

void UnaryBackward(UnaryKind op, DType dtype, const void* dy, const void* x, const void* y,
                   void* dx, int64_t n, int req, void* stream, const char* what) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<UnaryKind, kNumUnaryKinds>(op, what, [&](auto k) {
      constexpr UnaryKind kOp = decltype(k)::value;
      if (x != nullptr) {
        LaunchMap2<T>(dy, x, dx, n, req, stream, UnaryGradFn<kOp, true>{});
      } else if (y != nullptr) {
        LaunchMap2<T>(dy, y, dx, n, req, stream, UnaryGradFn<kOp, false>{});
      } else {
        LaunchMap1<T>(dy, dx, n, req, stream, UnaryConstGradFn<kOp>{});
      }
    });
  });
  CheckLaunch(what);
}

void BinaryForward(BinaryKind op, DType dtype, const void* a, const void* b, void* out, int64_t n,
                   int req, void* stream, const char* what) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<BinaryKind, kNumBinaryKinds>(op, what, [&](auto k) {
      LaunchMap2<T>(a, b, out, n, req, stream, BinaryFn<decltype(k)::value>{});
    });
  });
  CheckLaunch(what);
}

void BinaryBackward(BinaryKind op, DType dtype, const void* dy, const void* a, const void* b,
                    void* da, int a_req, void* db, int b_req, int64_t n, void* stream,
                    const char* what) {
  if ((a_req == kReqNull && b_req == kReqNull) || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<BinaryKind, kNumBinaryKinds>(op, what, [&](auto k) {
      BinaryBackwardKernel<decltype(k)::value, T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
          static_cast<const T*>(dy), static_cast<const T*>(a), static_cast<const T*>(b),
          static_cast<T*>(da), a_req, static_cast<T*>(db), b_req, n);
    });
  });
  CheckLaunch(what);
}

void ScalarForward(ScalarKind op, DType dtype, const void* x, double s, void* y, int64_t n, int req,
                   void* stream, const char* what) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<ScalarKind, kNumScalarKinds>(op, what, [&](auto k) {
      LaunchMap1<T>(x, y, n, req, stream,
                    ScalarFn<decltype(k)::value, Acc<T>>{static_cast<Acc<T>>(s)});
    });
  });
  CheckLaunch(what);
}

void ScalarBackward(ScalarKind op, DType dtype, const void* dy, const void* x, double s, void* dx,
                    int64_t n, int req, void* stream, const char* what) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, what, {
    DispatchKind<ScalarKind, kNumScalarKinds>(op, what, [&](auto k) {
      LaunchMap2<T>(dy, x, dx, n, req, stream,
                    ScalarGradFn<decltype(k)::value, Acc<T>>{static_cast<Acc<T>>(s)});
    });
  });
  CheckLaunch(what);
}

void ClipForward(DType dtype, const void* x, double lo, double hi, void* y, int64_t n, int req,
                 void* stream) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "clip", {
    LaunchMap1<T>(x, y, n, req, stream,
                  ClipFn<Acc<T>>{static_cast<Acc<T>>(lo), static_cast<Acc<T>>(hi)});
  });
  CheckLaunch("clip");
}

void ClipBackward(DType dtype, const void* dy, const void* x, double lo, double hi, void* dx,
                  int64_t n, int req, void* stream) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_clip", {
    LaunchMap2<T>(dy, x, dx, n, req, stream,
                  ClipGradFn<Acc<T>>{static_cast<Acc<T>>(lo), static_cast<Acc<T>>(hi)});
  });
  CheckLaunch("_backward_clip");
}

void WhereForward(DType cond_dtype, const void* cond, int64_t row_len, DType dtype, const void* x,
                  const void* y, void* out, int64_t n, int req, void* stream) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_ANY_SWITCH(cond_dtype, C, "where (condition)", {
    LOOM_GPU_FLOAT_SWITCH(dtype, T, "where", {
      WhereForwardKernel<C, T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
          static_cast<const C*>(cond), row_len, static_cast<const T*>(x), static_cast<const T*>(y),
          static_cast<T*>(out), n, req);
    });
  });
  CheckLaunch("where");
}

void WhereBackward(DType cond_dtype, const void* cond, int64_t row_len, DType dtype,
                   const void* dout, void* dx, int x_req, void* dy, int y_req, int64_t n,
                   void* stream) {
  if ((x_req == kReqNull && y_req == kReqNull) || n == 0) return;
  LOOM_GPU_ANY_SWITCH(cond_dtype, C, "_backward_where (condition)", {
    LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_where", {
      WhereBackwardKernel<C, T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
          static_cast<const C*>(cond), row_len, static_cast<const T*>(dout), static_cast<T*>(dx),
          x_req, static_cast<T*>(dy), y_req, n);
    });
  });
  CheckLaunch("_backward_where");
}

void Fill(DType dtype, void* y, int64_t n, double value, int req, void* stream) {
  if (req == kReqNull || n == 0) return;
  LOOM_GPU_ANY_SWITCH(dtype, T, "fill", {
    FillKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(static_cast<T*>(y), n,
                                                              static_cast<ArithOf<T>>(value), req);
  });
  CheckLaunch("fill");
}

void AddInto(DType dtype, const void* x, void* y, int64_t n, void* stream) {
  AddN(dtype, &x, 1, y, n, kReqAddTo, stream);
}

void AddN(DType dtype, const void* const* in, int num, void* out, int64_t n, int req,
          void* stream) {
  if (req == kReqNull || n == 0 || num <= 0) return;
  // Up to kMaxAddN inputs per pass; later passes accumulate into out.
  for (int first = 0; first < num; first += kMaxAddN) {
    const int count = std::min(kMaxAddN, num - first);
    AddNInputs args{};
    bool aligned = Aligned16(out);
    for (int k = 0; k < count; ++k) {
      args.p[k] = in[first + k];
      aligned = aligned && Aligned16(args.p[k]);
    }
    const int pass_req = first == 0 ? req : kReqAddTo;
    LOOM_GPU_ANY_SWITCH(dtype, T, "add_n", {
      const int64_t packs = aligned ? n / kPack<T> : 0;
      AddNKernel<T><<<Blocks(packs + n - packs * kPack<T>), kThreads, 0, Stream(stream)>>>(
          args, count, static_cast<T*>(out), packs, n, pass_req);
    });
    CheckLaunch("add_n");
  }
}

void MakeLossBackward(DType dtype, const void* out, int64_t n, double grad_scale, double norm,
                      bool count_valid, double valid_thresh, void* scratch, void* dx, int req,
                      void* stream) {
  if (req == kReqNull || n == 0) return;
  auto* count = static_cast<unsigned long long*>(scratch);
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "MakeLoss", {
    if (count_valid) {
      const cudaError_t status = cudaMemsetAsync(count, 0, sizeof(*count), Stream(stream));
      if (status != cudaSuccess) {
        throw Error(StrCat("MakeLoss: cudaMemsetAsync failed: ", cudaGetErrorString(status)));
      }
      CountAboveKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(static_cast<const T*>(out), n,
                                                                      valid_thresh, count);
      CheckLaunch("MakeLoss (count valid)");
    }
    MakeLossGradKernel<T><<<Blocks(n), kThreads, 0, Stream(stream)>>>(
        static_cast<T*>(dx), n, grad_scale, norm, count_valid ? count : nullptr, req);
  });
  CheckLaunch("MakeLoss");
}

}  // namespace loom::gpu
