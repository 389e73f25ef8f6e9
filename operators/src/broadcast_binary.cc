// Binary arithmetic with NumPy broadcasting: broadcast_add, _sub, _mul, _div, _maximum,
// _minimum and _power.
#include <algorithm>

#include "shape_util.h"

namespace loom::ops {
namespace {

// Aligns the shapes from the right; axes of size 1 stretch to the other operand's size.
void BroadcastShape(ShapeContext& ctx) {
  const Shape& lhs = ctx.in(0);
  const Shape& rhs = ctx.in(1);
  if (lhs.ndim() == 0 || rhs.ndim() == 0) return;
  if (lhs == rhs) {
    ctx.SetOut(0, lhs, "lhs and rhs");
    return;
  }
  const int n = std::max(lhs.ndim(), rhs.ndim());
  const int bl = n - lhs.ndim(), br = n - rhs.ndim();
  Shape out = UnknownShape(n);
  for (int i = 0; i < n; ++i) {
    const int64_t l = i >= bl ? lhs[i - bl] : 1;
    const int64_t r = i >= br ? rhs[i - br] : 1;
    if (l == 0 || r == 0) continue;
    if (l != r && l != 1 && r != 1) {
      ctx.Fail("cannot broadcast " + ctx.DescribeInput(0) + " " + Str(lhs) + " with " +
               ctx.DescribeInput(1) + " " + Str(rhs) + ": sizes " + std::to_string(l) + " and " +
               std::to_string(r) + " differ and neither is 1");
    }
    out[i] = l == 1 ? r : l;
  }
  ctx.SetOut(0, out, "broadcasting lhs " + Str(lhs) + " with rhs " + Str(rhs));
}

#define LOOM_BROADCAST_BINARY(Name, Doc)                                                  \
  LOOM_REGISTER_OP(Name)                                                                  \
      .Describe(Doc                                                                       \
                " Shapes broadcast as in NumPy: aligned from the right, an axis of size " \
                "1 (or a missing one) stretches to the other operand's size.")            \
      .Inputs({"lhs", "rhs"})                                                             \
      .InferShape(BroadcastShape)                                                         \
      .InferType(ElemwiseType)

LOOM_BROADCAST_BINARY(broadcast_add, "lhs + rhs.").Alias("broadcast_plus");
LOOM_BROADCAST_BINARY(broadcast_sub, "lhs - rhs.").Alias("broadcast_minus");
LOOM_BROADCAST_BINARY(broadcast_mul, "lhs * rhs.");
LOOM_BROADCAST_BINARY(broadcast_div, "lhs / rhs.");
LOOM_BROADCAST_BINARY(broadcast_maximum, "max(lhs, rhs).");
LOOM_BROADCAST_BINARY(broadcast_minimum, "min(lhs, rhs).");
LOOM_BROADCAST_BINARY(broadcast_power, "lhs ** rhs.");

#undef LOOM_BROADCAST_BINARY

}  // namespace
}  // namespace loom::ops
