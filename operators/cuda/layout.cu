// Data-movement GPU kernels: the strided N-d copy behind the layout operators, Pad, nearest
// UpSampling and bilinear UpSampling's depthwise deconvolution (see layout_kernels.h).
#include "operators/cuda/layout_kernels.h"
#include "operators/cuda/misc_util.cuh"

namespace loom::gpu {
namespace {

// The view's dims and strides in the index type of the launch (32-bit when everything fits).
template <typename I>
struct View {
  int ndim;
  I dims[kMaxStridedDims];
  I strides[kMaxStridedDims];
  I offset;
};

template <typename T, typename I>
__global__ void StridedMoveKernel(View<I> v, const T* src, T* dst, I total, bool gather, int req) {
  for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<I>(gridDim.x) * blockDim.x) {
    I rest = i, strided = v.offset;
    for (int d = v.ndim - 1; d > 0; --d) {
      strided += (rest % v.dims[d]) * v.strides[d];
      rest /= v.dims[d];
    }
    strided += rest * v.strides[0];
    if (gather) {
      Store(req, dst + i, ToAcc(src[strided]));
    } else {
      Store(req, dst + strided, ToAcc(src[i]));
    }
  }
}

// A gather whose source is contiguous along axis `a` but not along the last axis (a transpose):
// 32 x 32 tiles through shared memory, read along axis a and written along the last axis, both
// coalesced. Blocks enumerate (rest, tile along a, tile along the last axis); `rest` covers the
// other axes.
constexpr int kTile = 32;
constexpr int kTileRows = 8;

template <typename T>
__global__ void TransposeTilesKernel(StridedView v, int a, const T* src, T* dst, int64_t blocks,
                                     int req) {
  __shared__ T tile[kTile][kTile + 1];
  const int last = v.ndim - 1;
  const int64_t len_a = v.dims[a], len_b = v.dims[last];
  const int64_t tiles_a = (len_a + kTile - 1) / kTile, tiles_b = (len_b + kTile - 1) / kTile;
  // The destination is contiguous over dims: its stride along axis a.
  int64_t dst_stride_a = 1;
  for (int d = last; d > a; --d) dst_stride_a *= v.dims[d];
  for (int64_t blk = blockIdx.x; blk < blocks; blk += gridDim.x) {
    const int64_t tb = blk % tiles_b, ta = (blk / tiles_b) % tiles_a;
    int64_t rest = blk / (tiles_b * tiles_a), src_base = v.offset, dst_base = 0, dst_stride = 1;
    for (int d = last; d >= 0; --d) {
      if (d != a && d != last) {
        const int64_t c = rest % v.dims[d];
        rest /= v.dims[d];
        src_base += c * v.strides[d];
        dst_base += c * dst_stride;
      }
      dst_stride *= v.dims[d];
    }
    const int64_t a0 = ta * kTile, b0 = tb * kTile;
    __syncthreads();  // the previous tile is written out
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t ia = a0 + threadIdx.x, ib = b0 + r;
      if (ia < len_a && ib < len_b)
        tile[r][threadIdx.x] = src[src_base + ia + ib * v.strides[last]];
    }
    __syncthreads();
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t ia = a0 + r, ib = b0 + threadIdx.x;
      if (ia < len_a && ib < len_b) {
        Store(req, dst + dst_base + ia * dst_stride_a + ib, ToAcc(tile[threadIdx.x][r]));
      }
    }
  }
}

template <typename I>
View<I> Narrow(const StridedView& s) {
  View<I> v{};
  v.ndim = s.ndim;
  for (int d = 0; d < s.ndim; ++d) {
    v.dims[d] = static_cast<I>(s.dims[d]);
    v.strides[d] = static_cast<I>(s.strides[d]);
  }
  v.offset = static_cast<I>(s.offset);
  return v;
}

// ---- Pad ----

constexpr int kMaxPadDims = 5;

struct PadGeometry {
  int ndim;
  int64_t x_dims[kMaxPadDims], y_dims[kMaxPadDims], before[kMaxPadDims];
};

// The source index along an axis of len elements for padded position i, or -1 (constant).
__device__ __forceinline__ int64_t PadSource(int mode, int64_t i, int64_t len) {
  if (i >= 0 && i < len) return i;
  if (mode == 0) return -1;
  if (mode == 1) return i < 0 ? 0 : len - 1;
  if (len == 1) return 0;
  return i < 0 ? -i : 2 * (len - 1) - i;
}

template <typename T>
__global__ void PadForwardKernel(PadGeometry g, const T* x, T* y, int64_t total, int mode,
                                 Acc<T> fill, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, total) {
    int64_t rest = i, src = 0, x_stride = 1;
    bool constant = false;
    for (int d = g.ndim - 1; d >= 0; --d) {
      const int64_t coord = rest % g.y_dims[d];
      rest /= g.y_dims[d];
      const int64_t s = PadSource(mode, coord - g.before[d], g.x_dims[d]);
      if (s < 0) constant = true;
      src += s * x_stride;
      x_stride *= g.x_dims[d];
    }
    Store(req, y + i, constant ? fill : ToAcc(x[src]));
  }
}

// Per axis, the intervals [start, start + count) of output positions (padded coordinates plus
// `before`) whose source is x coordinate s: at most three.
struct Intervals {
  int64_t start[3], count[3];
  int n;
};

__device__ __forceinline__ Intervals SourcesOf(int mode, int64_t s, int64_t len, int64_t before,
                                               int64_t after) {
  Intervals r;
  r.n = 0;
  if (mode == 0) {
    r.start[0] = s + before;
    r.count[0] = 1;
    r.n = 1;
  } else if (mode == 1) {
    const int64_t lo = s == 0 ? -before : s, hi = s == len - 1 ? len - 1 + after : s;
    r.start[0] = lo + before;
    r.count[0] = hi - lo + 1;
    r.n = 1;
  } else {
    r.start[r.n] = s + before;
    r.count[r.n++] = 1;
    if (len > 1 && s >= 1 && s <= before) {
      r.start[r.n] = -s + before;
      r.count[r.n++] = 1;
    }
    const int64_t mirror = 2 * (len - 1) - s;
    if (len > 1 && mirror >= len && mirror <= len - 1 + after) {
      r.start[r.n] = mirror + before;
      r.count[r.n++] = 1;
    }
  }
  return r;
}

template <typename T>
__global__ void PadBackwardKernel(PadGeometry g, const T* dy, T* dx, int64_t total, int mode,
                                  int req) {
  LOOM_CUDA_KERNEL_LOOP(j, total) {
    Intervals iv[kMaxPadDims];
    int64_t rest = j;
    for (int d = g.ndim - 1; d >= 0; --d) {
      const int64_t s = rest % g.x_dims[d];
      rest /= g.x_dims[d];
      iv[d] = SourcesOf(mode, s, g.x_dims[d], g.before[d], g.y_dims[d] - g.x_dims[d] - g.before[d]);
    }
    Acc<T> sum = 0;
    // Every combination of one interval per axis, then every position in that box.
    int pick[kMaxPadDims] = {0, 0, 0, 0, 0};
    while (true) {
      int64_t at[kMaxPadDims];
      for (int d = 0; d < g.ndim; ++d) at[d] = 0;
      while (true) {
        int64_t offset = 0;
        for (int d = 0; d < g.ndim; ++d)
          offset = offset * g.y_dims[d] + iv[d].start[pick[d]] + at[d];
        sum += ToAcc(dy[offset]);
        int d = g.ndim - 1;
        for (; d >= 0; --d) {
          if (++at[d] < iv[d].count[pick[d]]) break;
          at[d] = 0;
        }
        if (d < 0) break;
      }
      int d = g.ndim - 1;
      for (; d >= 0; --d) {
        if (++pick[d] < iv[d].n) break;
        pick[d] = 0;
      }
      if (d < 0) break;
    }
    Store(req, dx + j, sum);
  }
}

PadGeometry MakePad(int ndim, const int64_t* x_dims, const int64_t* y_dims, const int64_t* before) {
  if (ndim < 1 || ndim > kMaxPadDims) {
    throw Error(StrCat("Pad on GPU: expected 1 to ", kMaxPadDims, " axes but got ", ndim));
  }
  PadGeometry g{};
  g.ndim = ndim;
  for (int d = 0; d < ndim; ++d) {
    g.x_dims[d] = x_dims[d];
    g.y_dims[d] = y_dims[d];
    g.before[d] = before[d];
  }
  return g;
}

// ---- UpSampling (nearest) ----

template <typename T>
__global__ void UpNearestForwardKernel(const T* x, T* y, int64_t total, int64_t c, int64_t big_c,
                                       int64_t h, int64_t w, int64_t sh, int64_t sw,
                                       int64_t channel_offset, int req) {
  const int64_t oh = h * sh, ow = w * sw;
  LOOM_CUDA_KERNEL_LOOP(i, total) {
    const int64_t col = i % ow, row = (i / ow) % oh, plane = i / (ow * oh);
    const int64_t b = plane / c, ch = plane % c;
    const T v = x[(plane * h + row / sh) * w + col / sw];
    Store(req, y + ((b * big_c + channel_offset + ch) * oh + row) * ow + col, ToAcc(v));
  }
}

template <typename T>
__global__ void UpNearestBackwardKernel(const T* dy, T* dx, int64_t total, int64_t c, int64_t big_c,
                                        int64_t h, int64_t w, int64_t sh, int64_t sw,
                                        int64_t channel_offset, int req) {
  const int64_t oh = h * sh, ow = w * sw;
  LOOM_CUDA_KERNEL_LOOP(i, total) {
    const int64_t ix = i % w, iy = (i / w) % h, plane = i / (w * h);
    const int64_t b = plane / c, ch = plane % c;
    const T* g = dy + ((b * big_c + channel_offset + ch) * oh + iy * sh) * ow + ix * sw;
    Acc<T> sum = 0;
    for (int64_t r = 0; r < sh; ++r) {
      for (int64_t q = 0; q < sw; ++q) sum += ToAcc(g[r * ow + q]);
    }
    Store(req, dx + i, sum);
  }
}

// ---- depthwise deconvolution (bilinear UpSampling) ----

template <typename T>
__global__ void DeconvForwardKernel(DepthwiseDeconv g, const T* x, const T* wt, T* y, int64_t total,
                                    int req) {
  LOOM_CUDA_KERNEL_LOOP(i, total) {
    const int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, plane = i / (g.ow * g.oh);
    const int64_t ch = plane % g.c;
    const T* xp = x + plane * g.h * g.w;
    const T* wp = wt + ch * g.k * g.k;
    Acc<T> sum = 0;
    for (int64_t ky = (oy + g.p) % g.s; ky < g.k; ky += g.s) {
      const int64_t iy = (oy + g.p - ky) / g.s;
      if (iy < 0 || iy >= g.h) continue;
      for (int64_t kx = (ox + g.p) % g.s; kx < g.k; kx += g.s) {
        const int64_t ix = (ox + g.p - kx) / g.s;
        if (ix < 0 || ix >= g.w) continue;
        sum += ToAcc(xp[iy * g.w + ix]) * ToAcc(wp[ky * g.k + kx]);
      }
    }
    Store(req, y + i, sum);
  }
}

template <typename T>
__global__ void DeconvDataGradKernel(DepthwiseDeconv g, const T* dy, const T* wt, T* dx,
                                     int64_t total, int req) {
  LOOM_CUDA_KERNEL_LOOP(i, total) {
    const int64_t ix = i % g.w, iy = (i / g.w) % g.h, plane = i / (g.w * g.h);
    const int64_t ch = plane % g.c;
    const T* gp = dy + plane * g.oh * g.ow;
    const T* wp = wt + ch * g.k * g.k;
    Acc<T> sum = 0;
    for (int64_t ky = 0; ky < g.k; ++ky) {
      const int64_t oy = iy * g.s - g.p + ky;
      if (oy < 0 || oy >= g.oh) continue;
      for (int64_t kx = 0; kx < g.k; ++kx) {
        const int64_t ox = ix * g.s - g.p + kx;
        if (ox < 0 || ox >= g.ow) continue;
        sum += ToAcc(gp[oy * g.ow + ox]) * ToAcc(wp[ky * g.k + kx]);
      }
    }
    Store(req, dx + i, sum);
  }
}

// One block per weight element (ch, ky, kx): the sum over n, iy, ix of x * dy.
template <typename T>
__global__ void DeconvWeightGradKernel(DepthwiseDeconv g, const T* dy, const T* x, T* dw, int req) {
  __shared__ Acc<T> shared[32];
  const int64_t kk = g.k * g.k;
  for (int64_t e = blockIdx.x; e < g.c * kk; e += gridDim.x) {
    const int64_t ch = e / kk, ky = (e % kk) / g.k, kx = e % g.k;
    Acc<T> sum = 0;
    const int64_t per_image = g.h * g.w;
    for (int64_t q = threadIdx.x; q < g.n * per_image; q += blockDim.x) {
      const int64_t b = q / per_image, iy = (q % per_image) / g.w, ix = q % g.w;
      const int64_t oy = iy * g.s - g.p + ky, ox = ix * g.s - g.p + kx;
      if (oy < 0 || oy >= g.oh || ox < 0 || ox >= g.ow) continue;
      const int64_t plane = b * g.c + ch;
      sum +=
          ToAcc(x[plane * per_image + iy * g.w + ix]) * ToAcc(dy[(plane * g.oh + oy) * g.ow + ox]);
    }
    sum = BlockSum(sum, shared);
    if (threadIdx.x == 0) Store(req, dw + e, sum);
  }
}

}  // namespace

void StridedMove(DType dtype, const StridedView& view, const void* src, void* dst, bool gather,
                 int req, void* stream, const char* op) {
  if (req == kReqNull) return;
  int64_t total = 1, reach = view.offset;
  for (int d = 0; d < view.ndim; ++d) {
    total *= view.dims[d];
    reach += (view.dims[d] - 1) * (view.strides[d] < 0 ? -view.strides[d] : view.strides[d]);
  }
  if (total == 0) return;
  // 32-bit indices when every index and the loop's last step stay below 2^31.
  const bool narrow = total < (int64_t{1} << 30) && reach < (int64_t{1} << 30);
  // A transpose-like gather: the source's contiguous axis is not the last one.
  int contiguous_axis = -1;
  for (int d = 0; d + 1 < view.ndim; ++d) {
    if (view.strides[d] == 1) contiguous_axis = d;
  }
  const bool tiled = gather && view.ndim >= 2 && view.strides[view.ndim - 1] != 1 &&
                     contiguous_axis >= 0 && view.dims[contiguous_axis] >= kTile / 2 &&
                     view.dims[view.ndim - 1] >= kTile / 2;
  LOOM_GPU_ANY_SWITCH(dtype, T, op, {
    const T* s = static_cast<const T*>(src);
    T* d = static_cast<T*>(dst);
    if (tiled) {
      const int64_t len_a = view.dims[contiguous_axis], len_b = view.dims[view.ndim - 1];
      const int64_t blocks =
          total / (len_a * len_b) * ((len_a + kTile - 1) / kTile) * ((len_b + kTile - 1) / kTile);
      TransposeTilesKernel<T>
          <<<static_cast<int>(std::min<int64_t>(blocks, int64_t{1} << 20)), dim3(kTile, kTileRows),
             0, Stream(stream)>>>(view, contiguous_axis, s, d, blocks, req);
    } else if (narrow) {
      StridedMoveKernel<T, int32_t><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
          Narrow<int32_t>(view), s, d, static_cast<int32_t>(total), gather, req);
    } else {
      StridedMoveKernel<T, int64_t><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
          Narrow<int64_t>(view), s, d, total, gather, req);
    }
  });
  CheckLaunch(op);
}

void PadForward(DType dtype, int ndim, const int64_t* x_dims, const int64_t* y_dims,
                const int64_t* before, int mode, double constant_value, const void* x, void* y,
                int req, void* stream) {
  if (req == kReqNull) return;
  const PadGeometry g = MakePad(ndim, x_dims, y_dims, before);
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) total *= y_dims[d];
  if (total == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "Pad", {
    PadForwardKernel<T><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
        g, static_cast<const T*>(x), static_cast<T*>(y), total, mode,
        static_cast<Acc<T>>(constant_value), req);
  });
  CheckLaunch("Pad");
}

void PadBackward(DType dtype, int ndim, const int64_t* x_dims, const int64_t* y_dims,
                 const int64_t* before, int mode, const void* dy, void* dx, int req, void* stream) {
  if (req == kReqNull) return;
  const PadGeometry g = MakePad(ndim, x_dims, y_dims, before);
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) total *= x_dims[d];
  if (total == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "Pad", {
    PadBackwardKernel<T><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
        g, static_cast<const T*>(dy), static_cast<T*>(dx), total, mode, req);
  });
  CheckLaunch("_backward_Pad");
}

void UpSamplingNearestForward(DType dtype, int64_t n, int64_t c, int64_t big_c, int64_t h,
                              int64_t w, int64_t sh, int64_t sw, int64_t channel_offset,
                              const void* x, void* y, int req, void* stream) {
  const int64_t total = n * c * h * sh * w * sw;
  if (req == kReqNull || total == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "UpSampling", {
    UpNearestForwardKernel<T><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(x), static_cast<T*>(y), total, c, big_c, h, w, sh, sw, channel_offset,
        req);
  });
  CheckLaunch("UpSampling");
}

void UpSamplingNearestBackward(DType dtype, int64_t n, int64_t c, int64_t big_c, int64_t h,
                               int64_t w, int64_t sh, int64_t sw, int64_t channel_offset,
                               const void* dy, void* dx, int req, void* stream) {
  const int64_t total = n * c * h * w;
  if (req == kReqNull || total == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "UpSampling", {
    UpNearestBackwardKernel<T><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
        static_cast<const T*>(dy), static_cast<T*>(dx), total, c, big_c, h, w, sh, sw,
        channel_offset, req);
  });
  CheckLaunch("_backward_UpSampling");
}

void DepthwiseDeconvForward(DType dtype, const DepthwiseDeconv& g, const void* x,
                            const void* weight, void* y, int req, void* stream) {
  const int64_t total = g.n * g.c * g.oh * g.ow;
  if (req == kReqNull || total == 0) return;
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "UpSampling (bilinear)", {
    DeconvForwardKernel<T><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
        g, static_cast<const T*>(x), static_cast<const T*>(weight), static_cast<T*>(y), total, req);
  });
  CheckLaunch("UpSampling (bilinear)");
}

void DepthwiseDeconvBackward(DType dtype, const DepthwiseDeconv& g, const void* dy, const void* x,
                             const void* weight, void* dx, int dx_req, void* dweight, int w_req,
                             void* stream) {
  LOOM_GPU_FLOAT_SWITCH(dtype, T, "_backward_UpSampling (bilinear)", {
    const int64_t total = g.n * g.c * g.h * g.w;
    if (dx_req != kReqNull && total > 0) {
      DeconvDataGradKernel<T><<<Blocks(total), kThreads, 0, Stream(stream)>>>(
          g, static_cast<const T*>(dy), static_cast<const T*>(weight), static_cast<T*>(dx), total,
          dx_req);
    }
    const int64_t weights = g.c * g.k * g.k;
    if (w_req != kReqNull && weights > 0) {
      const int blocks = static_cast<int>(std::min<int64_t>(weights, 65535));
      DeconvWeightGradKernel<T><<<blocks, kThreads, 0, Stream(stream)>>>(
          g, static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<T*>(dweight), w_req);
    }
  });
  CheckLaunch("_backward_UpSampling (bilinear)");
}

}  // namespace loom::gpu
