#include "operators/cpu/fully_connected.h"

#include <vector>

#include "operators/cpu/blas.h"
#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

constexpr std::string_view kOp = "FullyConnected";

template <typename T>
void AddBias(const T* bias, int64_t rows, int64_t h, T* out) {
  ParallelFor(rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(h, 1)),
              [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                  T* row = out + r * h;
                  for (int64_t j = 0; j < h; ++j) row[j] += bias[j];
                }
              });
}

}  // namespace

FullyConnectedDims FullyConnectedShapes(const FullyConnectedParams& p, const TensorView& data,
                                        const TensorView& weight, const TensorView& out) {
  LOOM_CHECK_TYPED(ShapeError, data.shape.ndim() >= 1, kOp,
                   ": expected data with at least one axis");
  FullyConnectedDims d;
  if (p.flatten) {
    d.rows = data.shape[0];
    d.k = data.shape.Size(1, data.shape.ndim());
  } else {
    d.k = data.shape[data.shape.ndim() - 1];
    d.rows = d.k == 0 ? 0 : data.size() / d.k;
  }
  d.h = p.num_hidden;
  LOOM_CHECK_TYPED(ShapeError, weight.shape == Shape({d.h, d.k}), kOp, ": expected weight (", d.h,
                   ",", d.k, ") for data ", data.shape.ToString(), " and num_hidden=", d.h,
                   " but got ", weight.shape.ToString());
  CheckSize(out, d.rows * d.h, kOp, "out");
  CheckSameDType(data, weight, kOp, "data", "weight");
  CheckSameDType(data, out, kOp, "data", "out");
  return d;
}

void FullyConnectedForward(const FullyConnectedParams& p, const TensorView& data,
                           const TensorView& weight, const TensorView* bias, const TensorView& out,
                           OpReq req) {
  if (req == OpReq::kNull) return;
  const FullyConnectedDims d = FullyConnectedShapes(p, data, weight, out);
  if (!p.no_bias) {
    LOOM_CHECK(bias != nullptr, kOp, ": expected a bias input (no_bias=False)");
    CheckSize(*bias, d.h, kOp, "bias");
    CheckSameDType(data, *bias, kOp, "data", "bias");
  }
  DispatchFloat(data.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* x = data.data<T>();
    const T* w = weight.data<T>();
    T* y = out.data<T>();
    const bool add = req == OpReq::kAddTo;
    if (!p.no_bias && !add) {
      // Start from the bias so the GEMM's beta = 1 adds it without another pass.
      const T* b = bias->data<T>();
      ParallelFor(d.rows, std::max<int64_t>(1, 65536 / std::max<int64_t>(d.h, 1)),
                  [&](int64_t r0, int64_t r1) {
                    for (int64_t r = r0; r < r1; ++r) std::copy(b, b + d.h, y + r * d.h);
                  });
      Gemm<T>(false, true, d.rows, d.h, d.k, T(1), x, d.k, w, d.k, T(1), y, d.h);
    } else {
      Gemm<T>(false, true, d.rows, d.h, d.k, T(1), x, d.k, w, d.k, add ? T(1) : T(0), y, d.h);
      if (!p.no_bias) AddBias(bias->data<T>(), d.rows, d.h, y);
    }
  });
}

void FullyConnectedBackward(const FullyConnectedParams& p, const TensorView& out_grad,
                            const TensorView& data, const TensorView& weight,
                            const TensorView& data_grad, OpReq data_req,
                            const TensorView& weight_grad, OpReq weight_req,
                            const TensorView* bias_grad, OpReq bias_req) {
  const FullyConnectedDims d = FullyConnectedShapes(p, data, weight, out_grad);
  if (p.no_bias) bias_req = OpReq::kNull;
  if (data_req != OpReq::kNull) {
    CheckSize(data_grad, d.rows * d.k, kOp, "data_grad");
    CheckSameDType(data, data_grad, kOp, "data", "data_grad");
  }
  if (weight_req != OpReq::kNull) {
    CheckSize(weight_grad, d.h * d.k, kOp, "weight_grad");
    CheckSameDType(data, weight_grad, kOp, "data", "weight_grad");
  }
  if (bias_req != OpReq::kNull) {
    LOOM_CHECK(bias_grad != nullptr, kOp, ": expected a bias_grad output");
    CheckSize(*bias_grad, d.h, kOp, "bias_grad");
    CheckSameDType(data, *bias_grad, kOp, "data", "bias_grad");
  }
  DispatchFloat(data.dtype, kOp, [&]<typename T>(Tag<T>) {
    const T* dy = out_grad.data<T>();
    if (data_req != OpReq::kNull) {
      Gemm<T>(false, false, d.rows, d.k, d.h, T(1), dy, d.h, weight.data<T>(), d.k,
              data_req == OpReq::kAddTo ? T(1) : T(0), data_grad.data<T>(), d.k);
    }
    if (weight_req != OpReq::kNull) {
      Gemm<T>(true, false, d.h, d.k, d.rows, T(1), dy, d.h, data.data<T>(), d.k,
              weight_req == OpReq::kAddTo ? T(1) : T(0), weight_grad.data<T>(), d.k);
    }
    if (bias_req != OpReq::kNull) {
      std::vector<T> sum(static_cast<size_t>(d.h), T(0));
      for (int64_t r = 0; r < d.rows; ++r) {
        const T* row = dy + r * d.h;
        T* s = sum.data();
        for (int64_t j = 0; j < d.h; ++j) s[j] += row[j];
      }
      StoreN(bias_req, bias_grad->data<T>(), sum.data(), d.h);
    }
  });
}

}  // namespace loom::cpu
