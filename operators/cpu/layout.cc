#include "operators/cpu/layout.h"

#include <cstring>
#include <numeric>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr int64_t kGrainBytes = int64_t{1} << 17;

int64_t Rows(const StridedLayout& v) {
  int64_t r = 1;
  for (size_t i = 0; i + 1 < v.dims.size(); ++i) r *= v.dims[i];
  return r;
}

// Strided-side offset of row `row` (rows enumerate every axis but the last).
int64_t RowOffset(const StridedLayout& v, int64_t row) {
  int64_t off = v.offset;
  for (int i = static_cast<int>(v.dims.size()) - 2; i >= 0; --i) {
    off += (row % v.dims[i]) * v.strides[i];
    row /= v.dims[i];
  }
  return off;
}

// Moves elements between a contiguous buffer and a strided view: gather (strided -> contiguous)
// or scatter (contiguous -> strided), writing or adding as req says.
void Move(DType dtype, std::string_view op, StridedLayout view, const void* src, void* dst,
          bool gather, OpReq req) {
  if (req == OpReq::kNull) return;
  view.Simplify();
  const int64_t inner = view.dims.back(), rows = Rows(view), esize = DTypeSize(dtype);
  DispatchAll(dtype, op, [&]<typename T>(Tag<T>) {
    const T* s = static_cast<const T*>(src);
    T* d = static_cast<T*>(dst);
    const int64_t step = view.strides.back();
    ParallelFor(rows, std::max<int64_t>(1, kGrainBytes / std::max<int64_t>(inner * esize, 1)),
                [&](int64_t r0, int64_t r1) {
                  for (int64_t r = r0; r < r1; ++r) {
                    const int64_t strided = RowOffset(view, r), contiguous = r * inner;
                    const T* from = gather ? s + strided : s + contiguous;
                    T* to = gather ? d + contiguous : d + strided;
                    const int64_t from_step = gather ? step : 1, to_step = gather ? 1 : step;
                    if (req == OpReq::kAddTo) {
                      for (int64_t i = 0; i < inner; ++i) {
                        to[i * to_step] =
                            static_cast<T>(AccT<T>(to[i * to_step]) + AccT<T>(from[i * from_step]));
                      }
                    } else if (step == 1) {
                      std::memcpy(to, from, static_cast<size_t>(inner) * sizeof(T));
                    } else {
                      for (int64_t i = 0; i < inner; ++i) to[i * to_step] = from[i * from_step];
                    }
                  }
                });
  });
}

// Moves x permuted by perm into y.
void Permute(const TensorView& x, std::span<const int> perm, const TensorView& y, OpReq req,
             std::string_view op) {
  Move(x.dtype, op, PermutedLayout(x, perm, y, op), x.ptr, y.ptr, true, req);
}

}  // namespace

std::vector<int64_t> RowMajorStrides(const Shape& s) {
  std::vector<int64_t> strides(s.ndim());
  int64_t st = 1;
  for (int d = s.ndim() - 1; d >= 0; --d) {
    strides[d] = st;
    st *= s[d];
  }
  return strides;
}

void StridedLayout::Simplify() {
  std::vector<int64_t> d, s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    if (!d.empty() && s.back() == strides[i] * dims[i]) {
      d.back() *= dims[i];
      s.back() = strides[i];
    } else {
      d.push_back(dims[i]);
      s.push_back(strides[i]);
    }
  }
  if (d.empty()) {
    d.push_back(1);
    s.push_back(1);
  }
  dims = std::move(d);
  strides = std::move(s);
}

std::vector<int> ResolvePermutation(std::span<const int> axes, int ndim) {
  std::vector<int> perm(ndim);
  if (axes.empty()) {
    for (int i = 0; i < ndim; ++i) perm[i] = ndim - 1 - i;
    return perm;
  }
  LOOM_CHECK(static_cast<int>(axes.size()) == ndim, "transpose: expected ", ndim, " axes but got ",
             axes.size());
  std::vector<bool> seen(ndim, false);
  for (int i = 0; i < ndim; ++i) {
    perm[i] = NormalizeAxis(axes[i], ndim, "transpose");
    LOOM_CHECK(!seen[perm[i]], "transpose: axis ", axes[i], " appears twice");
    seen[perm[i]] = true;
  }
  return perm;
}

StridedLayout PermutedLayout(const TensorView& x, std::span<const int> perm, const TensorView& y,
                             std::string_view op) {
  CheckSameDType(x, y, op, "data", "out");
  std::vector<int64_t> out_dims(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out_dims[i] = x.shape[perm[i]];
  LOOM_CHECK_TYPED(ShapeError, y.shape == Shape(out_dims), op, ": expected out ",
                   Shape(out_dims).ToString(), " but got ", y.shape.ToString());
  const auto xs = RowMajorStrides(x.shape);
  StridedLayout view;
  view.dims = out_dims;
  for (int a : perm) view.strides.push_back(xs[a]);
  return view;
}

StridedLayout PartLayout(const Shape& whole, int axis, int64_t begin, int64_t n) {
  const AxisSplit s = SplitAt(whole, axis);
  StridedLayout v;
  v.dims = {s.outer, n * s.inner};
  v.strides = {s.n * s.inner, 1};
  v.offset = begin * s.inner;
  return v;
}

void TransposeForward(const TensorView& x, std::span<const int> axes, const TensorView& y,
                      OpReq req) {
  Permute(x, ResolvePermutation(axes, x.shape.ndim()), y, req, "transpose");
}

void TransposeBackward(const TensorView& dy, std::span<const int> axes, const TensorView& dx,
                       OpReq req) {
  const std::vector<int> perm = ResolvePermutation(axes, dx.shape.ndim());
  std::vector<int> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int>(i);
  Permute(dy, inverse, dx, req, "transpose");
}

void SwapAxis(const TensorView& x, int dim1, int dim2, const TensorView& y, OpReq req) {
  const int nd = x.shape.ndim();
  std::vector<int> perm(nd);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[NormalizeAxis(dim1, nd, "SwapAxis")], perm[NormalizeAxis(dim2, nd, "SwapAxis")]);
  Permute(x, perm, y, req, "SwapAxis");
}

void CheckConcatInput(const Shape& input, size_t i, const Shape& out, int axis) {
  Shape expected = out;
  expected[axis] = input.ndim() == out.ndim() ? input[axis] : -1;
  LOOM_CHECK_TYPED(ShapeError, input == expected, "Concat: input ", i, " ", input.ToString(),
                   " does not match out ", out.ToString(), " outside axis ", axis);
}

void ConcatForward(std::span<const TensorView> inputs, int dim, const TensorView& out, OpReq req) {
  LOOM_CHECK(!inputs.empty(), "Concat: expected at least one input");
  const int axis = NormalizeAxis(dim, out.shape.ndim(), "Concat");
  int64_t begin = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorView& in = inputs[i];
    CheckConcatInput(in.shape, i, out.shape, axis);
    CheckSameDType(out, in, "Concat", "out", "an input");
    Move(out.dtype, "Concat", PartLayout(out.shape, axis, begin, in.shape[axis]), in.ptr, out.ptr,
         false, req);
    begin += in.shape[axis];
  }
  LOOM_CHECK_TYPED(ShapeError, begin == out.shape[axis], "Concat: inputs add up to ", begin,
                   " along axis ", axis, " but out ", out.shape.ToString(), " has ",
                   out.shape[axis]);
}

void ConcatBackward(const TensorView& out_grad, int dim, std::span<const TensorView> grads,
                    std::span<const OpReq> reqs) {
  LOOM_CHECK(grads.size() == reqs.size(), "Concat: expected one req per gradient");
  const int axis = NormalizeAxis(dim, out_grad.shape.ndim(), "Concat");
  int64_t begin = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    const int64_t n = grads[i].shape[axis];
    if (reqs[i] != OpReq::kNull) {
      CheckSameDType(out_grad, grads[i], "Concat", "out_grad", "an input gradient");
      Move(out_grad.dtype, "Concat", PartLayout(out_grad.shape, axis, begin, n), out_grad.ptr,
           grads[i].ptr, true, reqs[i]);
    }
    begin += n;
  }
  LOOM_CHECK_TYPED(ShapeError, begin == out_grad.shape[axis], "Concat: gradients add up to ", begin,
                   " along axis ", axis, " but out_grad has ", out_grad.shape[axis]);
}

SplitAxis ResolveSplit(const Shape& x, int axis, int64_t parts) {
  const int a = NormalizeAxis(axis, x.ndim(), "SliceChannel");
  LOOM_CHECK(parts >= 1 && x[a] % parts == 0, "SliceChannel: cannot split axis ", a, " of ",
             x.ToString(), " into ", parts, " equal parts");
  return {a, x[a] / parts};
}

void SplitForward(const TensorView& x, int axis, std::span<const TensorView> outputs,
                  std::span<const OpReq> reqs) {
  LOOM_CHECK(reqs.size() == outputs.size(), "SliceChannel: expected one req per output");
  const int64_t parts = static_cast<int64_t>(outputs.size());
  const auto [a, n] = ResolveSplit(x.shape, axis, parts);
  for (int64_t i = 0; i < parts; ++i) {
    if (reqs[i] == OpReq::kNull) continue;
    CheckSize(outputs[i], x.size() / parts, "SliceChannel", "an output");
    CheckSameDType(x, outputs[i], "SliceChannel", "data", "an output");
    Move(x.dtype, "SliceChannel", PartLayout(x.shape, a, i * n, n), x.ptr, outputs[i].ptr, true,
         reqs[i]);
  }
}

void SplitBackward(std::span<const TensorView> out_grads, int axis, const TensorView& dx,
                   OpReq req) {
  const int64_t parts = static_cast<int64_t>(out_grads.size());
  const auto [a, n] = ResolveSplit(dx.shape, axis, parts);
  for (int64_t i = 0; i < parts; ++i) {
    CheckSize(out_grads[i], dx.size() / parts, "SliceChannel", "an output gradient");
    CheckSameDType(dx, out_grads[i], "SliceChannel", "data_grad", "an output gradient");
    Move(dx.dtype, "SliceChannel", PartLayout(dx.shape, a, i * n, n), out_grads[i].ptr, dx.ptr,
         false, req);
  }
}

SliceSpec ResolveSlice(const Shape& x, std::span<const std::optional<int64_t>> begin,
                       std::span<const std::optional<int64_t>> end,
                       std::span<const std::optional<int64_t>> step) {
  const int nd = x.ndim();
  LOOM_CHECK(static_cast<int>(begin.size()) <= nd && end.size() == begin.size() &&
                 (step.empty() || step.size() == begin.size()),
             "slice: expected begin and end of equal length (step empty or the same) and at most ",
             nd, " entries for data ", x.ToString());
  SliceSpec s;
  for (int d = 0; d < nd; ++d) {
    const int64_t len = x[d];
    if (d >= static_cast<int>(begin.size())) {
      s.begin.push_back(0);
      s.step.push_back(1);
      s.count.push_back(len);
      continue;
    }
    const int64_t st = step.empty() || !step[d] ? 1 : *step[d];
    LOOM_CHECK(st != 0, "slice: step on axis ", d, " must not be 0");
    int64_t b, e;
    if (st > 0) {
      b = begin[d] ? *begin[d] : 0;
      e = end[d] ? *end[d] : len;
      b = b < 0 ? std::max<int64_t>(b + len, 0) : std::min(b, len);
      e = e < 0 ? std::max<int64_t>(e + len, 0) : std::min(e, len);
      s.count.push_back(e > b ? (e - b + st - 1) / st : 0);
    } else {
      b = begin[d] ? *begin[d] : len - 1;
      e = end[d] ? *end[d] : -1;
      b = b < 0 ? std::max<int64_t>(b + len, -1) : std::min(b, len - 1);
      if (end[d]) e = e < 0 ? std::max<int64_t>(e + len, -1) : std::min(e, len - 1);
      s.count.push_back(b > e ? (b - e - st - 1) / -st : 0);
    }
    s.begin.push_back(b);
    s.step.push_back(st);
  }
  return s;
}

SliceSpec ResolveSliceAxis(const Shape& x, int axis, int64_t begin, std::optional<int64_t> end) {
  const int a = NormalizeAxis(axis, x.ndim(), "slice_axis");
  std::vector<std::optional<int64_t>> b(a + 1), e(a + 1);
  b[a] = begin;
  e[a] = end;
  return ResolveSlice(x, b, e, {});
}

SliceSpec ResolveCrop(const Shape& x, int64_t h, int64_t w, int64_t offset_y, int64_t offset_x,
                      bool center) {
  const int nd = x.ndim();
  LOOM_CHECK_TYPED(ShapeError, nd >= 2 && h <= x[nd - 2] && w <= x[nd - 1] && h >= 0 && w >= 0,
                   "Crop: cannot crop (", h, ", ", w, ") from ", x.ToString());
  if (center) {
    offset_y = (x[nd - 2] - h) / 2;
    offset_x = (x[nd - 1] - w) / 2;
  }
  LOOM_CHECK_TYPED(
      ShapeError,
      offset_y >= 0 && offset_x >= 0 && offset_y + h <= x[nd - 2] && offset_x + w <= x[nd - 1],
      "Crop: the window (", h, ", ", w, ") at offset (", offset_y, ", ", offset_x,
      ") does not fit in ", x.ToString());
  SliceSpec s;
  for (int d = 0; d < nd; ++d) {
    s.begin.push_back(d == nd - 2 ? offset_y : (d == nd - 1 ? offset_x : 0));
    s.step.push_back(1);
    s.count.push_back(d == nd - 2 ? h : (d == nd - 1 ? w : x[d]));
  }
  return s;
}

StridedLayout SliceLayout(const Shape& x, const SliceSpec& s, std::string_view op) {
  LOOM_CHECK(static_cast<int>(s.begin.size()) == x.ndim() && s.step.size() == s.begin.size() &&
                 s.count.size() == s.begin.size(),
             op, ": the slice has ", s.begin.size(), " axes but data ", x.ToString(), " has ",
             x.ndim());
  const auto xs = RowMajorStrides(x);
  StridedLayout v;
  for (int d = 0; d < x.ndim(); ++d) {
    LOOM_CHECK(s.count[d] == 0 || (s.begin[d] >= 0 && s.begin[d] < x[d] &&
                                   s.begin[d] + (s.count[d] - 1) * s.step[d] >= 0 &&
                                   s.begin[d] + (s.count[d] - 1) * s.step[d] < x[d]),
               op, ": the slice leaves axis ", d, " of ", x.ToString());
    v.dims.push_back(s.count[d]);
    v.strides.push_back(xs[d] * s.step[d]);
    v.offset += s.begin[d] * xs[d];
  }
  return v;
}

void SliceForward(const TensorView& x, const SliceSpec& s, const TensorView& y, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameDType(x, y, "slice", "data", "out");
  CheckSize(y, s.OutShape().Size(), "slice", "out");
  if (y.size() == 0) return;
  Move(x.dtype, "slice", SliceLayout(x.shape, s, "slice"), x.ptr, y.ptr, true, req);
}

void SliceBackward(const TensorView& dy, const SliceSpec& s, const TensorView& dx, OpReq req) {
  if (req == OpReq::kNull) return;
  CheckSameDType(dx, dy, "slice", "data_grad", "out_grad");
  CheckSize(dy, s.OutShape().Size(), "slice", "out_grad");
  if (req != OpReq::kAddTo) std::memset(dx.ptr, 0, dx.bytes());
  if (dy.size() == 0) return;
  Move(dx.dtype, "slice", SliceLayout(dx.shape, s, "slice"), dy.ptr, dx.ptr, false,
       req == OpReq::kAddTo ? OpReq::kAddTo : OpReq::kWriteTo);
}

}  // namespace loom::cpu
