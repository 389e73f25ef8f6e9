// Walks a contiguous "full" shape together with operands broadcast to it (numpy rules: shapes
// aligned on the right, an operand axis of size 1 repeats). Adjacent axes that every operand
// treats alike are merged first, so the walk visits long contiguous rows.
//
//   Walk walk(out_shape, {&a_shape, &b_shape});
//   walk.ForRows(0, walk.rows(), [&](int64_t out_offset, const int64_t* offsets,
//                                    const int64_t* inner_strides) {
//     for (int64_t i = 0; i < walk.inner(); ++i)
//       y[out_offset + i] = a[offsets[0] + i * inner_strides[0]] + b[offsets[1] + i *
//       inner_strides[1]];
//   });
//
// Internal to the CPU kernels. Value type; ForRows is const and thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "loom/core/shape.h"

namespace loom::cpu {

class Walk {
 public:
  static constexpr int kMaxOperands = 3;

  /// Throws ShapeError (naming `op`) when an operand does not broadcast to full.
  Walk(const Shape& full, std::initializer_list<const Shape*> operands,
       const char* op = "broadcast");

  /// Number of rows (every merged axis but the last) and the length of one row.
  int64_t rows() const { return rows_; }
  int64_t inner() const { return dims_.empty() ? 1 : dims_.back(); }
  int num_operands() const { return num_operands_; }
  /// Merged axes of full, and each operand's stride along them (0 where it repeats).
  const std::vector<int64_t>& dims() const { return dims_; }
  const std::vector<int64_t>& strides(int operand) const { return strides_[operand]; }

  /// Calls f(full_offset, operand_offsets, operand_inner_strides) for rows [begin, end).
  template <typename F>
  void ForRows(int64_t begin, int64_t end, F&& f) const {
    if (begin >= end) return;
    const int outer = static_cast<int>(dims_.size()) - 1;
    std::vector<int64_t> index(std::max(outer, 0), 0);
    int64_t offsets[kMaxOperands] = {0, 0, 0};
    int64_t inner_strides[kMaxOperands] = {0, 0, 0};
    for (int o = 0; o < num_operands_; ++o)
      inner_strides[o] = dims_.empty() ? 0 : strides_[o].back();
    // Position the odometer at row `begin`.
    int64_t rest = begin;
    for (int d = outer - 1; d >= 0; --d) {
      index[d] = rest % dims_[d];
      rest /= dims_[d];
      for (int o = 0; o < num_operands_; ++o) offsets[o] += index[d] * strides_[o][d];
    }
    const int64_t len = inner();
    for (int64_t row = begin; row < end; ++row) {
      f(row * len, static_cast<const int64_t*>(offsets),
        static_cast<const int64_t*>(inner_strides));
      for (int d = outer - 1; d >= 0; --d) {
        ++index[d];
        for (int o = 0; o < num_operands_; ++o) offsets[o] += strides_[o][d];
        if (index[d] < dims_[d]) break;
        for (int o = 0; o < num_operands_; ++o) offsets[o] -= dims_[d] * strides_[o][d];
        index[d] = 0;
      }
    }
  }

 private:
  std::vector<int64_t> dims_;
  std::vector<int64_t> strides_[kMaxOperands];
  int num_operands_ = 0;
  int64_t rows_ = 1;
};

}  // namespace loom::cpu
