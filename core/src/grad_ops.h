// The operators the executor itself inserts into graphs, with their CPU kernels:
// `_grad_sum` (sum of n gradients), `_grad_zeros` (a known-zero gradient shaped like its input,
// which it never reads), `_grad_copy` (a gradient written to a second array) and
// `_CrossDeviceCopy` (placement's copies, run by the executor itself). Registered in
// grad_ops.cc, which every user of these accessors links.
#pragma once

#include "loom/core/operator.h"

namespace loom::detail {

const OpSchema& GradSumOp();
const OpSchema& GradZerosOp();
const OpSchema& GradCopyOp();
const OpSchema& CrossDeviceCopyOp();

}  // namespace loom::detail
