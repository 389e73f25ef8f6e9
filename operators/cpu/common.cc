#include "operators/cpu/common.h"

namespace loom::cpu {

double ReadAsDouble(const TensorView& t, int64_t i) {
  return DispatchAll(t.dtype, "index input", [&]<typename T>(Tag<T>) -> double {
    return static_cast<double>(static_cast<AccT<T>>(static_cast<const T*>(t.ptr)[i]));
  });
}

void CheckSize(const TensorView& t, int64_t expected, std::string_view op, std::string_view name) {
  LOOM_CHECK_TYPED(ShapeError, t.size() == expected, op, ": expected ", name, " to hold ", expected,
                   " elements but got shape ", t.shape.ToString());
}

void CheckSameShape(const TensorView& a, const TensorView& b, std::string_view op,
                    std::string_view a_name, std::string_view b_name) {
  LOOM_CHECK_TYPED(ShapeError, a.shape == b.shape, op, ": expected ", b_name,
                   " to have the shape of ", a_name, " ", a.shape.ToString(), " but got ",
                   b.shape.ToString());
}

void CheckSameDType(const TensorView& a, const TensorView& b, std::string_view op,
                    std::string_view a_name, std::string_view b_name) {
  LOOM_CHECK_TYPED(DTypeError, a.dtype == b.dtype, op, ": expected ", b_name,
                   " to have the dtype of ", a_name, " (", ToString(a.dtype), ") but got ",
                   ToString(b.dtype));
}

int NormalizeAxis(int axis, int ndim, std::string_view op) {
  LOOM_CHECK(axis >= -ndim && axis < ndim, op, ": expected an axis in [", -ndim, ", ", ndim,
             ") but got ", axis);
  return axis < 0 ? axis + ndim : axis;
}

AxisSplit SplitAt(const Shape& shape, int axis) {
  AxisSplit s;
  for (int i = 0; i < axis; ++i) s.outer *= shape[i];
  s.n = shape[axis];
  for (int i = axis + 1; i < shape.ndim(); ++i) s.inner *= shape[i];
  return s;
}

}  // namespace loom::cpu
