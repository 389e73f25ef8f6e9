#include "operators/cpu/walk.h"

#include "loom/scheduler/error.h"

namespace loom::cpu {

Walk::Walk(const Shape& full, std::initializer_list<const Shape*> operands, const char* op) {
  LOOM_INTERNAL_ASSERT(operands.size() <= kMaxOperands);
  num_operands_ = static_cast<int>(operands.size());
  const int nd = full.ndim();
  // Per-axis strides of each operand over full's axes (0 where the operand repeats).
  std::vector<std::vector<int64_t>> strides(num_operands_, std::vector<int64_t>(nd, 0));
  int o = 0;
  for (const Shape* s : operands) {
    LOOM_CHECK_TYPED(ShapeError, s->ndim() <= nd, op, ": cannot broadcast shape ", s->ToString(),
                     " to ", full.ToString());
    int64_t stride = 1;
    for (int d = nd - 1; d >= 0; --d) {
      const int sd = d - (nd - s->ndim());
      const int64_t size = sd >= 0 ? (*s)[sd] : 1;
      LOOM_CHECK_TYPED(ShapeError, size == full[d] || size == 1, op, ": cannot broadcast shape ",
                       s->ToString(), " to ", full.ToString());
      strides[o][d] = size == 1 ? 0 : stride;
      stride *= size;
    }
    ++o;
  }
  // Merge axis d into the previous kept axis when every operand is contiguous across both.
  for (int d = 0; d < nd; ++d) {
    if (full[d] == 1) continue;  // size-1 axes change nothing
    bool merge = !dims_.empty();
    for (int op_i = 0; merge && op_i < num_operands_; ++op_i) {
      merge = strides_[op_i].back() == strides[op_i][d] * full[d];
    }
    if (merge) {
      dims_.back() *= full[d];
      for (int op_i = 0; op_i < num_operands_; ++op_i) strides_[op_i].back() = strides[op_i][d];
    } else {
      dims_.push_back(full[d]);
      for (int op_i = 0; op_i < num_operands_; ++op_i) strides_[op_i].push_back(strides[op_i][d]);
    }
  }
  for (size_t d = 0; d + 1 < dims_.size(); ++d) rows_ *= dims_[d];
  if (full.Size() == 0) rows_ = 0;
}

}  // namespace loom::cpu
