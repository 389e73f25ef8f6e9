// Convolution and Deconvolution CPU kernels: oneDNN and im2col + GEMM (float32, each forced and
// as chosen per geometry; float64) vs the naive reference, gradients vs finite differences,
// req=kAddTo, channel-last layouts, thread counts.
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include "gradient_check.h"
#include "operators/cpu/convolution.h"
#include "operators/cpu/parallel.h"
#include "operators/cpu/reference/convolution.h"

namespace loom::cpu {
namespace {

using test::ExpectAllNear;
using test::RandomVector;
using test::View;

// ConvolutionParams without designated initialisers (GCC 12 warns about the omitted vectors).
ConvolutionParams P(std::vector<int64_t> kernel, int64_t num_filter,
                    std::vector<int64_t> stride = {}, std::vector<int64_t> dilate = {},
                    std::vector<int64_t> pad = {}, int64_t num_group = 1, bool no_bias = false) {
  ConvolutionParams p;
  p.kernel = std::move(kernel);
  p.num_filter = num_filter;
  p.stride = std::move(stride);
  p.dilate = std::move(dilate);
  p.pad = std::move(pad);
  p.num_group = num_group;
  p.no_bias = no_bias;
  return p;
}

struct Case {
  Shape data;  // (N, C, *spatial)
  ConvolutionParams p;
  std::vector<int64_t> adj = {};  // Deconvolution only: extra output size per axis
};

std::vector<Case> Cases() {
  return {
      {Shape{2, 3, 7}, P({3}, 4)},
      {Shape{2, 2, 9}, P({2}, 4, {2}, {2}, {1}, 2), {1}},
      {Shape{2, 3, 6, 5}, P({3, 3}, 5, {}, {}, {1, 1})},
      {Shape{1, 4, 7, 8}, P({3, 2}, 6, {2, 1}, {1, 2}, {1, 0}, 2, true), {1, 0}},
      {Shape{2, 1, 8, 8}, P({5, 5}, 3)},
      {Shape{1, 2, 4, 5, 4}, P({2, 3, 2}, 3, {2, 1, 1}, {}, {0, 1, 1})},
  };
}

// Convolution's output shape for data.
Shape ConvOut(const Case& c) {
  std::vector<int64_t> dims{c.data[0], c.p.num_filter};
  for (size_t i = 0; i < c.p.kernel.size(); ++i) {
    dims.push_back(
        ConvOutputSize(c.data[2 + i], c.p.kernel[i], c.p.stride.empty() ? 1 : c.p.stride[i],
                       c.p.dilate.empty() ? 1 : c.p.dilate[i], c.p.pad.empty() ? 0 : c.p.pad[i]));
  }
  return Shape(dims);
}

// Deconvolution's output shape for data: (in - 1) s - 2p + d (k - 1) + 1 + adj.
Shape DeconvOut(const Case& c) {
  std::vector<int64_t> dims{c.data[0], c.p.num_filter};
  for (size_t i = 0; i < c.p.kernel.size(); ++i) {
    const int64_t s = c.p.stride.empty() ? 1 : c.p.stride[i];
    const int64_t d = c.p.dilate.empty() ? 1 : c.p.dilate[i];
    const int64_t p = c.p.pad.empty() ? 0 : c.p.pad[i];
    dims.push_back((c.data[2 + i] - 1) * s - 2 * p + d * (c.p.kernel[i] - 1) + 1 +
                   (c.adj.empty() ? 0 : c.adj[i]));
  }
  return Shape(dims);
}

Shape WeightShape(const Case& c, bool deconv) {
  std::vector<int64_t> dims;
  if (deconv) {
    dims = {c.data[1], c.p.num_filter / c.p.num_group};
  } else {
    dims = {c.p.num_filter, c.data[1] / c.p.num_group};
  }
  for (int64_t k : c.p.kernel) dims.push_back(k);
  return Shape(dims);
}

// Tensors of one case, in float64, with the reference's results.
struct Data {
  Shape xs, ys, ws;
  std::vector<double> x, w, b, dy, y, dx, dw, db;
};

Data MakeData(const Case& c, bool deconv, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Data d;
  d.xs = c.data;
  d.ys = deconv ? DeconvOut(c) : ConvOut(c);
  d.ws = WeightShape(c, deconv);
  d.x = RandomVector(d.xs.Size(), rng);
  d.w = RandomVector(d.ws.Size(), rng);
  d.b = RandomVector(c.p.num_filter, rng);
  d.dy = RandomVector(d.ys.Size(), rng);
  d.y.resize(d.ys.Size());
  d.dx.resize(d.xs.Size());
  d.dw.resize(d.ws.Size());
  d.db.resize(c.p.num_filter);
  const double* b = c.p.no_bias ? nullptr : d.b.data();
  double* db = c.p.no_bias ? nullptr : d.db.data();
  if (deconv) {
    reference::DeconvolutionForward(c.p, d.xs, d.ys, d.x.data(), d.w.data(), b, d.y.data());
    reference::DeconvolutionBackward(c.p, d.xs, d.ys, d.dy.data(), d.x.data(), d.w.data(),
                                     d.dx.data(), d.dw.data(), db);
  } else {
    reference::ConvolutionForward(c.p, d.xs, d.ys, d.x.data(), d.w.data(), b, d.y.data());
    reference::ConvolutionBackward(c.p, d.xs, d.ys, d.dy.data(), d.x.data(), d.w.data(),
                                   d.dx.data(), d.dw.data(), db);
  }
  return d;
}

// Runs the fast forward and backward on T copies of d's inputs; results as T vectors.
template <typename T>
std::vector<std::vector<T>> RunFast(const Case& c, bool deconv, const Data& d, OpReq req,
                                    std::vector<std::vector<T>> out = {}) {
  auto x = test::Convert<T>(d.x), w = test::Convert<T>(d.w), b = test::Convert<T>(d.b),
       dy = test::Convert<T>(d.dy);
  if (out.empty()) {
    out = {std::vector<T>(d.y.size()), std::vector<T>(d.x.size()), std::vector<T>(d.w.size()),
           std::vector<T>(d.b.size())};
  }
  TensorView bias = View(b, Shape{c.p.num_filter}), bias_grad = View(out[3], Shape{c.p.num_filter});
  auto fwd = deconv ? DeconvolutionForward : ConvolutionForward;
  auto bwd = deconv ? DeconvolutionBackward : ConvolutionBackward;
  fwd(c.p, View(x, d.xs), View(w, d.ws), &bias, View(out[0], d.ys), req);
  bwd(c.p, View(dy, d.ys), View(x, d.xs), View(w, d.ws), View(out[1], d.xs), req,
      View(out[2], d.ws), req, &bias_grad, req);
  return out;
}

template <typename T>
void ExpectMatchesReference(bool deconv) {
  uint64_t seed = deconv ? 100 : 1;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  for (const Case& c : Cases()) {
    SCOPED_TRACE((deconv ? "Deconvolution data " : "Convolution data ") + c.data.ToString() +
                 " kernel " + Shape(c.p.kernel).ToString());
    const Data d = MakeData(c, deconv, seed++);
    auto r = RunFast<T>(c, deconv, d, OpReq::kWriteTo);
    ExpectAllNear(r[0], d.y, tol, tol, "out");
    ExpectAllNear(r[1], d.dx, tol, tol, "data_grad");
    ExpectAllNear(r[2], d.dw, tol, tol, "weight_grad");
    if (!c.p.no_bias) ExpectAllNear(r[3], d.db, tol, tol, "bias_grad");
  }
}

// Forces a float32 convolution algorithm for one scope.
class AlgorithmScope {
 public:
  explicit AlgorithmScope(ConvolutionAlgorithm a) : saved_(GetConvolutionAlgorithm()) {
    SetConvolutionAlgorithm(a);
  }
  ~AlgorithmScope() { SetConvolutionAlgorithm(saved_); }

 private:
  ConvolutionAlgorithm saved_;
};

TEST(KernelsConvolution, OneDnnFloat32MatchesReference) {
  AlgorithmScope scope(ConvolutionAlgorithm::kOneDnn);
  ExpectMatchesReference<float>(false);
}
TEST(KernelsConvolution, Im2colFloat32MatchesReference) {
  AlgorithmScope scope(ConvolutionAlgorithm::kIm2colGemm);
  ExpectMatchesReference<float>(false);
}
TEST(KernelsConvolution, AutoFloat32MatchesReference) { ExpectMatchesReference<float>(false); }
TEST(KernelsConvolution, Im2colFloat64MatchesReference) { ExpectMatchesReference<double>(false); }
TEST(KernelsDeconvolution, OneDnnFloat32MatchesReference) { ExpectMatchesReference<float>(true); }
TEST(KernelsDeconvolution, Im2colFloat64MatchesReference) { ExpectMatchesReference<double>(true); }

void ExpectGradients(bool deconv) {
  std::mt19937_64 rng(deconv ? 9 : 8);
  for (const Case& c : Cases()) {
    SCOPED_TRACE("data " + c.data.ToString());
    const Shape ys = deconv ? DeconvOut(c) : ConvOut(c), ws = WeightShape(c, deconv);
    auto x = RandomVector(c.data.Size(), rng), w = RandomVector(ws.Size(), rng),
         b = RandomVector(c.p.num_filter, rng), head = RandomVector(ys.Size(), rng);
    auto fwd = deconv ? DeconvolutionForward : ConvolutionForward;
    auto bwd = deconv ? DeconvolutionBackward : ConvolutionBackward;
    auto forward = [&] {
      std::vector<double> y(ys.Size());
      TensorView bias = View(b, Shape{c.p.num_filter});
      fwd(c.p, View(x, c.data), View(w, ws), &bias, View(y, ys), OpReq::kWriteTo);
      return y;
    };
    std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
    TensorView bias_grad = View(db, Shape{c.p.num_filter});
    bwd(c.p, View(head, ys), View(x, c.data), View(w, ws), View(dx, c.data), OpReq::kWriteTo,
        View(dw, ws), OpReq::kWriteTo, &bias_grad, OpReq::kWriteTo);
    test::ExpectGradientNear("data", forward, x, head, dx);
    test::ExpectGradientNear("weight", forward, w, head, dw);
    if (!c.p.no_bias) test::ExpectGradientNear("bias", forward, b, head, db);
  }
}

TEST(KernelsConvolution, GradientsMatchFiniteDifferences) { ExpectGradients(false); }
TEST(KernelsDeconvolution, GradientsMatchFiniteDifferences) { ExpectGradients(true); }

template <typename T>
void ExpectAddTo(bool deconv) {
  for (const Case& c : {Cases()[1], Cases()[2]}) {
    const Data d = MakeData(c, deconv, 17);
    test::ExpectAddToAccumulates<T>(
        [&](OpReq req, std::vector<std::vector<T>>& o) { o = RunFast<T>(c, deconv, d, req, o); },
        {d.y.size(), d.x.size(), d.w.size(), d.b.size()});
  }
}

TEST(KernelsConvolution, AddToAccumulates) {
  for (ConvolutionAlgorithm a :
       {ConvolutionAlgorithm::kOneDnn, ConvolutionAlgorithm::kIm2colGemm}) {
    AlgorithmScope scope(a);
    ExpectAddTo<float>(false);
  }
  ExpectAddTo<double>(false);
}
TEST(KernelsDeconvolution, AddToAccumulates) {
  ExpectAddTo<float>(true);
  ExpectAddTo<double>(true);
}

// (N, C, H, W) -> (N, H, W, C), or back with `inverse`.
std::vector<float> ToChannelLast(const std::vector<float>& v, const Shape& nchw, bool inverse) {
  const int64_t n = nchw[0], c = nchw[1], hw = nchw[2] * nchw[3];
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < hw; ++i) {
        const int64_t first = (b * c + ch) * hw + i, last = (b * hw + i) * c + ch;
        if (inverse) {
          out[first] = v[last];
        } else {
          out[last] = v[first];
        }
      }
  return out;
}

TEST(KernelsConvolution, ChannelLastMatchesChannelFirst) {
  Case c = Cases()[3];
  c.p.no_bias = false;
  const Data d = MakeData(c, false, 23);
  auto first = RunFast<float>(c, false, d, OpReq::kWriteTo);
  Case cl = c;
  cl.p.channel_last = true;
  const Shape xs{d.xs[0], d.xs[2], d.xs[3], d.xs[1]}, ys{d.ys[0], d.ys[2], d.ys[3], d.ys[1]},
      ws{d.ws[0], d.ws[2], d.ws[3], d.ws[1]};
  auto x = ToChannelLast(test::Convert<float>(d.x), d.xs, false);
  auto w = ToChannelLast(test::Convert<float>(d.w), d.ws, false);
  auto dy = ToChannelLast(test::Convert<float>(d.dy), d.ys, false);
  auto b = test::Convert<float>(d.b);
  std::vector<float> y(d.y.size()), dx(x.size()), dw(w.size()), db(b.size());
  TensorView bias = View(b, Shape{c.p.num_filter}), bias_grad = View(db, Shape{c.p.num_filter});
  ConvolutionForward(cl.p, View(x, xs), View(w, ws), &bias, View(y, ys), OpReq::kWriteTo);
  ConvolutionBackward(cl.p, View(dy, ys), View(x, xs), View(w, ws), View(dx, xs), OpReq::kWriteTo,
                      View(dw, ws), OpReq::kWriteTo, &bias_grad, OpReq::kWriteTo);
  ExpectAllNear(ToChannelLast(y, d.ys, true), first[0], 1e-5, 1e-5, "out");
  ExpectAllNear(ToChannelLast(dx, d.xs, true), first[1], 1e-5, 1e-5, "data_grad");
  ExpectAllNear(ToChannelLast(dw, d.ws, true), first[2], 1e-5, 1e-5, "weight_grad");
  ExpectAllNear(db, first[3], 1e-5, 1e-5, "bias_grad");
}

// Thread counts 1, 2 and 3 agree, with each float32 algorithm (kAuto runs LeNet's second layer
// as im2col + GEMM) and in float64. LeNet's second layer at batch 20 has several column chunks,
// so its parts run in parallel and their weight gradients are summed.
template <typename T>
void ExpectThreadsAgree(const Case& c, double tol) {
  const Data d = MakeData(c, false, 31);
  auto run = [&](int threads) {
    const int saved = KernelThreads();
    SetKernelThreads(threads);
    tbb::task_arena arena(threads);
    auto r = arena.execute([&] { return RunFast<T>(c, false, d, OpReq::kWriteTo); });
    SetKernelThreads(saved);
    return r;
  };
  auto one = run(1);
  for (int threads : {2, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    auto more = run(threads);
    for (size_t i = 0; i < one.size(); ++i) ExpectAllNear(more[i], one[i], tol, tol, "output");
  }
  ExpectAllNear(one[0], d.y, tol, tol, "out vs reference");
  ExpectAllNear(one[1], d.dx, tol, tol, "data_grad vs reference");
  ExpectAllNear(one[2], d.dw, tol * 10, tol, "weight_grad vs reference");
}

TEST(KernelsConvolution, ThreadCountsAgree) {
  const Case small{Shape{8, 8, 20, 20}, P({3, 3}, 16, {}, {}, {1, 1})};
  const Case lenet2{Shape{20, 20, 12, 12}, P({5, 5}, 50)};
  for (ConvolutionAlgorithm a : {ConvolutionAlgorithm::kAuto, ConvolutionAlgorithm::kOneDnn,
                                 ConvolutionAlgorithm::kIm2colGemm}) {
    AlgorithmScope scope(a);
    ExpectThreadsAgree<float>(small, 1e-4);
    ExpectThreadsAgree<float>(lenet2, 1e-4);
  }
  ExpectThreadsAgree<double>(lenet2, 1e-10);
}

TEST(KernelsConvolution, BadShapesAreShapeErrors) {
  std::vector<float> x(2 * 3 * 6 * 6), w(4 * 3 * 3 * 3), y(2 * 4 * 4 * 4);
  const ConvolutionParams p = P({3, 3}, 4, {}, {}, {}, 1, true);
  EXPECT_THROW(ConvolutionForward(p, View(x, Shape{2, 3, 6, 6}), View(w, Shape{4, 3, 3, 3}),
                                  nullptr, View(y, Shape{2, 4, 5, 4}), OpReq::kWriteTo),
               ShapeError);
  EXPECT_THROW(ConvolutionForward(p, View(x, Shape{2, 3, 6, 6}), View(w, Shape{4, 2, 3, 3}),
                                  nullptr, View(y, Shape{2, 4, 4, 4}), OpReq::kWriteTo),
               ShapeError);
  const ConvolutionParams grouped = P({3, 3}, 4, {}, {}, {}, 2, true);
  EXPECT_THROW(ConvolutionForward(grouped, View(x, Shape{2, 3, 6, 6}), View(w, Shape{4, 3, 3, 3}),
                                  nullptr, View(y, Shape{2, 4, 4, 4}), OpReq::kWriteTo),
               ShapeError);
}

}  // namespace
}  // namespace loom::cpu
