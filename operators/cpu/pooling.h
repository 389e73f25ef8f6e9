// Pooling CPU kernels (max, avg, sum; 1-D to 3-D; global; MXNet's valid/full/same output sizes).
//
//   PoolingParams p{.type = PoolType::kMax, .kernel = {2, 2}, .stride = {2, 2}};
//   PoolingForward(p, data, out, OpReq::kWriteTo);          // data (N, C, H, W)
//   PoolingBackward(p, out_grad, data, data_grad, OpReq::kWriteTo);
//
// The output's spatial size comes from out's shape (PoolingOutputSize computes it); a window
// starts at o * stride - pad and is clipped to the input. avg divides by the window size counted
// up to the padded border (count_include_pad, MXNet's default) or by the clipped count. Max
// pooling's gradient goes to the first maximum in the window (row-major order). Channel-first
// layouts; float32 and float64. Thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "loom/core/kernel.h"

namespace loom::cpu {

enum class PoolType : uint8_t { kMax, kAvg, kSum };
enum class PoolingConvention : uint8_t { kValid, kFull, kSame };

struct PoolingParams {
  PoolType type = PoolType::kMax;
  std::vector<int64_t> kernel;  ///< 1 to 3 sizes; ignored with global_pool
  std::vector<int64_t> stride;  ///< empty: all 1
  std::vector<int64_t> pad;     ///< empty: all 0
  bool global_pool = false;     ///< one window over all of each channel
  bool count_include_pad = true;
};

/// MXNet's output length: valid 1 + (in + 2p - k) / s, full 1 + ceil((in + 2p - k) / s),
/// same ceil((in + 2p) / s).
int64_t PoolingOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                          PoolingConvention convention);

/// Spatial axes padded to three (leading neutral axes), and the plane count N * C. Shared with
/// the GPU kernels (operators/cuda/pooling_gpu.cc).
struct PoolingGeometry {
  int64_t planes = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1},
          pad[3] = {0, 0, 0};
  int64_t InSize() const { return in[0] * in[1] * in[2]; }
  int64_t OutSize() const { return out[0] * out[1] * out[2]; }
};
/// The windows of p (type and count_include_pad aside) from data (N, C, spatial...) to out,
/// checked (ShapeError naming Pooling).
PoolingGeometry PoolingShapes(const PoolingParams& p, const Shape& data, const Shape& out);

void PoolingForward(const PoolingParams& p, const TensorView& data, const TensorView& out,
                    OpReq req);
void PoolingBackward(const PoolingParams& p, const TensorView& out_grad, const TensorView& data,
                     const TensorView& data_grad, OpReq req);

}  // namespace loom::cpu
