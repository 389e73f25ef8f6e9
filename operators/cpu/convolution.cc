#include "operators/cpu/convolution.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <dnnl.hpp>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "operators/cpu/blas.h"
#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kConv = "Convolution";
constexpr std::string_view kDeconv = "Deconvolution";

// A convolution in its own terms, src -> dst. Deconvolution is the same computation with the
// roles swapped (its data is this dst, its output this src). Spatial arrays hold the nsp real
// axes at their end ([3 - nsp, 3)) and neutral values (size 1, stride 1, no padding) before them.
struct Geometry {
  int nsp = 0;
  int64_t n = 0, c = 0, o = 0, g = 1;  // batch, src channels, dst channels, groups
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, pl[3] = {0, 0, 0}, pr[3] = {0, 0, 0};
  bool channel_last = false;

  int64_t InSpatial() const { return in[0] * in[1] * in[2]; }
  int64_t OutSpatial() const { return out[0] * out[1] * out[2]; }
  int64_t KernelSize() const { return k[0] * k[1] * k[2]; }
  int64_t SrcSize() const { return n * c * InSpatial(); }
  int64_t DstSize() const { return n * o * OutSpatial(); }
  int64_t WeightSize() const { return o * (c / g) * KernelSize(); }

  std::string Key(bool has_bias) const {
    std::string key;
    auto add = [&](int64_t v) { key += std::to_string(v) + ','; };
    add(nsp), add(n), add(c), add(o), add(g), add(channel_last), add(has_bias);
    for (int i = 0; i < 3; ++i)
      add(in[i]), add(out[i]), add(k[i]), add(s[i]), add(d[i]), add(pl[i]);
    return key;
  }
};

int64_t ParamAt(const std::vector<int64_t>& v, int i, int64_t fallback) {
  return v.empty() ? fallback : v[i];
}

// Builds the geometry of a convolution from src (N, C, *in) to dst (N, O, *out), checking that
// the sizes agree with p; `op` and the names are for messages.
Geometry MakeGeometry(std::string_view op, const ConvolutionParams& p, const Shape& src,
                      const Shape& dst, std::string_view src_name, std::string_view dst_name) {
  const int nsp = static_cast<int>(p.kernel.size());
  LOOM_CHECK_TYPED(ShapeError, nsp >= 1 && nsp <= 3, op,
                   ": expected a kernel of 1 to 3 axes but got ", nsp);
  for (const auto* v : {&p.stride, &p.dilate, &p.pad}) {
    LOOM_CHECK_TYPED(ShapeError, v->empty() || static_cast<int>(v->size()) == nsp, op,
                     ": expected stride, dilate and pad to have ", nsp,
                     " entries like the kernel, or none");
  }
  LOOM_CHECK_TYPED(ShapeError, src.ndim() == nsp + 2 && dst.ndim() == nsp + 2, op, ": expected ",
                   src_name, " and ", dst_name, " with ", nsp + 2, " axes for a ", nsp,
                   "-D kernel but got ", src.ToString(), " and ", dst.ToString());
  LOOM_CHECK(p.num_group >= 1, op, ": expected num_group >= 1 but got ", p.num_group);
  Geometry geo;
  geo.nsp = nsp;
  geo.channel_last = p.channel_last;
  const int caxis = p.channel_last ? nsp + 1 : 1;
  const int first_spatial = p.channel_last ? 1 : 2;
  geo.n = src[0];
  geo.c = src[caxis];
  geo.o = dst[caxis];
  geo.g = p.num_group;
  LOOM_CHECK_TYPED(ShapeError, dst[0] == geo.n, op, ": expected ", dst_name, " batch ", geo.n,
                   " but got ", dst.ToString());
  LOOM_CHECK_TYPED(ShapeError, geo.c % geo.g == 0 && geo.o % geo.g == 0, op,
                   ": expected channels (", geo.c, " and ", geo.o,
                   ") divisible by num_group=", geo.g);
  for (int i = 0; i < nsp; ++i) {
    const int a = 3 - nsp + i;
    geo.in[a] = src[first_spatial + i];
    geo.out[a] = dst[first_spatial + i];
    geo.k[a] = p.kernel[i];
    geo.s[a] = ParamAt(p.stride, i, 1);
    geo.d[a] = ParamAt(p.dilate, i, 1);
    geo.pl[a] = ParamAt(p.pad, i, 0);
    LOOM_CHECK(geo.k[a] >= 1 && geo.s[a] >= 1 && geo.d[a] >= 1 && geo.pl[a] >= 0, op,
               ": expected kernel, stride and dilate >= 1 and pad >= 0");
    const int64_t expected = ConvOutputSize(geo.in[a], geo.k[a], geo.s[a], geo.d[a], geo.pl[a]);
    LOOM_CHECK_TYPED(ShapeError, expected == geo.out[a] && expected >= 1, op, ": spatial axis ", i,
                     " of ", src_name, " ", src.ToString(), " and ", dst_name, " ", dst.ToString(),
                     " do not fit kernel ", geo.k[a], ", stride ", geo.s[a], ", dilate ", geo.d[a],
                     ", pad ", geo.pl[a], " (expected ", expected, " but got ", geo.out[a], ")");
    geo.pr[a] = (geo.out[a] - 1) * geo.s[a] + geo.d[a] * (geo.k[a] - 1) + 1 - geo.in[a] - geo.pl[a];
  }
  return geo;
}

// The weight shape geo expects: (o, c/g, *kernel), or (o, *kernel, c/g) with channel_last.
Shape ExpectedWeight(const Geometry& geo) {
  std::vector<int64_t> dims{geo.o};
  if (!geo.channel_last) dims.push_back(geo.c / geo.g);
  for (int i = 3 - geo.nsp; i < 3; ++i) dims.push_back(geo.k[i]);
  if (geo.channel_last) dims.push_back(geo.c / geo.g);
  return Shape(std::move(dims));
}

// ---- per-channel helpers (bias) -------------------------------------------------------------

// db[c] (req) = sum of y over batch and space, y being (n, ch, spatial) or (n, spatial, ch).
template <typename T>
void SumChannels(int64_t n, int64_t ch, int64_t spatial, bool channel_last, const T* y, T* db,
                 OpReq req) {
  std::vector<T> sum(static_cast<size_t>(ch), T(0));
  for (int64_t b = 0; b < n; ++b) {
    if (channel_last) {
      for (int64_t i = 0; i < spatial; ++i) {
        const T* row = y + (b * spatial + i) * ch;
        for (int64_t c = 0; c < ch; ++c) sum[c] += row[c];
      }
    } else {
      for (int64_t c = 0; c < ch; ++c) {
        const T* plane = y + (b * ch + c) * spatial;
        T s = 0;
        for (int64_t i = 0; i < spatial; ++i) s += plane[i];
        sum[c] += s;
      }
    }
  }
  StoreN(req, db, sum.data(), ch);
}

// y[b, c, i] += bias[c].
template <typename T>
void AddChannelBias(int64_t n, int64_t ch, int64_t spatial, bool channel_last, const T* bias,
                    T* y) {
  ParallelFor(n, std::max<int64_t>(1, 65536 / std::max<int64_t>(ch * spatial, 1)),
              [&](int64_t b0, int64_t b1) {
                for (int64_t b = b0; b < b1; ++b) {
                  if (channel_last) {
                    for (int64_t i = 0; i < spatial; ++i) {
                      T* row = y + (b * spatial + i) * ch;
                      for (int64_t c = 0; c < ch; ++c) row[c] += bias[c];
                    }
                  } else {
                    for (int64_t c = 0; c < ch; ++c) {
                      T* plane = y + (b * ch + c) * spatial;
                      const T v = bias[c];
                      for (int64_t i = 0; i < spatial; ++i) plane[i] += v;
                    }
                  }
                }
              });
}

// ---- im2col + GEMM (float64; float32 where oneDNN's direct kernels waste work) --------------

// Output positions [lo, hi) along one axis whose input index o * stride + offset lies in
// [0, in).
void ValidRange(int64_t offset, int64_t stride, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  *lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  *hi = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  *lo = std::min(*lo, out);
  *hi = std::clamp(*hi, *lo, out);
}

// One sample's src (c, in0, in1, in2) as columns: row (c, k0, k1, k2) of col (row stride ld)
// holds, for each of the L output positions, the input element that kernel tap reads (0 in the
// padding). The k2 taps are the inner loop: they read the same input line.
template <typename T>
LOOM_SIMD_CLONES void Im2col(const Geometry& g, const T* src, T* col, int64_t ld) {
  const int64_t out2 = g.out[2], s2 = g.s[2];
  std::vector<int64_t> lo(g.k[2]), hi(g.k[2]), off(g.k[2]);
  for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
    off[k2] = k2 * g.d[2] - g.pl[2];
    ValidRange(off[k2], s2, g.in[2], out2, &lo[k2], &hi[k2]);
  }
  for (int64_t c = 0; c < g.c; ++c) {
    for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
      for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
        T* rows = col + ((c * g.k[0] + k0) * g.k[1] + k1) * g.k[2] * ld;
        for (int64_t o0 = 0; o0 < g.out[0]; ++o0) {
          const int64_t i0 = o0 * g.s[0] - g.pl[0] + k0 * g.d[0];
          for (int64_t o1 = 0; o1 < g.out[1]; ++o1) {
            const int64_t i1 = o1 * g.s[1] - g.pl[1] + k1 * g.d[1];
            T* dst = rows + (o0 * g.out[1] + o1) * out2;
            if (i0 < 0 || i0 >= g.in[0] || i1 < 0 || i1 >= g.in[1]) {
              for (int64_t k2 = 0; k2 < g.k[2]; ++k2) std::fill_n(dst + k2 * ld, out2, T(0));
              continue;
            }
            const T* line = src + ((c * g.in[0] + i0) * g.in[1] + i1) * g.in[2];
            for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
              T* d = dst + k2 * ld;
              const T* from = line + off[k2];
              const int64_t a = lo[k2], b = hi[k2];
              // The fills are mostly empty: test first rather than call memset for nothing.
              if (a > 0) std::fill_n(d, a, T(0));
              if (s2 == 1) {
                for (int64_t o2 = a; o2 < b; ++o2) d[o2] = from[o2];
              } else {
                for (int64_t o2 = a; o2 < b; ++o2) d[o2] = from[o2 * s2];
              }
              if (b < out2) std::fill(d + b, d + out2, T(0));
            }
          }
        }
      }
    }
  }
}

// Adds col (rows of stride ld) back into one sample's src gradient (the transpose of Im2col).
template <typename T>
LOOM_SIMD_CLONES void Col2imAdd(const Geometry& g, const T* col, int64_t ld, T* src) {
  for (int64_t c = 0; c < g.c; ++c) {
    for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
      for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
        for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
          const T* row = col + (((c * g.k[0] + k0) * g.k[1] + k1) * g.k[2] + k2) * ld;
          const int64_t off2 = k2 * g.d[2] - g.pl[2], s2 = g.s[2];
          int64_t lo, hi;
          ValidRange(off2, s2, g.in[2], g.out[2], &lo, &hi);
          for (int64_t o0 = 0; o0 < g.out[0]; ++o0) {
            const int64_t i0 = o0 * g.s[0] - g.pl[0] + k0 * g.d[0];
            if (i0 < 0 || i0 >= g.in[0]) continue;
            for (int64_t o1 = 0; o1 < g.out[1]; ++o1) {
              const int64_t i1 = o1 * g.s[1] - g.pl[1] + k1 * g.d[1];
              if (i1 < 0 || i1 >= g.in[1]) continue;
              const T* from = row + (o0 * g.out[1] + o1) * g.out[2];
              T* line = src + ((c * g.in[0] + i0) * g.in[1] + i1) * g.in[2];
              if (s2 == 1) {
                for (int64_t o2 = lo; o2 < hi; ++o2) line[o2 + off2] += from[o2];
              } else {
                for (int64_t o2 = lo; o2 < hi; ++o2) line[o2 * s2 + off2] += from[o2];
              }
            }
          }
        }
      }
    }
  }
}

// Samples are processed in chunks whose column buffer holds about this many bytes: one GEMM per
// chunk (and group) with nc * L columns is large enough to run near peak, the buffer stays in
// the caches.
constexpr int64_t kColumnBytes = int64_t{1} << 20;

// Runs fn(n0, nc, part, col, mat, gemm) over chunks of samples [n0, n0 + nc), the chunks split
// into `parts` contiguous runs. col (c * K rows) and mat (o rows) are the part's scratch, each
// with row stride nc * L; gemm is GemmSerial when the parts run in parallel, else Gemm (which
// may split one large product itself). Returns the number of parts (0 when there are no
// samples).
template <typename T, typename F>
int ForSampleChunks(const Geometry& g, F&& fn) {
  const int64_t L = g.OutSpatial(), rows = g.c * g.KernelSize();
  const int64_t per_sample = std::max<int64_t>(1, rows * L * static_cast<int64_t>(sizeof(T)));
  const int64_t chunk =
      std::clamp<int64_t>(kColumnBytes / per_sample, 1, std::max<int64_t>(g.n, 1));
  const int64_t chunks = (g.n + chunk - 1) / chunk;
  if (chunks == 0) return 0;
  const int parts = static_cast<int>(std::min<int64_t>(AvailableThreads(), chunks));
  auto gemm = parts > 1 ? GemmSerial<T> : Gemm<T>;
  ParallelFor(parts, 1, [&](int64_t p0, int64_t p1) {
    std::unique_ptr<T[]> col(new T[static_cast<size_t>(rows * chunk * L)]);
    std::unique_ptr<T[]> mat(new T[static_cast<size_t>(g.o * chunk * L)]);
    for (int64_t part = p0; part < p1; ++part) {
      for (int64_t ci = chunks * part / parts; ci < chunks * (part + 1) / parts; ++ci) {
        const int64_t n0 = ci * chunk, nc = std::min(chunk, g.n - n0);
        fn(n0, nc, static_cast<int>(part), col.get(), mat.get(), gemm);
      }
    }
  });
  return parts;
}

// dst (n, o, L) (req) = conv(src) (+ bias[o] when bias is not null).
template <typename T>
void GemmForward(const Geometry& g, const T* src, const T* w, const T* bias, T* dst, OpReq req) {
  const int64_t L = g.OutSpatial(), ck = g.c / g.g * g.KernelSize(), og = g.o / g.g;
  const int64_t src_size = g.c * g.InSpatial();
  ForSampleChunks<T>(g, [&](int64_t n0, int64_t nc, int, T* col, T* out, auto gemm) {
    const int64_t ld = nc * L;
    for (int64_t b = 0; b < nc; ++b) Im2col(g, src + (n0 + b) * src_size, col + b * L, ld);
    for (int64_t grp = 0; grp < g.g; ++grp) {
      gemm(false, false, og, ld, ck, T(1), w + grp * og * ck, ck, col + grp * ck * ld, ld, T(0),
           out + grp * og * ld, ld);
    }
    // out is (o, nc * L): scatter it to (nc, o, L).
    for (int64_t b = 0; b < nc; ++b) {
      for (int64_t o = 0; o < g.o; ++o) {
        const T* from = out + o * ld + b * L;
        T* to = dst + ((n0 + b) * g.o + o) * L;
        const T add = bias ? bias[o] : T(0);
        if (req == OpReq::kAddTo) {
          for (int64_t i = 0; i < L; ++i) to[i] += from[i] + add;
        } else {
          for (int64_t i = 0; i < L; ++i) to[i] = from[i] + add;
        }
      }
    }
  });
}

// The gradients of GemmForward from ddst (n, o, L): dsrc (data_req) and dw (weight_req), each
// skipped when its req is kNull. Each part sums its chunks' weight gradients in its own buffer;
// the parts are added in order, so results depend only on the thread count.
template <typename T>
void GemmBackward(const Geometry& g, const T* src, const T* ddst, const T* w, T* dsrc,
                  OpReq data_req, T* dw, OpReq weight_req) {
  const bool want_data = data_req != OpReq::kNull, want_weight = weight_req != OpReq::kNull;
  if (!want_data && !want_weight) return;
  const int64_t L = g.OutSpatial(), ck = g.c / g.g * g.KernelSize(), og = g.o / g.g;
  const int64_t src_size = g.c * g.InSpatial(), wsize = g.WeightSize();
  const int threads = AvailableThreads();
  // Weight gradients of parts 1.. (part 0 writes into dw unless dw is to be added to).
  std::vector<T> partial(want_weight ? static_cast<size_t>(threads * wsize) : 0);
  std::vector<char> started(static_cast<size_t>(threads), 0);
  const int parts =
      ForSampleChunks<T>(g, [&](int64_t n0, int64_t nc, int part, T* col, T* dyt, auto gemm) {
        const int64_t ld = nc * L;
        for (int64_t b = 0; b < nc; ++b) {
          for (int64_t o = 0; o < g.o; ++o) {
            std::copy_n(ddst + ((n0 + b) * g.o + o) * L, L, dyt + o * ld + b * L);
          }
        }
        if (want_weight) {
          for (int64_t b = 0; b < nc; ++b) Im2col(g, src + (n0 + b) * src_size, col + b * L, ld);
          const bool direct = part == 0 && weight_req != OpReq::kAddTo;
          T* to = direct ? dw : partial.data() + part * wsize;
          const T beta = started[part] ? T(1) : T(0);
          started[part] = 1;
          for (int64_t grp = 0; grp < g.g; ++grp) {
            gemm(false, true, og, ck, ld, T(1), dyt + grp * og * ld, ld, col + grp * ck * ld, ld,
                 beta, to + grp * og * ck, ck);
          }
        }
        if (want_data) {
          for (int64_t grp = 0; grp < g.g; ++grp) {
            gemm(true, false, ck, ld, og, T(1), w + grp * og * ck, ck, dyt + grp * og * ld, ld,
                 T(0), col + grp * ck * ld, ld);
          }
          for (int64_t b = 0; b < nc; ++b) {
            T* d = dsrc + (n0 + b) * src_size;
            ZeroIfWrite(data_req, d, src_size);
            Col2imAdd(g, col + b * L, ld, d);
          }
        }
      });
  if (!want_weight) return;
  if (weight_req != OpReq::kAddTo && parts == 0) std::fill(dw, dw + wsize, T(0));
  for (int part = weight_req == OpReq::kAddTo ? 0 : 1; part < parts; ++part) {
    const T* from = partial.data() + part * wsize;
    for (int64_t i = 0; i < wsize; ++i) dw[i] += from[i];
  }
}

// float32 convolutions on im2col + GEMM rather than oneDNN where oneDNN's AVX-512 direct kernels,
// which work on blocks of 16 channels, would spend at least half again as many multiply-adds on
// padding channels, with at least 16 input channels (oneDNN has dedicated first-layer kernels)
// and one group (its grouped and depthwise kernels are better). Measured forward + backward,
// batch 128, one thread: LeNet's 20 -> 50 5x5 (2.05x padded work) 1.18x faster as GEMMs; 48 ->
// 100 3x3 (1.12x) 0.85x, 16 -> 32 3x3 0.53x, 1 -> 20 5x5 0.83x, 3 -> 16 5x5 0.41x.
std::atomic<ConvolutionAlgorithm> g_algorithm{ConvolutionAlgorithm::kAuto};

bool UseGemm(const Geometry& g) {
  if (g.channel_last) return false;
  switch (g_algorithm.load(std::memory_order_relaxed)) {
    case ConvolutionAlgorithm::kOneDnn:
      return false;
    case ConvolutionAlgorithm::kIm2colGemm:
      return true;
    case ConvolutionAlgorithm::kAuto:
      break;
  }
  auto blocked = [](int64_t channels) { return (channels + 15) / 16 * 16; };
  return g.g == 1 && g.c >= 16 && 2 * blocked(g.c) * blocked(g.o) >= 3 * g.c * g.o;
}

// ---- oneDNN (float32) ---------------------------------------------------------------------

using dnnl::memory;
using FormatTag = memory::format_tag;

// Never destroyed: worker threads' cached primitives may outlive static destruction at exit.
dnnl::engine& DnnlEngine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

dnnl::stream& DnnlStream() {
  thread_local dnnl::stream stream(DnnlEngine());
  return stream;
}

memory::dims SpatialDims(const Geometry& g, const int64_t* v, int64_t offset = 0) {
  memory::dims dims;
  for (int i = 3 - g.nsp; i < 3; ++i) dims.push_back(v[i] + offset);
  return dims;
}

memory::desc DataDesc(const Geometry& g, int64_t channels, const int64_t* spatial, FormatTag tag) {
  memory::dims dims{g.n, channels};
  for (int64_t v : SpatialDims(g, spatial)) dims.push_back(v);
  return memory::desc(dims, memory::data_type::f32, tag);
}

FormatTag DataTag(const Geometry& g) {
  static constexpr FormatTag first[] = {FormatTag::ncw, FormatTag::nchw, FormatTag::ncdhw};
  static constexpr FormatTag last[] = {FormatTag::nwc, FormatTag::nhwc, FormatTag::ndhwc};
  return g.channel_last ? last[g.nsp - 1] : first[g.nsp - 1];
}

memory::desc WeightDesc(const Geometry& g, bool any) {
  memory::dims dims;
  if (g.g > 1) dims.push_back(g.g);
  dims.push_back(g.o / g.g);
  dims.push_back(g.c / g.g);
  for (int64_t v : SpatialDims(g, g.k)) dims.push_back(v);
  FormatTag tag = FormatTag::any;
  if (!any) {
    static constexpr FormatTag plain[2][2][3] = {
        {{FormatTag::oiw, FormatTag::oihw, FormatTag::oidhw},
         {FormatTag::owi, FormatTag::ohwi, FormatTag::odhwi}},
        {{FormatTag::goiw, FormatTag::goihw, FormatTag::goidhw},
         {FormatTag::gowi, FormatTag::gohwi, FormatTag::godhwi}}};
    tag = plain[g.g > 1][g.channel_last][g.nsp - 1];
  }
  return memory::desc(dims, memory::data_type::f32, tag);
}

// One tensor argument of a primitive: the caller's layout, the primitive's, and a buffer plus
// reorders for when they differ (or when an output must be added rather than written).
struct Port {
  memory::desc user, prim;
  memory buffer;
  std::optional<dnnl::reorder> to_prim, from_prim, add_from_prim;

  void Init(const memory::desc& user_md, const memory::desc& prim_md) {
    user = user_md;
    prim = prim_md;
  }
  memory& Buffer() {
    if (!buffer) buffer = memory(prim, DnnlEngine());
    return buffer;
  }
  // The input in the primitive's layout.
  memory In(const void* ptr) {
    memory user_mem(user, DnnlEngine(), const_cast<void*>(ptr));
    if (user == prim) return user_mem;
    if (!to_prim) to_prim.emplace(user_mem, Buffer());
    to_prim->execute(DnnlStream(), user_mem, Buffer());
    return Buffer();
  }
  bool Direct(OpReq req) const { return user == prim && req != OpReq::kAddTo; }
  // Where the primitive writes an output.
  memory Out(void* ptr, OpReq req) {
    if (Direct(req)) return memory(user, DnnlEngine(), ptr);
    return Buffer();
  }
  // Moves an output written by Out() into the caller's memory as req says.
  void Finish(void* ptr, OpReq req) {
    if (Direct(req)) return;
    memory user_mem(user, DnnlEngine(), ptr);
    if (req == OpReq::kAddTo) {
      if (!add_from_prim) {
        dnnl::post_ops ops;
        ops.append_sum(1.f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(ops);
        add_from_prim.emplace(
            dnnl::reorder::primitive_desc(DnnlEngine(), prim, DnnlEngine(), user, attr));
      }
      add_from_prim->execute(DnnlStream(), Buffer(), user_mem);
    } else {
      if (!from_prim) from_prim.emplace(Buffer(), user_mem);
      from_prim->execute(DnnlStream(), Buffer(), user_mem);
    }
  }
};

struct DnnlConv {
  Geometry geo;
  bool has_bias = false;
  dnnl::convolution_forward::primitive_desc fwd_pd;

  std::optional<dnnl::convolution_forward> fwd;
  Port f_src, f_w, f_dst;

  std::optional<dnnl::convolution_backward_data> bwd_data;
  Port bd_ddst, bd_w, bd_dsrc;

  std::optional<dnnl::convolution_backward_weights> bwd_weights;
  Port bw_src, bw_ddst, bw_dw;
  memory bias_grad_buffer;

  memory::desc SrcDesc(FormatTag tag) const { return DataDesc(geo, geo.c, geo.in, tag); }
  memory::desc DstDesc(FormatTag tag) const { return DataDesc(geo, geo.o, geo.out, tag); }
  memory::desc BiasDesc() const {
    return memory::desc({geo.o}, memory::data_type::f32, FormatTag::x);
  }
  memory::dims Strides() const { return SpatialDims(geo, geo.s); }
  memory::dims Dilates() const { return SpatialDims(geo, geo.d, -1); }
  memory::dims PadL() const { return SpatialDims(geo, geo.pl); }
  memory::dims PadR() const { return SpatialDims(geo, geo.pr); }

  DnnlConv(const Geometry& g, bool bias) : geo(g), has_bias(bias) {
    const auto src = SrcDesc(FormatTag::any), dst = DstDesc(FormatTag::any);
    const auto w = WeightDesc(geo, true);
    auto desc = has_bias
                    ? dnnl::convolution_forward::desc(
                          dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                          src, w, BiasDesc(), dst, Strides(), Dilates(), PadL(), PadR())
                    : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                                      dnnl::algorithm::convolution_direct, src, w,
                                                      dst, Strides(), Dilates(), PadL(), PadR());
    fwd_pd = dnnl::convolution_forward::primitive_desc(desc, DnnlEngine());
  }

  void EnsureForward() {
    if (fwd) return;
    fwd.emplace(fwd_pd);
    f_src.Init(SrcDesc(DataTag(geo)), fwd_pd.src_desc());
    f_w.Init(WeightDesc(geo, false), fwd_pd.weights_desc());
    f_dst.Init(DstDesc(DataTag(geo)), fwd_pd.dst_desc());
  }

  void EnsureBackwardData() {
    if (bwd_data) return;
    dnnl::convolution_backward_data::desc desc(
        dnnl::algorithm::convolution_direct, SrcDesc(FormatTag::any), WeightDesc(geo, true),
        DstDesc(FormatTag::any), Strides(), Dilates(), PadL(), PadR());
    dnnl::convolution_backward_data::primitive_desc pd(desc, DnnlEngine(), fwd_pd);
    bwd_data.emplace(pd);
    bd_ddst.Init(DstDesc(DataTag(geo)), pd.diff_dst_desc());
    bd_w.Init(WeightDesc(geo, false), pd.weights_desc());
    bd_dsrc.Init(SrcDesc(DataTag(geo)), pd.diff_src_desc());
  }

  void EnsureBackwardWeights() {
    if (bwd_weights) return;
    auto desc = has_bias ? dnnl::convolution_backward_weights::desc(
                               dnnl::algorithm::convolution_direct, SrcDesc(FormatTag::any),
                               WeightDesc(geo, true), BiasDesc(), DstDesc(FormatTag::any),
                               Strides(), Dilates(), PadL(), PadR())
                         : dnnl::convolution_backward_weights::desc(
                               dnnl::algorithm::convolution_direct, SrcDesc(FormatTag::any),
                               WeightDesc(geo, true), DstDesc(FormatTag::any), Strides(), Dilates(),
                               PadL(), PadR());
    dnnl::convolution_backward_weights::primitive_desc pd(desc, DnnlEngine(), fwd_pd);
    bwd_weights.emplace(pd);
    bw_src.Init(SrcDesc(DataTag(geo)), pd.src_desc());
    bw_ddst.Init(DstDesc(DataTag(geo)), pd.diff_dst_desc());
    bw_dw.Init(WeightDesc(geo, false), pd.diff_weights_desc());
    if (has_bias) bias_grad_buffer = memory(BiasDesc(), DnnlEngine());
  }

  // The Run* functions take inputs already in the primitive's layout (Port::In).
  void RunForward(const memory& src, const memory& w, const float* bias, float* dst, OpReq req) {
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, f_dst.Out(dst, req)}};
    if (has_bias) {
      args.emplace(DNNL_ARG_BIAS, memory(BiasDesc(), DnnlEngine(), const_cast<float*>(bias)));
    }
    fwd->execute(DnnlStream(), args);
    f_dst.Finish(dst, req);
  }

  void RunBackwardData(const memory& ddst, const memory& w, float* dsrc, OpReq req) {
    bwd_data->execute(DnnlStream(), {{DNNL_ARG_DIFF_DST, ddst},
                                     {DNNL_ARG_WEIGHTS, w},
                                     {DNNL_ARG_DIFF_SRC, bd_dsrc.Out(dsrc, req)}});
    bd_dsrc.Finish(dsrc, req);
  }

  // Weight gradient, and with has_bias the bias gradient into db as bias_req says (db may be
  // null: the bias gradient is then dropped).
  void RunBackwardWeights(const memory& src, const memory& ddst, float* dw, OpReq req, float* db,
                          OpReq bias_req) {
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                         {DNNL_ARG_DIFF_DST, ddst},
                                         {DNNL_ARG_DIFF_WEIGHTS, bw_dw.Out(dw, req)}};
    const bool bias_direct = db != nullptr && bias_req != OpReq::kAddTo && bias_req != OpReq::kNull;
    if (has_bias) {
      args.emplace(DNNL_ARG_DIFF_BIAS,
                   bias_direct ? memory(BiasDesc(), DnnlEngine(), db) : bias_grad_buffer);
    }
    bwd_weights->execute(DnnlStream(), args);
    bw_dw.Finish(dw, req);
    if (has_bias && db != nullptr && bias_req == OpReq::kAddTo) {
      DnnlStream().wait();
      const float* from = static_cast<const float*>(bias_grad_buffer.get_data_handle());
      for (int64_t i = 0; i < geo.o; ++i) db[i] += from[i];
    }
  }
};

// This thread's oneDNN convolutions by geometry. Bounded: cleared when it grows past kMaxCached.
constexpr size_t kMaxCached = 64;
std::unordered_map<std::string, std::unique_ptr<DnnlConv>>& DnnlCache() {
  thread_local std::unordered_map<std::string, std::unique_ptr<DnnlConv>> cache;
  return cache;
}

// The cached convolution for geo, made on first use, run with `threads` OpenMP threads (oneDNN
// fixes a primitive's work split when it is made, so the thread count is part of the key).
template <typename F>
void WithDnnlConv(std::string_view op, const Geometry& geo, bool has_bias, int threads, F&& fn) {
  omp_set_num_threads(threads);
  auto& cache = DnnlCache();
  const std::string key = geo.Key(has_bias) + "t" + std::to_string(threads);
  auto it = cache.find(key);
  try {
    if (it == cache.end()) {
      if (cache.size() >= kMaxCached) cache.clear();
      it = cache.emplace(key, std::make_unique<DnnlConv>(geo, has_bias)).first;
    }
    fn(*it->second);
    DnnlStream().wait();
  } catch (const dnnl::error& e) {
    throw NotSupportedError(
        detail::StrCat(op, ": oneDNN failed for this geometry (", e.what(), ")"));
  }
}

// How many batch parts a float32 convolution is split into: one per available thread when the
// batch has a sample for each, else 1 (and oneDNN then uses its own OpenMP threads).
int BatchParts(const Geometry& g) {
  const int threads = AvailableThreads();
  return threads > 1 && g.n >= threads ? threads : 1;
}

// Runs fn(conv, first_sample, part) for each batch part: the parts in parallel on the caller's
// oneTBB arena, each a single-threaded oneDNN call on its slice of the batch (no OpenMP team
// that spins while an engine worker is busy elsewhere); a single part runs on OpenMP threads.
template <typename F>
void ForBatchParts(std::string_view op, const Geometry& g, bool has_bias, int parts, F&& fn) {
  if (parts == 1) {
    WithDnnlConv(op, g, has_bias, AvailableThreads(), [&](DnnlConv& c) { fn(c, 0, 0); });
    return;
  }
  ParallelFor(parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t part = p0; part < p1; ++part) {
      Geometry sub = g;
      const int64_t n0 = g.n * part / parts;
      sub.n = g.n * (part + 1) / parts - n0;
      WithDnnlConv(op, sub, has_bias, 1, [&](DnnlConv& c) { fn(c, n0, static_cast<int>(part)); });
    }
  });
}

// Partial weight (and bias) gradients of batch parts, summed into the outputs at the end.
struct PartialGrads {
  int parts;
  int64_t wsize, bsize;
  std::vector<float> w, b;
  PartialGrads(int p, int64_t ws, int64_t bs)
      : parts(p), wsize(ws), bsize(bs), w(p > 1 ? p * ws : 0), b(p > 1 ? p * bs : 0) {}
  // Where part `part` writes, and how.
  float* W(int part, float* out) { return parts == 1 ? out : w.data() + part * wsize; }
  float* B(int part, float* out) { return parts == 1 || !out ? out : b.data() + part * bsize; }
  OpReq Req(OpReq req) const { return parts == 1 ? req : OpReq::kWriteTo; }
  void Sum(const std::vector<float>& partial, int64_t size, float* out, OpReq req) const {
    if (parts == 1 || !out) return;
    std::vector<float> total(partial.begin(), partial.begin() + size);
    for (int p = 1; p < parts; ++p) {
      const float* from = partial.data() + p * size;
      for (int64_t i = 0; i < size; ++i) total[i] += from[i];
    }
    StoreN(req, out, total.data(), size);
  }
};

// ---- dispatch: float32 on oneDNN or im2col + GEMM (UseGemm), float64 on im2col + GEMM -------

template <typename T>
void CheckGemmLayout(std::string_view op, const Geometry& g) {
  LOOM_CHECK_TYPED(NotSupportedError, !g.channel_last, op,
                   ": channel-last layouts are supported for float32 only but got ",
                   ToString(detail::DTypeOf<T>()));
}

template <typename T>
void ConvForwardImpl(const Geometry& g, bool has_bias, const T* x, const T* w, const T* b, T* y,
                     OpReq req) {
  if constexpr (std::is_same_v<T, float>) {
    if (!UseGemm(g)) {
      const int64_t xs = g.c * g.InSpatial(), ys = g.o * g.OutSpatial();
      ForBatchParts(kConv, g, has_bias, BatchParts(g), [&](DnnlConv& c, int64_t n0, int) {
        c.EnsureForward();
        c.RunForward(c.f_src.In(x + n0 * xs), c.f_w.In(w), b, y + n0 * ys, req);
      });
      return;
    }
  }
  CheckGemmLayout<T>(kConv, g);
  GemmForward(g, x, w, has_bias ? b : nullptr, y, req);
}

template <typename T>
void ConvBackwardImpl(const Geometry& g, bool has_bias, const T* dy, const T* x, const T* w, T* dx,
                      OpReq data_req, T* dw, OpReq weight_req, T* db, OpReq bias_req) {
  const bool want_data = data_req != OpReq::kNull, want_weight = weight_req != OpReq::kNull;
  if constexpr (std::is_same_v<T, float>) {
    if (!UseGemm(g)) {
      if (want_data || want_weight) {
        const int64_t xs = g.c * g.InSpatial(), ys = g.o * g.OutSpatial();
        const int parts = BatchParts(g);
        PartialGrads partial(parts, g.WeightSize(), g.o);
        ForBatchParts(kConv, g, has_bias, parts, [&](DnnlConv& c, int64_t n0, int part) {
          memory dy_data;
          const float* dyp = dy + n0 * ys;
          if (want_data) {
            c.EnsureBackwardData();
            dy_data = c.bd_ddst.In(dyp);
            c.RunBackwardData(dy_data, c.bd_w.In(w), dx + n0 * xs, data_req);
          }
          if (want_weight) {
            c.EnsureBackwardWeights();
            // diff_dst is reordered once when both primitives want the same layout.
            const memory dy_weights =
                want_data && c.bw_ddst.prim == c.bd_ddst.prim ? dy_data : c.bw_ddst.In(dyp);
            c.RunBackwardWeights(c.bw_src.In(x + n0 * xs), dy_weights, partial.W(part, dw),
                                 partial.Req(weight_req), partial.B(part, db),
                                 partial.Req(bias_req));
          }
        });
        if (want_weight) {
          partial.Sum(partial.w, g.WeightSize(), dw, weight_req);
          partial.Sum(partial.b, g.o, db, bias_req);
        }
      }
      // oneDNN's weight pass computes the bias gradient; without it, sum it here.
      if (!want_weight && db != nullptr) {
        SumChannels(g.n, g.o, g.OutSpatial(), g.channel_last, dy, db, bias_req);
      }
      return;
    }
  }
  CheckGemmLayout<T>(kConv, g);
  GemmBackward(g, x, dy, w, dx, data_req, dw, weight_req);
  if (db != nullptr) SumChannels(g.n, g.o, g.OutSpatial(), false, dy, db, bias_req);
}

// Deconvolution forward: the convolution's backward-data pass from x (its dst) to y (its src).
template <typename T>
void DeconvForwardImpl(const Geometry& g, const T* x, const T* w, T* y, OpReq req) {
  if constexpr (std::is_same_v<T, float>) {
    const int64_t xs = g.o * g.OutSpatial(), ys = g.c * g.InSpatial();
    ForBatchParts(kDeconv, g, false, BatchParts(g), [&](DnnlConv& c, int64_t n0, int) {
      c.EnsureBackwardData();
      c.RunBackwardData(c.bd_ddst.In(x + n0 * xs), c.bd_w.In(w), y + n0 * ys, req);
    });
  } else {
    CheckGemmLayout<T>(kDeconv, g);
    GemmBackward<T>(g, nullptr, x, w, y, req, nullptr, OpReq::kNull);
  }
}

// Deconvolution backward: dx is the convolution's forward of dy; dw its weight gradient with
// dy as src and x as diff_dst.
template <typename T>
void DeconvBackwardImpl(const Geometry& g, const T* dy, const T* x, const T* w, T* dx,
                        OpReq data_req, T* dw, OpReq weight_req) {
  const bool want_data = data_req != OpReq::kNull, want_weight = weight_req != OpReq::kNull;
  if (!want_data && !want_weight) return;
  if constexpr (std::is_same_v<T, float>) {
    const int64_t xs = g.o * g.OutSpatial(), ys = g.c * g.InSpatial();
    const int parts = BatchParts(g);
    PartialGrads partial(parts, g.WeightSize(), 0);
    ForBatchParts(kDeconv, g, false, parts, [&](DnnlConv& c, int64_t n0, int part) {
      memory dy_fwd;
      const float* dyp = dy + n0 * ys;
      if (want_data) {
        c.EnsureForward();
        dy_fwd = c.f_src.In(dyp);
        c.RunForward(dy_fwd, c.f_w.In(w), nullptr, dx + n0 * xs, data_req);
      }
      if (want_weight) {
        c.EnsureBackwardWeights();
        const memory dy_weights =
            want_data && c.bw_src.prim == c.f_src.prim ? dy_fwd : c.bw_src.In(dyp);
        c.RunBackwardWeights(dy_weights, c.bw_ddst.In(x + n0 * xs), partial.W(part, dw),
                             partial.Req(weight_req), nullptr, OpReq::kNull);
      }
    });
    if (want_weight) partial.Sum(partial.w, g.WeightSize(), dw, weight_req);
  } else {
    CheckGemmLayout<T>(kDeconv, g);
    if (want_data) GemmForward<T>(g, dy, w, nullptr, dx, data_req);
    GemmBackward<T>(g, dy, x, w, nullptr, OpReq::kNull, dw, weight_req);
  }
}

void CheckTensor(std::string_view op, const TensorView& t, const TensorView& like,
                 const Shape& shape, std::string_view name) {
  LOOM_CHECK_TYPED(ShapeError, t.shape == shape, op, ": expected ", name, " ", shape.ToString(),
                   " but got ", t.shape.ToString());
  CheckSameDType(like, t, op, "data", name);
}

}  // namespace

void ConvolutionForward(const ConvolutionParams& p, const TensorView& data,
                        const TensorView& weight, const TensorView* bias, const TensorView& out,
                        OpReq req) {
  if (req == OpReq::kNull) return;
  const Geometry g = MakeGeometry(kConv, p, data.shape, out.shape, "data", "out");
  LOOM_CHECK_TYPED(ShapeError, g.o == p.num_filter, kConv,
                   ": expected out with num_filter=", p.num_filter, " channels but got ",
                   out.shape.ToString());
  CheckTensor(kConv, weight, data, ExpectedWeight(g), "weight");
  CheckSameDType(data, out, kConv, "data", "out");
  if (!p.no_bias) {
    LOOM_CHECK(bias != nullptr, kConv, ": expected a bias input (no_bias=False)");
    CheckTensor(kConv, *bias, data, Shape{g.o}, "bias");
  }
  DispatchFloat(data.dtype, kConv, [&]<typename T>(Tag<T>) {
    ConvForwardImpl<T>(g, !p.no_bias, data.data<T>(), weight.data<T>(),
                       p.no_bias ? nullptr : bias->data<T>(), out.data<T>(), req);
  });
}

void ConvolutionBackward(const ConvolutionParams& p, const TensorView& out_grad,
                         const TensorView& data, const TensorView& weight,
                         const TensorView& data_grad, OpReq data_req, const TensorView& weight_grad,
                         OpReq weight_req, const TensorView* bias_grad, OpReq bias_req) {
  const Geometry g = MakeGeometry(kConv, p, data.shape, out_grad.shape, "data", "out_grad");
  CheckTensor(kConv, weight, data, ExpectedWeight(g), "weight");
  CheckSameDType(data, out_grad, kConv, "data", "out_grad");
  if (p.no_bias) bias_req = OpReq::kNull;
  if (data_req != OpReq::kNull) CheckTensor(kConv, data_grad, data, data.shape, "data_grad");
  if (weight_req != OpReq::kNull)
    CheckTensor(kConv, weight_grad, data, weight.shape, "weight_grad");
  if (bias_req != OpReq::kNull) {
    LOOM_CHECK(bias_grad != nullptr, kConv, ": expected a bias_grad output");
    CheckTensor(kConv, *bias_grad, data, Shape{g.o}, "bias_grad");
  }
  DispatchFloat(data.dtype, kConv, [&]<typename T>(Tag<T>) {
    auto ptr = [](const TensorView& t, OpReq req) {
      return req == OpReq::kNull ? nullptr : t.data<T>();
    };
    ConvBackwardImpl<T>(g, !p.no_bias, out_grad.data<T>(), data.data<T>(), weight.data<T>(),
                        ptr(data_grad, data_req), data_req, ptr(weight_grad, weight_req),
                        weight_req, bias_req == OpReq::kNull ? nullptr : bias_grad->data<T>(),
                        bias_req);
  });
}

// Deconvolution y = convᵀ(x): the convolution from y's shape to x's shape, run backwards.
void DeconvolutionForward(const ConvolutionParams& p, const TensorView& data,
                          const TensorView& weight, const TensorView* bias, const TensorView& out,
                          OpReq req) {
  if (req == OpReq::kNull) return;
  const Geometry g = MakeGeometry(kDeconv, p, out.shape, data.shape, "out", "data");
  LOOM_CHECK_TYPED(ShapeError, g.c == p.num_filter, kDeconv,
                   ": expected out with num_filter=", p.num_filter, " channels but got ",
                   out.shape.ToString());
  CheckTensor(kDeconv, weight, data, ExpectedWeight(g), "weight");
  CheckSameDType(data, out, kDeconv, "data", "out");
  if (!p.no_bias) {
    LOOM_CHECK(bias != nullptr, kDeconv, ": expected a bias input (no_bias=False)");
    CheckTensor(kDeconv, *bias, data, Shape{g.c}, "bias");
  }
  DispatchFloat(data.dtype, kDeconv, [&]<typename T>(Tag<T>) {
    T* y = out.data<T>();
    DeconvForwardImpl<T>(g, data.data<T>(), weight.data<T>(), y, req);
    if (!p.no_bias) AddChannelBias(g.n, g.c, g.InSpatial(), g.channel_last, bias->data<T>(), y);
  });
}

void DeconvolutionBackward(const ConvolutionParams& p, const TensorView& out_grad,
                           const TensorView& data, const TensorView& weight,
                           const TensorView& data_grad, OpReq data_req,
                           const TensorView& weight_grad, OpReq weight_req,
                           const TensorView* bias_grad, OpReq bias_req) {
  const Geometry g = MakeGeometry(kDeconv, p, out_grad.shape, data.shape, "out_grad", "data");
  CheckTensor(kDeconv, weight, data, ExpectedWeight(g), "weight");
  CheckSameDType(data, out_grad, kDeconv, "data", "out_grad");
  if (p.no_bias) bias_req = OpReq::kNull;
  if (data_req != OpReq::kNull) CheckTensor(kDeconv, data_grad, data, data.shape, "data_grad");
  if (weight_req != OpReq::kNull) {
    CheckTensor(kDeconv, weight_grad, data, weight.shape, "weight_grad");
  }
  if (bias_req != OpReq::kNull) {
    LOOM_CHECK(bias_grad != nullptr, kDeconv, ": expected a bias_grad output");
    CheckTensor(kDeconv, *bias_grad, data, Shape{g.c}, "bias_grad");
  }
  DispatchFloat(data.dtype, kDeconv, [&]<typename T>(Tag<T>) {
    auto ptr = [](const TensorView& t, OpReq req) {
      return req == OpReq::kNull ? nullptr : t.data<T>();
    };
    const T* dy = out_grad.data<T>();
    DeconvBackwardImpl<T>(g, dy, data.data<T>(), weight.data<T>(), ptr(data_grad, data_req),
                          data_req, ptr(weight_grad, weight_req), weight_req);
    if (bias_req != OpReq::kNull) {
      SumChannels(g.n, g.c, g.InSpatial(), g.channel_last, dy, bias_grad->data<T>(), bias_req);
    }
  });
}

void ClearConvolutionCache() { DnnlCache().clear(); }

void SetConvolutionAlgorithm(ConvolutionAlgorithm algorithm) {
  g_algorithm.store(algorithm, std::memory_order_relaxed);
}

ConvolutionAlgorithm GetConvolutionAlgorithm() {
  return g_algorithm.load(std::memory_order_relaxed);
}

}  // namespace loom::cpu
