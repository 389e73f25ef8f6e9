// Pooled storage: size buckets, reuse, statistics, alignment, thread safety and device errors.
// Each test uses its own cpu(i) so the pools' statistics are its own.
#include "loom/core/storage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loom/scheduler/error.h"

namespace loom {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

template <typename E, typename F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

TEST(Storage, BucketSizes) {
  EXPECT_EQ(StoragePool::BucketSize(0), 0u);
  EXPECT_EQ(StoragePool::BucketSize(1), 64u);
  EXPECT_EQ(StoragePool::BucketSize(64), 64u);
  EXPECT_EQ(StoragePool::BucketSize(65), 128u);
  EXPECT_EQ(StoragePool::BucketSize(1000), 1024u);
  EXPECT_EQ(StoragePool::BucketSize(1024), 1024u);
  EXPECT_EQ(StoragePool::BucketSize(1025), 1280u);
  EXPECT_EQ(StoragePool::BucketSize(2048), 2048u);
  EXPECT_EQ(StoragePool::BucketSize(2049), 2560u);
  EXPECT_EQ(StoragePool::BucketSize(5000), 5120u);
  EXPECT_EQ(StoragePool::BucketSize(size_t{3} << 30), size_t{3} << 30);
  for (size_t bytes = 1; bytes < (1u << 20); bytes = bytes * 9 / 8 + 1) {
    const size_t bucket = StoragePool::BucketSize(bytes);
    EXPECT_GE(bucket, bytes);
    EXPECT_EQ(bucket % 64, 0u) << bytes;
    if (bytes > 1024) {
      EXPECT_LE(bucket, bytes + bytes / 4) << bytes;
    }
  }
}

TEST(Storage, AllocationsAreAlignedAndWritable) {
  std::vector<Storage> blocks;
  for (size_t bytes : {1, 3, 63, 64, 100, 1000, 4097, 100000}) {
    Storage s = Storage::Alloc(Context::CPU(10), bytes);
    ASSERT_NE(s.data(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(s.data()) % 64, 0u) << bytes;
    EXPECT_EQ(s.size(), bytes);
    EXPECT_EQ(s.ctx(), Context::CPU(10));
    std::memset(s.data(), 0xab, bytes);
    blocks.push_back(std::move(s));
  }
}

TEST(Storage, FreedBlocksAreReusedAndCounted) {
  StoragePool& pool = StoragePool::Get(Context::CPU(11));
  const StorageStats before = pool.stats();
  void* first = nullptr;
  {
    Storage s = pool.Alloc(1000);
    first = s.data();
    const StorageStats st = pool.stats();
    EXPECT_EQ(st.bytes_in_use, before.bytes_in_use + 1024);
    EXPECT_EQ(st.allocations, before.allocations + 1);
    EXPECT_EQ(st.reuses, before.reuses);
  }
  StorageStats st = pool.stats();
  EXPECT_EQ(st.bytes_in_use, before.bytes_in_use);
  EXPECT_EQ(st.bytes_pooled, before.bytes_pooled + 1024);

  Storage again = pool.Alloc(990);  // same bucket: the same block comes back
  EXPECT_EQ(again.data(), first);
  st = pool.stats();
  EXPECT_EQ(st.reuses, before.reuses + 1);
  EXPECT_EQ(st.bytes_pooled, before.bytes_pooled);

  Storage other = pool.Alloc(5000);  // another bucket: a new block
  EXPECT_NE(other.data(), first);
  EXPECT_EQ(pool.stats().reuses, before.reuses + 1);

  again = {};
  other = {};
  EXPECT_EQ(pool.stats().bytes_pooled, before.bytes_pooled + 1024 + 5120);
  pool.Release();
  st = pool.stats();
  EXPECT_EQ(st.bytes_pooled, 0u);
  EXPECT_EQ(st.bytes_in_use, before.bytes_in_use);
}

TEST(Storage, SharedHandlesKeepTheBlockUntilTheLastGoes) {
  StoragePool& pool = StoragePool::Get(Context::CPU(12));
  const size_t in_use = pool.stats().bytes_in_use;
  Storage a = Storage::Alloc(Context::CPU(12), 256);
  Storage b = a;
  EXPECT_EQ(a.use_count(), 2);
  EXPECT_EQ(b.data(), a.data());
  a = {};
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(pool.stats().bytes_in_use, in_use + 256);
  b = {};
  EXPECT_EQ(pool.stats().bytes_in_use, in_use);
}

TEST(Storage, ZeroBytesHaveNoMemory) {
  StoragePool& pool = StoragePool::Get(Context::CPU(13));
  const StorageStats before = pool.stats();
  Storage s = pool.Alloc(0);
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.data(), nullptr);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.ctx(), Context::CPU(13));
  EXPECT_EQ(pool.stats().allocations, before.allocations);
}

TEST(Storage, ConcurrentAllocAndFreeKeepBlocksPrivate) {
  StoragePool& pool = StoragePool::Get(Context::CPU(14));
  const size_t in_use = pool.stats().bytes_in_use;
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, &failures, t] {
      for (int i = 0; i < 2000; ++i) {
        const size_t bytes = 64 + static_cast<size_t>((i * 37 + t) % 3000);
        Storage s = pool.Alloc(bytes);
        auto* p = static_cast<unsigned char*>(s.data());
        std::memset(p, t + 1, bytes);
        for (size_t k = 0; k < bytes; k += 61) failures[t] += p[k] != t + 1;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
  const StorageStats st = pool.stats();
  EXPECT_EQ(st.bytes_in_use, in_use);
  EXPECT_GT(st.reuses, 0u);
}

TEST(Storage, OutOfMemoryNamesDeviceAndBytes) {
  const std::string msg =
      ErrorOf<OutOfMemoryError>([] { Storage::Alloc(Context::CPU(15), size_t{1} << 61); });
  EXPECT_THAT(msg, HasSubstr("cpu(15)"));
  EXPECT_THAT(msg, HasSubstr(std::to_string(size_t{1} << 61)));
}

// A CPU pool whose system allocator fails on demand.
class FlakyPool final : public StoragePool {
 public:
  FlakyPool() : StoragePool(Context::CPU(99)) {}
  int failures_left = 0;
  int raw_allocs = 0;

 private:
  void* RawAlloc(size_t bytes) override {
    ++raw_allocs;
    if (failures_left > 0) {
      --failures_left;
      return nullptr;
    }
    return std::aligned_alloc(64, bytes);
  }
  void RawFree(void* ptr) override { std::free(ptr); }
};

TEST(Storage, FailedAllocationReleasesThePoolAndRetries) {
  FlakyPool pool;
  pool.Alloc(1000);  // freed at once: 1024 bytes pooled
  EXPECT_EQ(pool.stats().bytes_pooled, 1024u);
  pool.failures_left = 1;
  Storage s = pool.Alloc(5000);
  EXPECT_NE(s.data(), nullptr);
  EXPECT_EQ(pool.raw_allocs, 3);
  EXPECT_EQ(pool.stats().bytes_pooled, 0u) << "the retry should come after a release";
  EXPECT_EQ(pool.stats().bytes_in_use, 5120u);
}

TEST(Storage, OutOfMemoryIsARecoverableErrorWithNumbers) {
  FlakyPool pool;
  Storage held = pool.Alloc(100);
  pool.failures_left = 2;
  const std::string msg = ErrorOf<OutOfMemoryError>([&] { pool.Alloc(1000); });
  EXPECT_THAT(msg, HasSubstr("out of memory on cpu(99): requested 1000 bytes (bucket 1024); in "
                             "use 128 bytes; pooled blocks were released"));
  Storage after = pool.Alloc(1000);  // the pool still works
  EXPECT_NE(after.data(), nullptr);
}

TEST(Storage, NegativeDeviceIdIsAnError) {
  EXPECT_THAT(ErrorOf<Error>([] { StoragePool::Get(Context::CPU(-1)); }),
              HasSubstr("expected a device id >= 0 but got cpu(-1)"));
}

TEST(Storage, PinnedMemoryIsHostMemory) {
  Storage s = Storage::Alloc(Context::CPUPinned(0), 128);
  ASSERT_NE(s.data(), nullptr);
  std::memset(s.data(), 1, 128);
  EXPECT_EQ(s.ctx(), Context::CPUPinned(0));
}

TEST(Storage, GpuWithoutGpuIsAClearError) {
  if (NumGpus() > 0) GTEST_SKIP() << "a GPU is present; GpuAllocation covers it";
  const std::string msg = ErrorOf<Error>([] { Storage::Alloc(Context::GPU(0), 16); });
  EXPECT_THAT(msg, HasSubstr("gpu(0)"));
  EXPECT_THAT(msg, AnyOf(HasSubstr("built without CUDA"), HasSubstr("no GPU available")));
}

TEST(Storage, GpuAllocation) {
  if (NumGpus() == 0) GTEST_SKIP() << "no GPU on this machine";
  StoragePool& pool = StoragePool::Get(Context::GPU(0));
  const StorageStats before = pool.stats();
  {
    Storage s = pool.Alloc(1 << 20);
    EXPECT_NE(s.data(), nullptr);
    EXPECT_EQ(pool.stats().bytes_in_use, before.bytes_in_use + (1 << 20));
  }
  EXPECT_EQ(pool.stats().bytes_pooled, before.bytes_pooled + (1 << 20));
  pool.Release();
  EXPECT_EQ(pool.stats().bytes_pooled, 0u);
  const std::string msg = ErrorOf<Error>([] { StoragePool::Get(Context::GPU(NumGpus())); });
  EXPECT_THAT(msg, HasSubstr("GPU(s) available"));
}


// A pool over a pretend device of 1000 KiB whose free memory is what the pool has not taken.
class PretendDevicePool final : public StoragePool {
 public:
  explicit PretendDevicePool(PoolPolicy policy) : StoragePool(Context::CPU(98), policy) {}
  size_t taken = 0;
  int raw_frees = 0;

 private:
  static constexpr size_t kTotal = 1000 * 1024;
  void* RawAlloc(size_t bytes) override {
    if (taken + bytes > kTotal) return nullptr;
    taken += bytes;
    sizes_[ptr_counter_] = bytes;
    return reinterpret_cast<void*>(ptr_counter_++ * 4096);
  }
  void RawFree(void* ptr) override {
    ++raw_frees;
    taken -= sizes_.at(reinterpret_cast<uintptr_t>(ptr) / 4096);
  }
  std::optional<size_t> DeviceFreeBytes() const override { return kTotal - taken; }
  std::optional<size_t> DeviceTotalBytes() const override { return kTotal; }
  uintptr_t ptr_counter_ = 1;
  std::map<uintptr_t, size_t> sizes_;
};

TEST(Storage, PolicyNoneGivesBlocksBackAtOnce) {
  PretendDevicePool pool(PoolPolicy{.caching = false});
  { Storage s = pool.Alloc(100 * 1024); }
  EXPECT_EQ(pool.raw_frees, 1);
  EXPECT_EQ(pool.taken, 0u);
  EXPECT_EQ(pool.stats().bytes_pooled, 0u);
}

TEST(Storage, ReserveReleasesCachedBlocksBeforeEatingIntoIt) {
  PretendDevicePool pool(PoolPolicy{.caching = true, .reserve_fraction = 0.5});
  { Storage s = pool.Alloc(320 * 1024); }  // cached: 320 KiB of 1000 taken
  EXPECT_EQ(pool.stats().bytes_pooled, 320u * 1024);
  Storage small = pool.Alloc(64 * 1024);  // 616 KiB would stay free: the cache is kept
  EXPECT_EQ(pool.stats().bytes_pooled, 320u * 1024);
  Storage big = pool.Alloc(256 * 1024);  // 360 KiB would stay free, below 500: release first
  EXPECT_EQ(pool.stats().bytes_pooled, 0u);
  EXPECT_EQ(pool.taken, (64u + 256u) * 1024);
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

TEST(Storage, PoolPolicyFromEnvironment) {
  PoolPolicy defaults = PoolPolicy::FromEnvironment();
  EXPECT_TRUE(defaults.caching);
  EXPECT_DOUBLE_EQ(defaults.reserve_fraction, 0.05);
  {
    ScopedEnv type("LOOM_GPU_MEM_POOL", "none");
    ScopedEnv reserve("LOOM_GPU_MEM_POOL_RESERVE", "12.5");
    PoolPolicy p = PoolPolicy::FromEnvironment();
    EXPECT_FALSE(p.caching);
    EXPECT_DOUBLE_EQ(p.reserve_fraction, 0.125);
  }
  {
    ScopedEnv type("LOOM_GPU_MEM_POOL", "round");
    EXPECT_THAT(ErrorOf<ConfigError>([] { PoolPolicy::FromEnvironment(); }),
                HasSubstr("LOOM_GPU_MEM_POOL='round': expected 'caching'"));
  }
  for (const char* bad : {"-1", "100", "5%", "lots"}) {
    ScopedEnv reserve("LOOM_GPU_MEM_POOL_RESERVE", bad);
    EXPECT_THAT(ErrorOf<ConfigError>([] { PoolPolicy::FromEnvironment(); }),
                HasSubstr(std::string("LOOM_GPU_MEM_POOL_RESERVE='") + bad +
                          "': expected a percentage"));
  }
}

TEST(Storage, GpuOutOfMemoryNamesDeviceRequestAndFree) {
  if (NumGpus() == 0) GTEST_SKIP() << "no GPU on this machine";
  const size_t huge = size_t{1} << 50;  // 1 PiB
  const std::string msg = ErrorOf<OutOfMemoryError>([&] { Storage::Alloc(Context::GPU(0), huge); });
  EXPECT_THAT(msg, HasSubstr("out of memory on gpu(0): requested " + std::to_string(huge)));
  EXPECT_THAT(msg, HasSubstr("free on the device"));
  Storage after = Storage::Alloc(Context::GPU(0), 1 << 20);  // the device still works
  EXPECT_NE(after.data(), nullptr);
}

}  // namespace
}  // namespace loom
