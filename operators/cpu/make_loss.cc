#include "operators/cpu/make_loss.h"

#include <algorithm>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {

void MakeLossBackward(const MakeLossParams& p, const TensorView& out, const TensorView& data_grad,
                      OpReq req) {
  if (req == OpReq::kNull) return;
  constexpr std::string_view kOp = "MakeLoss";
  CheckSameShape(out, data_grad, kOp, "output", "data_grad");
  CheckSameDType(out, data_grad, kOp, "output", "data_grad");
  DispatchFloatHalf(out.dtype, kOp, [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    double norm = 1;
    if (p.normalization == MakeLossNormalization::kBatch) {
      norm = out.shape.ndim() > 0 ? static_cast<double>(std::max<int64_t>(out.shape[0], 1)) : 1;
    } else if (p.normalization == MakeLossNormalization::kValid) {
      const T* y = out.data<T>();
      int64_t valid = 0;
      for (int64_t i = 0; i < out.size(); ++i) valid += A(y[i]) > p.valid_thresh ? 1 : 0;
      norm = static_cast<double>(std::max<int64_t>(valid, 1));
    }
    const A value = static_cast<A>(p.grad_scale / norm);
    T* g = data_grad.data<T>();
    ParallelFor(data_grad.size(), int64_t{1} << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        g[i] = static_cast<T>(req == OpReq::kAddTo ? A(g[i]) + value : value);
      }
    });
  });
}

}  // namespace loom::cpu
