#include "shape_util.h"

namespace loom::ops {

namespace {
int Normalize(const ShapeContext& ctx, int64_t axis, const Shape& data, std::string_view param,
              int extra) {
  const int64_t n = data.ndim() + extra;
  if (axis < -n || axis >= n) {
    ctx.Fail("expected " + std::string(param) + " in [" + std::to_string(-n) + ", " +
             std::to_string(n - 1) + "] for data " + Str(data) + " but got " + std::string(param) +
             "=" + std::to_string(axis));
  }
  return static_cast<int>(axis < 0 ? axis + n : axis);
}
}  // namespace

int NormalizeAxis(const ShapeContext& ctx, int64_t axis, const Shape& data,
                  std::string_view param) {
  return Normalize(ctx, axis, data, param, 0);
}

int NormalizeInsertAxis(const ShapeContext& ctx, int64_t axis, const Shape& data,
                        std::string_view param) {
  return Normalize(ctx, axis, data, param, 1);
}

void Float32Type(TypeContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.in(i) != DType::kUnknown && ctx.in(i) != DType::kFloat32) {
      ctx.Fail(ctx.DescribeInput(i) + " has dtype " + ToString(ctx.in(i)) +
               " but the operator supports only float32");
    }
    ctx.SetIn(i, DType::kFloat32);
  }
  for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.SetOut(i, DType::kFloat32, "float32 only");
}

void FirstInputType(TypeContext& ctx) {
  ctx.SetOut(0, ctx.in(0));
  ctx.SetIn(0, ctx.out(0));
}

}  // namespace loom::ops
