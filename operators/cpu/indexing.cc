#include "operators/cpu/indexing.h"

#include <vector>

#include "operators/cpu/common.h"
#include "operators/cpu/parallel.h"

namespace loom::cpu {
namespace {

// The indices as row numbers, each checked against [0, limit).
std::vector<int64_t> ReadIndices(const TensorView& indices, int64_t limit, std::string_view op,
                                 std::string_view limit_name) {
  std::vector<int64_t> rows(static_cast<size_t>(indices.size()));
  for (int64_t i = 0; i < indices.size(); ++i) {
    const double v = ReadAsDouble(indices, i);
    LOOM_CHECK(v >= 0 && v < static_cast<double>(limit), op, ": index ", v, " at position ", i,
               " is outside [0, ", limit, ") (", limit_name, "=", limit, ")");
    rows[i] = static_cast<int64_t>(v);
  }
  return rows;
}

}  // namespace

void EmbeddingForward(const TensorView& indices, const TensorView& weight, const TensorView& out,
                      OpReq req) {
  if (req == OpReq::kNull) return;
  LOOM_CHECK_TYPED(ShapeError, weight.shape.ndim() == 2, "Embedding: expected weight ",
                   "(input_dim, output_dim) but got ", weight.shape.ToString());
  const int64_t dim = weight.shape[1];
  CheckSize(out, indices.size() * dim, "Embedding", "out");
  CheckSameDType(weight, out, "Embedding", "weight", "out");
  const std::vector<int64_t> rows = ReadIndices(indices, weight.shape[0], "Embedding", "input_dim");
  DispatchFloatHalf(weight.dtype, "Embedding", [&]<typename T>(Tag<T>) {
    const T* w = weight.data<T>();
    T* y = out.data<T>();
    ParallelFor(static_cast<int64_t>(rows.size()),
                std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1)), [&](int64_t b, int64_t e) {
                  for (int64_t i = b; i < e; ++i) StoreN(req, y + i * dim, w + rows[i] * dim, dim);
                });
  });
}

void EmbeddingBackward(const TensorView& out_grad, const TensorView& indices,
                       const TensorView& weight_grad, OpReq req) {
  if (req == OpReq::kNull) return;
  LOOM_CHECK_TYPED(ShapeError, weight_grad.shape.ndim() == 2, "Embedding: expected weight_grad ",
                   "(input_dim, output_dim) but got ", weight_grad.shape.ToString());
  const int64_t dim = weight_grad.shape[1];
  CheckSize(out_grad, indices.size() * dim, "Embedding", "out_grad");
  CheckSameDType(weight_grad, out_grad, "Embedding", "weight_grad", "out_grad");
  const std::vector<int64_t> rows =
      ReadIndices(indices, weight_grad.shape[0], "Embedding", "input_dim");
  DispatchFloatHalf(weight_grad.dtype, "Embedding", [&]<typename T>(Tag<T>) {
    T* dw = weight_grad.data<T>();
    const T* dy = out_grad.data<T>();
    ZeroIfWrite(req, dw, weight_grad.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      T* row = dw + rows[i] * dim;
      const T* g = dy + static_cast<int64_t>(i) * dim;
      for (int64_t j = 0; j < dim; ++j) row[j] = static_cast<T>(AccT<T>(row[j]) + AccT<T>(g[j]));
    }
  });
}

void OneHot(const TensorView& indices, int64_t depth, double on_value, double off_value,
            const TensorView& out, OpReq req) {
  if (req == OpReq::kNull) return;
  LOOM_CHECK(depth >= 1, "one_hot: expected depth >= 1 but got ", depth);
  CheckSize(out, indices.size() * depth, "one_hot", "out");
  const std::vector<int64_t> hot = ReadIndices(indices, depth, "one_hot", "depth");
  DispatchAll(out.dtype, "one_hot", [&]<typename T>(Tag<T>) {
    using A = AccT<T>;
    T* y = out.data<T>();
    const A on = static_cast<A>(on_value), off = static_cast<A>(off_value);
    for (size_t i = 0; i < hot.size(); ++i) {
      T* row = y + static_cast<int64_t>(i) * depth;
      for (int64_t j = 0; j < depth; ++j) {
        const A v = j == hot[i] ? on : off;
        row[j] = static_cast<T>(req == OpReq::kAddTo ? A(row[j]) + v : v);
      }
    }
  });
}

}  // namespace loom::cpu
