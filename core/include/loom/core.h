// The core layer in one include: Context, Shape, DType, pooled storage, float16, NDArray, Symbol
// and Executor (docs/symbols.md and docs/executor.md have their examples).
//
//   #include "loom/core.h"
//
//   using loom::Context;
//   using loom::NDArray;
//   // Arrays live on a device; cpu(0) and cpu(1) are separate devices with their own workers.
//   NDArray x = NDArray::FromHost<float>({1, 2, 3, 4, 5, 6}, {2, 3});
//   NDArray w = NDArray::Full({2, 3}, 0.5, Context::CPU(1));
//   // Every operation is queued on the dependency engine and returns at once.
//   NDArray y = x.CopyTo(Context::CPU(1)) * w + 1;     // "_copyto", "_mul", "_plus_scalar"
//   y -= NDArray::Ones({2, 3}, Context::CPU(1));       // in place
//   NDArray top = y.Slice(0, 1);                       // a view of the first row
//   top *= 10;                                         // writes through to y
//   // Reading on the host waits for the work it depends on.
//   std::vector<float> v = y.ToVector<float>();         // {5, 10, 15, 2, 2.5, 3}
//   // Other element types, and their C++ types.
//   NDArray h = y.AsType(loom::DType::kFloat16);
//   loom::Half first = h.ToVector<loom::Half>()[0];     // 5
//   // Memory comes from per-device pools.
//   loom::StorageStats s = loom::StoragePool::Get(Context::CPU(1)).stats();
//
// tests/core/core_example_test.cc compiles and checks this example. Thread safety and ownership
// are described in each header.
#pragma once

#include "loom/core/dtype.h"
#include "loom/core/executor.h"
#include "loom/core/half.h"
#include "loom/core/ndarray.h"
#include "loom/core/shape.h"
#include "loom/core/storage.h"
#include "loom/core/symbol.h"
#include "loom/scheduler/context.h"
