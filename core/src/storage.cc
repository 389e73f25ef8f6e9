#include "loom/core/storage.h"

#include <bit>
#include <cstdlib>
#include <new>
#include <string>

#include "gpu_memory.h"
#include "loom/scheduler/env.h"
#include "loom/scheduler/error.h"

namespace loom {

namespace {

// Every CPU block is aligned for AVX-512 loads and to a cache line.
constexpr size_t kCpuAlignment = 64;
// Requests above this are refused before rounding could overflow.
constexpr size_t kMaxRequest = size_t{1} << 60;

class CpuPool final : public StoragePool {
 public:
  explicit CpuPool(Context ctx) : StoragePool(ctx) {}

 private:
  // Bucket sizes are multiples of 64, as aligned_alloc requires.
  void* RawAlloc(size_t bytes) override { return std::aligned_alloc(kCpuAlignment, bytes); }
  void RawFree(void* ptr) override { std::free(ptr); }
};

}  // namespace

Storage::Chunk::~Chunk() {
  if (bucket != 0) pool->Free(ptr, bucket);
}

PoolPolicy PoolPolicy::FromEnvironment() {
  PoolPolicy policy;
  const std::string type = env::GetString(env::kGpuMemPool, "caching");
  LOOM_CHECK_TYPED(ConfigError, type == "caching" || type == "none", env::kGpuMemPool, "='", type,
                   "': expected 'caching' (keep freed blocks for reuse) or 'none' (free at once)");
  policy.caching = type == "caching";
  const std::string reserve = env::GetString(env::kGpuMemPoolReserve, "5");
  double percent = -1;
  size_t used = 0;
  try {
    percent = std::stod(reserve, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  LOOM_CHECK_TYPED(ConfigError, used == reserve.size() && percent >= 0 && percent < 100,
                   env::kGpuMemPoolReserve, "='", reserve,
                   "': expected a percentage of the GPU's memory in [0, 100)");
  policy.reserve_fraction = percent / 100;
  return policy;
}

Storage Storage::Alloc(Context ctx, size_t bytes) { return StoragePool::Get(ctx).Alloc(bytes); }

size_t StoragePool::BucketSize(size_t bytes) {
  if (bytes == 0) return 0;
  if (bytes <= 1024) return (bytes + 63) / 64 * 64;
  // Four buckets per power of two: 2^k * {1.25, 1.5, 1.75, 2} for 2^k < bytes <= 2^(k+1).
  const size_t power = std::bit_floor(bytes - 1);
  const size_t step = power / 4;
  return (bytes + step - 1) / step * step;
}

StoragePool& StoragePool::Get(Context ctx) {
  LOOM_CHECK(ctx.id >= 0, "expected a device id >= 0 but got ", ctx.ToString());
  // Pools live as long as the process: blocks may be freed during static destruction.
  static std::mutex* const mu = new std::mutex;
  static auto* const pools = new std::unordered_map<Context, std::unique_ptr<StoragePool>>;
  std::lock_guard lock(*mu);
  auto it = pools->find(ctx);
  if (it != pools->end()) return *it->second;
  std::unique_ptr<StoragePool> pool;
  switch (ctx.type) {
    case DeviceType::kCPU:
      pool = std::make_unique<CpuPool>(ctx);
      break;
    case DeviceType::kCPUPinned:
      // Without a usable GPU there is nothing to pin for: plain host memory does the same job.
      if (detail::GpuMemory().DeviceCount() > 0) {
        pool = detail::GpuMemory().NewPinnedPool(ctx.id);
      } else {
        pool = std::make_unique<CpuPool>(ctx);
      }
      break;
    case DeviceType::kGPU:
      pool = detail::GpuMemory().NewDevicePool(ctx.id);
      break;
    case DeviceType::kCount:
      LOOM_INTERNAL_ASSERT(false, "bad device type in ", ctx.ToString());
  }
  return *pools->emplace(ctx, std::move(pool)).first->second;
}

Storage StoragePool::Alloc(size_t bytes) {
  if (bytes == 0) return Storage(std::make_shared<const Storage::Chunk>(nullptr, 0, 0, ctx_, this));
  LOOM_CHECK_TYPED(OutOfMemoryError, bytes <= kMaxRequest, "cannot allocate ", bytes, " bytes on ",
                   ctx_.ToString(), ": the request is larger than any device");
  const size_t bucket = BucketSize(bytes);
  void* ptr = nullptr;
  bool reused = false;
  {
    std::lock_guard lock(mu_);
    auto it = free_lists_.find(bucket);
    if (it != free_lists_.end() && !it->second.empty()) {
      ptr = it->second.back();
      it->second.pop_back();
      stats_.bytes_pooled -= bucket;
      reused = true;
    }
  }
  if (ptr == nullptr) {
    KeepReserve(bucket);
    ptr = RawAlloc(bucket);
    if (ptr == nullptr) {
      // Free blocks of other sizes may be what stands in the way.
      std::lock_guard lock(mu_);
      ReleaseLocked();
    }
    if (ptr == nullptr) ptr = RawAlloc(bucket);
    if (ptr == nullptr) {
      const StorageStats now = stats();
      const std::optional<size_t> free_bytes = DeviceFreeBytes();
      throw OutOfMemoryError(detail::StrCat(
          "out of memory on ", ctx_.ToString(), ": requested ", bytes, " bytes (bucket ", bucket,
          "); in use ", now.bytes_in_use, " bytes; pooled blocks were released",
          free_bytes ? detail::StrCat("; free on the device ", *free_bytes, " bytes") : ""));
    }
  }
  {
    std::lock_guard lock(mu_);
    stats_.bytes_in_use += bucket;
    ++stats_.allocations;
    if (reused) ++stats_.reuses;
  }
  try {
    return Storage(std::make_shared<const Storage::Chunk>(ptr, bytes, bucket, ctx_, this));
  } catch (...) {
    Free(ptr, bucket);
    throw;
  }
}

void StoragePool::KeepReserve(size_t bucket) {
  if (policy_.reserve_fraction <= 0) return;
  const std::optional<size_t> total = DeviceTotalBytes();
  const std::optional<size_t> free_bytes = DeviceFreeBytes();
  if (!total || !free_bytes) return;
  const double reserve = policy_.reserve_fraction * static_cast<double>(*total);
  if (static_cast<double>(*free_bytes) - static_cast<double>(bucket) < reserve) {
    std::lock_guard lock(mu_);
    ReleaseLocked();
  }
}

void StoragePool::Free(void* ptr, size_t bucket) {
  std::lock_guard lock(mu_);
  stats_.bytes_in_use -= bucket;
  if (!policy_.caching) {
    RawFree(ptr);
    return;
  }
  try {
    free_lists_[bucket].push_back(ptr);
  } catch (const std::bad_alloc&) {
    // Called from destructors: when even the free list cannot grow, give the block back.
    RawFree(ptr);
    return;
  }
  stats_.bytes_pooled += bucket;
}

StorageStats StoragePool::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void StoragePool::Release() {
  std::lock_guard lock(mu_);
  ReleaseLocked();
}

void StoragePool::ReleaseLocked() {
  for (auto& [bucket, blocks] : free_lists_) {
    for (void* ptr : blocks) RawFree(ptr);
    stats_.bytes_pooled -= bucket * blocks.size();
  }
  free_lists_.clear();
}

int NumGpus() { return detail::GpuMemory().DeviceCount(); }

}  // namespace loom
