// Shape-only operators: Flatten, Reshape (with MXNet's special codes), expand_dims, squeeze.
#include <algorithm>

#include "operators/cpu/tensor_misc.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

std::vector<std::pair<int, int>> InplaceIdentity(const NodeAttrs&) { return {{0, 0}}; }

// Every operator here moves no data: the output is the input's elements under another shape.
void CopyKernel(const NodeAttrs&, const OpContext&, Inputs in, Reqs req, Outputs out) {
  cpu::CopyForward(in[0], out[0], req[0]);
}

// The gradient is the head gradient under the input's shape: one _backward_reshape node (its
// output shape is the input's, preset by the executor).
std::vector<NodeEntry> ReshapeGradient(const NodePtr& n, const std::vector<NodeEntry>& g) {
  return {OutputOf(MakeBackwardNode("_backward_reshape", n, {g[0]}), 0)};
}

LOOM_REGISTER_OP(_backward_reshape)
    .Describe(R"(Gradient of Flatten, Reshape, expand_dims and squeeze: out_grad's elements under
the data's shape.)")
    .Inputs({"out_grad"})
    .InplaceOptions(InplaceIdentity)
    .Kernel(DeviceType::kCPU, FCompute(CopyKernel));

// Fills the single unknown dimension of `data` from the element count of a known `out`
// (MXNet's ReverseReshapeInferShape); nothing when more than one is unknown.
void BackFillOneDim(ShapeContext& ctx) {
  const Shape& out = ctx.out(0);
  Shape data = ctx.in(0);
  if (!out.IsKnown() || data.ndim() == 0 || data.IsKnown()) return;
  int unknown = -1;
  int64_t known = 1;
  for (int i = 0; i < data.ndim(); ++i) {
    if (data[i] != 0) {
      known *= data[i];
    } else if (unknown >= 0) {
      return;
    } else {
      unknown = i;
    }
  }
  if (out.Size() % known != 0) {
    ctx.Fail("cannot reshape " + ctx.DescribeInput(0) + " " + Str(data) + " to " + Str(out) + ": " +
             std::to_string(out.Size()) + " elements are not a multiple of " +
             std::to_string(known));
  }
  data[unknown] = out.Size() / known;
  ctx.SetIn(0, data, "the output shape " + Str(out));
}

// ---- Flatten ----

void FlattenShape(ShapeContext& ctx) {
  const Shape& data = ctx.in(0);
  if (data.ndim() > 0) {
    int64_t rest = 1;  // 0 (unknown) when a non-batch dimension is unknown
    for (int i = 1; i < data.ndim(); ++i) rest = data[i] == 0 ? 0 : rest * data[i];
    ctx.SetOut(0, Shape{data[0], rest}, "data " + Str(data));
  }
  const Shape& out = ctx.out(0);
  if (out.ndim() == 0) return;
  if (out.ndim() != 2) {
    ctx.Fail("output has shape " + Str(out) + " but Flatten's output is 2-D (batch, rest)");
  }
  if (data.ndim() == 0) return;
  Shape filled = ctx.in(0);
  filled[0] = out[0];
  ctx.SetIn(0, filled, "the output's batch size");
  // One unknown non-batch dimension follows from the output's second dimension.
  int unknown = -1;
  int64_t known = 1;
  for (int i = 1; i < filled.ndim(); ++i) {
    if (filled[i] != 0) {
      known *= filled[i];
    } else if (unknown >= 0) {
      return;
    } else {
      unknown = i;
    }
  }
  if (unknown < 0 || out[1] == 0) return;
  if (out[1] % known != 0) {
    ctx.Fail("output has shape " + Str(out) + " but data " + Str(filled) +
             " cannot flatten to it: " + std::to_string(out[1]) + " is not a multiple of " +
             std::to_string(known));
  }
  filled[unknown] = out[1] / known;
  ctx.SetIn(0, filled, "the output shape " + Str(out));
}

LOOM_REGISTER_OP(Flatten)
    .Alias("flatten")
    .Describe(R"(Collapses all axes but the first: data (N, d1, ..., dk) becomes
(N, d1*...*dk); 1-D data (N,) becomes (N, 1).)")
    .Inputs({"data"})
    .InferShape(FlattenShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceIdentity)
    .Kernel(DeviceType::kCPU, FCompute(CopyKernel))
    .Gradient(ReshapeGradient);

// ---- Reshape ----

struct ReshapeParam {
  Shape shape;
  bool reverse = false;
  Shape target_shape;
  bool keep_highest = false;
  static void Declare(ParamDeclarer<ReshapeParam>& d) {
    using P = ReshapeParam;
    d("shape", &P::shape)
        .Default(Shape{})
        .Describe(
            "The new shape. Special values: 0 copies the input dimension, -1 infers one "
            "dimension, -2 copies all remaining dimensions, -3 merges two consecutive "
            "dimensions, -4 a b splits a dimension into a and b (one may be -1).");
    d("reverse", &P::reverse)
        .Default(false)
        .Describe("Match the special values from the right instead of the left.");
    d("target_shape", &P::target_shape)
        .Default(Shape{})
        .Describe(
            "Deprecated: the new shape, 0 marking the one dimension to infer (used when "
            "`shape` is empty).");
    d("keep_highest", &P::keep_highest)
        .Default(false)
        .Describe("Deprecated, with target_shape: keep the first dimension and infer the rest.");
    d.Validate([](P& p) {
      for (int64_t v : p.shape) {
        LOOM_CHECK(v >= -4, "parameter 'shape': expected dimensions >= -4 but got ",
                   FormatParam(p.shape));
      }
      for (int64_t v : p.target_shape) {
        LOOM_CHECK(v >= 0, "parameter 'target_shape': expected non-negative dimensions but got ",
                   FormatParam(p.target_shape));
      }
    });
  }
};

constexpr int64_t kUnknownDim = -1;

// MXNet's InferReshapeShape on dims with -1 for unknown input dimensions; the result uses -1
// for dimensions it cannot determine. Throws loom::Error describing a misuse of the codes.
std::vector<int64_t> ApplyReshapeCodes(std::vector<int64_t> codes, std::vector<int64_t> in,
                                       bool reverse) {
  if (reverse) {
    std::reverse(codes.begin(), codes.end());
    std::reverse(in.begin(), in.end());
  }
  const bool in_known = std::none_of(in.begin(), in.end(), [](int64_t d) { return d < 0; });
  std::vector<int64_t> out;
  size_t src = 0;
  int infer = -1;
  for (size_t i = 0; i < codes.size(); ++i) {
    const int64_t code = codes[i];
    if (code == 0) {
      LOOM_CHECK(src < in.size(), "code 0 at position ", i, " has no input dimension to copy");
      out.push_back(in[src++]);
    } else if (code == -1) {
      LOOM_CHECK(infer < 0, "more than one dimension is -1 (to infer)");
      infer = static_cast<int>(out.size());
      out.push_back(1);
      ++src;
    } else if (code == -2) {
      while (src < in.size()) out.push_back(in[src++]);
    } else if (code == -3) {
      LOOM_CHECK(src + 1 < in.size(), "code -3 at position ", i,
                 " needs two input dimensions to merge");
      const int64_t d1 = in[src++], d2 = in[src++];
      out.push_back(d1 < 0 || d2 < 0 ? kUnknownDim : d1 * d2);
    } else if (code == -4) {
      LOOM_CHECK(i + 2 < codes.size(), "code -4 at position ", i,
                 " needs two following values (the split sizes)");
      LOOM_CHECK(src < in.size(), "code -4 at position ", i, " has no input dimension to split");
      const int64_t d0 = in[src++];
      int64_t d1 = codes[++i], d2 = codes[++i];
      LOOM_CHECK(d1 != -1 || d2 != -1, "code -4 cannot split into two -1 dimensions");
      LOOM_CHECK(d1 > 0 || d1 == -1, "code -4 split sizes must be positive or -1 but got ", d1);
      LOOM_CHECK(d2 > 0 || d2 == -1, "code -4 split sizes must be positive or -1 but got ", d2);
      if (d1 == -1 && d0 >= 0) d1 = d0 / d2;
      if (d2 == -1 && d0 >= 0) d2 = d0 / d1;
      LOOM_CHECK(d0 < 0 || d1 * d2 == d0, "code -4 splits dimension ", d0, " into ", d1, " x ", d2,
                 ", which does not multiply back to it");
      out.push_back(d1);
      out.push_back(d2);
    } else {
      out.push_back(code);
      ++src;
    }
  }
  if (infer >= 0) {
    if (in_known) {
      int64_t in_size = 1, rest = 1;
      for (int64_t d : in) in_size *= d;
      for (int64_t d : out) rest *= d;
      LOOM_CHECK(rest > 0 && in_size % rest == 0, "cannot infer the -1 dimension: ", in_size,
                 " elements are not a multiple of ", rest);
      out[infer] = in_size / rest;
    } else {
      out[infer] = kUnknownDim;
    }
  }
  if (reverse) std::reverse(out.begin(), out.end());
  return out;
}

void ReshapeShape(ShapeContext& ctx) {
  const auto& p = ctx.param<ReshapeParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  std::vector<int64_t> out;
  if (p.shape.ndim() > 0) {
    std::vector<int64_t> in(data.begin(), data.end());
    for (int64_t& d : in) d = d == 0 ? kUnknownDim : d;
    try {
      out = ApplyReshapeCodes(p.shape.dims(), in, p.reverse);
    } catch (const Error& e) {
      ctx.Fail("cannot reshape data " + Str(data) + " with shape=" + FormatParam(p.shape) +
               (p.reverse ? " (reverse)" : "") + ": " + e.message());
    }
    for (int64_t& d : out) d = d < 0 ? 0 : d;
  } else if (p.target_shape.ndim() > 0) {
    // The deprecated form: one 0 in target_shape is inferred (after the kept first dimension).
    out = p.target_shape.dims();
    const size_t start = p.keep_highest ? 1 : 0;
    if (p.keep_highest) out[0] = data[0];
    int zeros = 0;
    size_t at = 0;
    for (size_t i = start; i < out.size(); ++i) {
      if (out[i] == 0) {
        ++zeros;
        at = i;
      }
    }
    if (zeros == 1 && data.IsKnown()) {
      out[at] = 1;
      int64_t rest = 1;
      for (int64_t d : out) rest *= d;
      out[at] = rest > 0 ? data.Size() / rest : 0;
    }
  } else {
    BackFillOneDim(ctx);
    return;
  }
  const Shape target(out);
  if (data.IsKnown() && target.IsKnown() && data.Size() != target.Size()) {
    ctx.Fail("cannot reshape data " + Str(data) + " (" + std::to_string(data.Size()) +
             " elements) to " + Str(target) + " (" + std::to_string(target.Size()) + " elements)");
  }
  ctx.SetOut(0, target, "data " + Str(data) + " and the requested shape");
  BackFillOneDim(ctx);
}

LOOM_REGISTER_OP(Reshape)
    .Alias("reshape")
    .Describe(R"(Gives the data a new shape with the same elements. `shape` may use 0 (copy the
input dimension), -1 (infer one dimension), -2 (copy all remaining dimensions), -3 (merge two
consecutive dimensions) and -4 a b (split one dimension into a x b, one of them -1); with
reverse=True the codes match from the right. Examples for data (2,3,4): (4,0,2) -> (4,3,2),
(-1,) -> (24,), (-2,1,1) -> (2,3,4,1,1), (-3,4) -> (6,4), (-4,1,2,-2) -> (1,2,3,4); data
(10,5,4) with (-1,0): (40,5), reversed (50,4).)")
    .Params<ReshapeParam>()
    .Inputs({"data"})
    .InferShape(ReshapeShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceIdentity)
    .Kernel(DeviceType::kCPU, FCompute(CopyKernel))
    .Gradient(ReshapeGradient);

// ---- expand_dims ----

struct ExpandDimsParam {
  int64_t axis = 0;
  static void Declare(ParamDeclarer<ExpandDimsParam>& d) {
    d("axis", &ExpandDimsParam::axis)
        .Describe("Position of the new axis in the output; negative counts from the end.");
  }
};

void ExpandDimsShape(ShapeContext& ctx) {
  const auto& p = ctx.param<ExpandDimsParam>();
  const Shape& data = ctx.in(0);
  const Shape& out = ctx.out(0);
  if (data.ndim() == 0 && out.ndim() == 0) return;
  const int in_ndim = data.ndim() > 0 ? data.ndim() : out.ndim() - 1;
  const int axis = NormalizeInsertAxis(ctx, p.axis, data.ndim() > 0 ? data : UnknownShape(in_ndim));
  if (data.ndim() > 0) {
    Shape o = UnknownShape(in_ndim + 1);
    for (int i = 0; i < in_ndim; ++i) o[i < axis ? i : i + 1] = data[i];
    o[axis] = 1;
    ctx.SetOut(0, o, "data " + Str(data) + " and axis=" + std::to_string(p.axis));
  }
  const Shape& o = ctx.out(0);
  if (o.ndim() != in_ndim + 1) {
    ctx.Fail("output has shape " + Str(o) + " but expected " + std::to_string(in_ndim + 1) +
             " dimensions");
  }
  if (o[axis] != 0 && o[axis] != 1) {
    ctx.Fail("output has shape " + Str(o) + " but the inserted axis " + std::to_string(axis) +
             " must have size 1");
  }
  Shape d = UnknownShape(in_ndim);
  for (int i = 0; i < in_ndim; ++i) d[i] = o[i < axis ? i : i + 1];
  ctx.SetIn(0, d, "the output shape " + Str(o));
}

LOOM_REGISTER_OP(expand_dims)
    .Describe("Inserts an axis of size 1 at position `axis` of the output.")
    .Params<ExpandDimsParam>()
    .Inputs({"data"})
    .InferShape(ExpandDimsShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceIdentity)
    .Kernel(DeviceType::kCPU, FCompute(CopyKernel))
    .Gradient(ReshapeGradient);

// ---- squeeze ----

struct SqueezeParam {
  std::optional<Shape> axis;
  static void Declare(ParamDeclarer<SqueezeParam>& d) {
    d("axis", &SqueezeParam::axis)
        .Default(std::nullopt)
        .Describe("Axes of size 1 to remove (default: every axis of size 1).");
  }
};

void SqueezeShape(ShapeContext& ctx) {
  const auto& p = ctx.param<SqueezeParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  std::vector<bool> drop(data.ndim(), false);
  if (p.axis) {
    for (int64_t a : *p.axis) {
      const int axis = NormalizeAxis(ctx, a, data);
      if (drop[axis]) {
        ctx.Fail("parameter axis=" + FormatParam(*p.axis) + " names axis " + std::to_string(axis) +
                 " twice");
      }
      if (data[axis] != 0 && data[axis] != 1) {
        ctx.Fail("cannot squeeze axis " + std::to_string(axis) + " of data " + Str(data) +
                 ": its size is " + std::to_string(data[axis]) + ", not 1");
      }
      drop[axis] = true;
    }
  } else {
    // Without axes, an unknown dimension might be 1 or not.
    if (!data.IsKnown()) return;
    for (int i = 0; i < data.ndim(); ++i) drop[i] = data[i] == 1;
  }
  Shape out;
  for (int i = 0; i < data.ndim(); ++i) {
    if (!drop[i]) out.push_back(data[i]);
  }
  if (out.ndim() == 0) out.push_back(1);  // all axes squeezed: MXNet keeps one, (1,)
  ctx.SetOut(0, out, "data " + Str(data));
  if (!p.axis) return;
  Shape back = data;
  const Shape& o = ctx.out(0);
  if (o.ndim() != out.ndim()) return;
  for (int i = 0, j = 0; i < data.ndim(); ++i) {
    if (drop[i]) {
      back[i] = 1;
    } else {
      back[i] = o[j++];
    }
  }
  ctx.SetIn(0, back, "the output shape " + Str(o));
}

LOOM_REGISTER_OP(squeeze)
    .Describe(R"(Removes axes of size 1: those in `axis`, or all of them. Removing every axis
gives (1,).)")
    .Params<SqueezeParam>()
    .Inputs({"data"})
    .InferShape(SqueezeShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceIdentity)
    .Kernel(DeviceType::kCPU, FCompute(CopyKernel))
    .Gradient(ReshapeGradient);

}  // namespace
}  // namespace loom::ops
