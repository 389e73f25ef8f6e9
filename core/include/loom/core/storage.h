// Device memory: pooled allocators, one per device, and the Storage handle that owns one block.
//
//   loom::Storage s = loom::Storage::Alloc(loom::Context::CPU(1), 4096);   // from cpu(1)'s pool
//   std::memset(s.data(), 0, s.size());
//   loom::Storage t = s;                  // shared ownership of the same block
//   s = {}; t = {};                       // last handle gone: the block goes back to the pool
//   loom::StorageStats st = loom::StoragePool::Get(loom::Context::CPU(1)).stats();
//   loom::StoragePool::Get(loom::Context::CPU(1)).Release();   // frees what the pool holds
//
// Each device (cpu(i), cpu_pinned(i), gpu(i)) has one pool, created on first use and kept for the
// life of the process. A pool rounds requests up to a size bucket and keeps freed blocks in one
// free list per bucket for reuse; Release() hands them back to the system. CPU blocks are 64-byte
// aligned. gpu(i) needs a CUDA build and a GPU (otherwise the errors say which is missing);
// cpu_pinned(i) is page-locked memory when a GPU is usable and ordinary pooled host memory
// otherwise. Freeing is immediate: callers that run asynchronous work on a block (NDArray) keep
// their handle until that work is done.
//
// GPU pools follow PoolPolicy::FromEnvironment(): LOOM_GPU_MEM_POOL=caching (default) keeps
// freed blocks as above, =none gives each block back at once (cudaFree; for debugging memory
// use); LOOM_GPU_MEM_POOL_RESERVE=P (percent, default 5) releases the pooled blocks before an
// allocation that would leave less than P% of the device's memory free to others (cuDNN, NCCL).
//
// Thread safety: StoragePool's member functions are thread-safe. A Storage handle may be copied
// and destroyed from any thread; one handle object must not be assigned from two threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "loom/scheduler/context.h"

namespace loom {

class StoragePool;

/// Shared ownership of one block of device memory, with its device and size. Empty by default.
class Storage {
 public:
  Storage() = default;

  /// A block of at least `bytes` bytes from ctx's pool (data() is nullptr when bytes is 0).
  /// @throws NotSupportedError for a GPU in a CPU-only build, loom::Error when the GPU is missing,
  ///         OutOfMemoryError (device, bytes requested, in use and pooled) when memory runs out.
  static Storage Alloc(Context ctx, size_t bytes);

  void* data() const { return chunk_ ? chunk_->ptr : nullptr; }
  /// The bytes asked for (the block itself may be larger: its size bucket).
  size_t size() const { return chunk_ ? chunk_->size : 0; }
  /// The device; cpu(0) for an empty handle.
  Context ctx() const { return chunk_ ? chunk_->ctx : Context::CPU(); }
  bool empty() const { return chunk_ == nullptr; }
  /// Handles sharing this block (0 for an empty handle).
  long use_count() const { return chunk_.use_count(); }

 private:
  friend class StoragePool;
  struct Chunk {
    void* ptr = nullptr;
    size_t size = 0;
    size_t bucket = 0;
    Context ctx;
    StoragePool* pool = nullptr;
    Chunk(void* p, size_t s, size_t b, Context c, StoragePool* owner)
        : ptr(p), size(s), bucket(b), ctx(c), pool(owner) {}
    ~Chunk();
    Chunk(const Chunk&) = delete;
    Chunk& operator=(const Chunk&) = delete;
  };
  explicit Storage(std::shared_ptr<const Chunk> chunk) : chunk_(std::move(chunk)) {}
  std::shared_ptr<const Chunk> chunk_;
};

/// What a pool holds. Bytes are counted in whole size buckets.
struct StorageStats {
  /// Bytes in blocks owned by live Storage handles.
  size_t bytes_in_use = 0;
  /// Bytes in free blocks kept for reuse.
  size_t bytes_pooled = 0;
  /// Alloc calls that returned a block (0-byte requests are not counted).
  uint64_t allocations = 0;
  /// Of those, the ones served from a free list instead of the system.
  uint64_t reuses = 0;
};

/// How a pool keeps freed blocks.
struct PoolPolicy {
  /// Keep freed blocks for reuse (false: give each back to the system at once).
  bool caching = true;
  /// Before taking new memory from the device, release the pooled blocks when the device would
  /// be left with less than this fraction of its memory free (0: never; needs DeviceTotalBytes).
  double reserve_fraction = 0.0;

  /// GPU pools' policy from LOOM_GPU_MEM_POOL ("caching" or "none") and
  /// LOOM_GPU_MEM_POOL_RESERVE (percent in [0, 100), default 5).
  /// @throws ConfigError naming the variable, its value and what is expected.
  static PoolPolicy FromEnvironment();
};

/// The memory pool of one device. Get one with StoragePool::Get; pools are never destroyed.
class StoragePool {
 public:
  /// ctx's pool, created on first use.
  /// @throws NotSupportedError for a GPU in a CPU-only build; loom::Error "no GPU available:
  ///         <reason>" when CUDA finds no GPU, or naming how many there are when the id is
  ///         too high.
  static StoragePool& Get(Context ctx);

  /// The size bucket a request of `bytes` is rounded up to: multiples of 64 up to 1 KiB, then
  /// four buckets per power of two (at most 25% over the request).
  static size_t BucketSize(size_t bytes);

  virtual ~StoragePool() = default;
  StoragePool(const StoragePool&) = delete;
  StoragePool& operator=(const StoragePool&) = delete;

  /// A block of at least `bytes` bytes; on failure, frees the pooled blocks and tries once more.
  /// @throws OutOfMemoryError naming the device, the bytes requested, in use and pooled.
  Storage Alloc(size_t bytes);
  StorageStats stats() const;
  /// Frees every pooled (unused) block; blocks in use are untouched.
  void Release();
  Context ctx() const { return ctx_; }
  const PoolPolicy& policy() const { return policy_; }

 protected:
  explicit StoragePool(Context ctx, PoolPolicy policy = {}) : ctx_(ctx), policy_(policy) {}

 private:
  friend struct Storage::Chunk;
  /// Returns a block to its free list.
  void Free(void* ptr, size_t bucket);
  /// Frees the pooled blocks; the caller holds mu_.
  void ReleaseLocked();
  /// A new block of exactly `bytes` (a bucket size) from the system; nullptr when out of memory.
  virtual void* RawAlloc(size_t bytes) = 0;
  virtual void RawFree(void* ptr) = 0;
  /// Free memory on the device, when the device can tell (for out-of-memory messages).
  virtual std::optional<size_t> DeviceFreeBytes() const { return std::nullopt; }
  /// The device's memory, when it can tell (for the reserve of PoolPolicy).
  virtual std::optional<size_t> DeviceTotalBytes() const { return std::nullopt; }
  /// Releases the pooled blocks when taking `bucket` bytes would break the policy's reserve.
  void KeepReserve(size_t bucket);

  const Context ctx_;
  const PoolPolicy policy_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_lists_;  // guarded by mu_
  StorageStats stats_;                                         // guarded by mu_
};

/// Usable GPUs: 0 in a CPU-only build or when the CUDA runtime finds none. Thread-safe.
int NumGpus();

}  // namespace loom
