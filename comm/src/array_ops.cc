#include "array_ops.h"

#include <algorithm>
#include <cstring>

#include "loom/scheduler/error.h"

namespace loom::comm::detail {
namespace {

// Elements per block: the partial sums of a block stay in cache while every source is added.
constexpr size_t kSumBlock = 4096;

template <typename T>
void SumHost(const std::vector<const T*>& srcs, T* out, size_t n) {
  for (size_t begin = 0; begin < n; begin += kSumBlock) {
    const size_t end = std::min(n, begin + kSumBlock);
    const T* a = srcs[0];
    if (srcs.size() == 1) {
      if (out != a) std::memcpy(out + begin, a + begin, (end - begin) * sizeof(T));
      continue;
    }
    const T* b = srcs[1];
    for (size_t i = begin; i < end; ++i) out[i] = a[i] + b[i];
    for (size_t k = 2; k < srcs.size(); ++k) {
      const T* c = srcs[k];
      for (size_t i = begin; i < end; ++i) out[i] += c[i];
    }
  }
}

std::vector<VarHandle> Vars(const std::vector<NDArray>& arrays) {
  std::vector<VarHandle> vars;
  vars.reserve(arrays.size());
  for (const NDArray& a : arrays) vars.push_back(a.var());
  return vars;
}

}  // namespace

void PushSum(const std::vector<NDArray>& srcs, const NDArray& dst, int priority) {
  LOOM_INTERNAL_ASSERT(!srcs.empty());
  const Context ctx = dst.ctx();
  std::vector<NDArray> local;
  local.reserve(srcs.size());
  for (const NDArray& s : srcs) local.push_back(s.ctx() == ctx ? s : s.CopyTo(ctx));
  const DType dtype = dst.dtype();
  const size_t n = static_cast<size_t>(dst.size());
  std::vector<VarHandle> reads = Vars(local);
  if (ctx.is_host()) {
    Engine::Get().Push(
        [local, dst, dtype, n](RunContext) {
          if (dtype == DType::kFloat64) {
            std::vector<const double*> p;
            for (const NDArray& a : local) p.push_back(static_cast<const double*>(a.data()));
            SumHost(p, static_cast<double*>(dst.data()), n);
          } else {
            std::vector<const float*> p;
            for (const NDArray& a : local) p.push_back(static_cast<const float*>(a.data()));
            SumHost(p, static_cast<float*>(dst.data()), n);
          }
        },
        ctx, reads, std::vector<VarHandle>{dst.var()}, priority, "kvstore_reduce");
    return;
  }
  Engine::Get().Push(
      [local, dst, dtype, n](RunContext rc) {
        std::vector<const void*> p;
        for (const NDArray& a : local) p.push_back(a.data());
        GpuSum(dtype, p.data(), static_cast<int>(p.size()), dst.data(), n, rc.stream);
      },
      ctx, reads, std::vector<VarHandle>{dst.var()}, priority, "kvstore_reduce");
}

void PushCopy(const NDArray& src, const NDArray& dst, int priority) {
  if (src.data() == dst.data() && src.ctx() == dst.ctx()) return;
  if (!src.ctx().is_host() || !dst.ctx().is_host()) {
    NDArray target = dst;  // a handle: the copy lands in dst's memory
    target.CopyFrom(src);
    return;
  }
  LOOM_INTERNAL_ASSERT(src.nbytes() == dst.nbytes());
  const size_t bytes = src.nbytes();
  Engine::Get().Push(
      [src, dst, bytes](RunContext) {
        if (bytes > 0) std::memmove(dst.data(), src.data(), bytes);
      },
      dst.ctx(), {src.var()}, {dst.var()}, priority, "kvstore_copy");
}

void PushPack(const std::vector<NDArray>& srcs, const std::vector<size_t>& offsets,
              const NDArray& dst, int priority) {
  const size_t elem = DTypeSize(dst.dtype());
  if (!dst.ctx().is_host()) {
    for (size_t i = 0; i < srcs.size(); ++i) {
      NDArray part = dst.View(srcs[i].shape(), dst.dtype(), dst.byte_offset() + offsets[i] * elem);
      PushCopy(srcs[i], part, priority);
    }
    return;
  }
  Engine::Get().Push(
      [srcs, offsets, dst, elem](RunContext) {
        char* base = static_cast<char*>(dst.data());
        for (size_t i = 0; i < srcs.size(); ++i) {
          std::memcpy(base + offsets[i] * elem, srcs[i].data(), srcs[i].nbytes());
        }
      },
      dst.ctx(), Vars(srcs), std::vector<VarHandle>{dst.var()}, priority, "bucket_pack");
}

void PushUnpack(const NDArray& src, const std::vector<size_t>& offsets,
                const std::vector<NDArray>& dsts, int priority) {
  const size_t elem = DTypeSize(src.dtype());
  if (!src.ctx().is_host()) {
    for (size_t i = 0; i < dsts.size(); ++i) {
      NDArray part = src.View(dsts[i].shape(), src.dtype(), src.byte_offset() + offsets[i] * elem);
      PushCopy(part, dsts[i], priority);
    }
    return;
  }
  Engine::Get().Push(
      [src, offsets, dsts, elem](RunContext) {
        const char* base = static_cast<const char*>(src.data());
        for (size_t i = 0; i < dsts.size(); ++i) {
          std::memcpy(dsts[i].data(), base + offsets[i] * elem, dsts[i].nbytes());
        }
      },
      src.ctx(), std::vector<VarHandle>{src.var()}, Vars(dsts), priority, "bucket_unpack");
}

}  // namespace loom::comm::detail
