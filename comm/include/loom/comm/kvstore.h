// KVStore: MXNet's key-value store for data-parallel training. Values pushed to a key are summed
// over the devices of this process and then over the processes of the job; the sum either
// replaces the stored value or goes through an updater once; pulls copy the stored value out.
//
//   auto kv = loom::comm::KVStore::Create("dist_sync");        // or local, device, nccl, ...
//   kv->Init(3, loom::NDArray::Zeros({4, 4}));                 // dist: rank 0's value wins
//   std::vector<loom::NDArray> grads = {loom::NDArray::Ones({4, 4}, loom::Context::CPU(0)),
//                                       loom::NDArray::Ones({4, 4}, loom::Context::CPU(1))};
//   kv->Push(3, grads);                                        // sum: 2 * num_workers()
//   loom::NDArray out = loom::NDArray::Empty({4, 4});
//   kv->Pull(3, out);                                          // out == 2 * num_workers()
//   kv->SetUpdater([](const loom::comm::Key& key, const loom::NDArray& recv,
//                     loom::NDArray& stored) { stored += recv; });   // e.g. an optimizer step
//   kv->PushPull(3, grads, {out});                  // stored += 2 * workers: out == 4 * workers
//
// Types (the name is lowercased; `type()` returns it, MXNet's substring rules):
//   local (also local_allreduce_cpu, local_update_cpu, ...): sums on cpu(0), one process.
//   device (local_allreduce_device): sums on one of the values' devices per key, chosen to
//     balance the elements per device (MXNet's CommDevice), one process.
//   nccl: values on GPUs; sums on a GPU, then across processes with NCCL (bootstrapped over MPI).
//   dist_sync (dist): as local, then an allreduce across processes (MPI).
//   dist_device_sync: as device, then an allreduce across processes (MPI; GPU sums are staged
//     through host memory).
// dist_async is refused (NotSupportedError): every dist type is synchronous allreduce, no
// parameter servers. Launched without a launcher (one rank), dist types run on one process.
//
// Semantics (mxnet-facts.md §5.2, tests T42-T48):
// - Keys are all int or all string per store ("mixed key types" is an error); string keys get
//   internal indices in first-Init order. Init of an existing key is an error; Push/Pull of a key
//   that was never initialised is an error.
// - Init stores a copy (on rank 0's value when there are several processes: it is broadcast).
// - Push sums every value given for a key (several devices; a key repeated in a list call adds
//   its values to that key's group), then the sum over processes; then the updater runs once,
//   updater(key, sum, stored), or without updater the stored value becomes the sum.
// - Pull copies the stored value to every out array (any devices). PushPull = Push then Pull.
// - Everything is pushed on the engine: calls return at once; read outs with WaitToRead or
//   ToVector. The updater is called on the calling thread during Push; it receives arrays whose
//   values are still being computed and must work through engine operations (NDArray operations,
//   an optimizer's Update), never by reading data() directly.
// - priority orders engine operations that are ready together (MXNet's -index convention: the
//   first layers' keys get the highest priority).
// - Fusion (dist types with several processes): a list call (Push/PushPull with many keys)
//   packs the keys' sums, in list order, into buckets of KVStoreOptions::bucket_bytes (the
//   first one of first_bucket_bytes) and
//   allreduces each bucket as it fills, so the list order should be the order in which backward
//   produces gradients (last layer first). Within a list call a bucket's operations run at
//   priority - i, i being the smallest internal index (Init order) of its keys.
// - The optimizer (launcher/) is not a comm type: set it with SetUpdater, e.g.
//     kv->SetUpdater([&](const Key& k, const NDArray& g, NDArray& w) {
//       opt->Update(k.index(), w, g); });
//
// Thread safety: a KVStore is driven by one thread; rank() and num_workers() are thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loom/comm/communicator.h"
#include "loom/core/ndarray.h"

namespace loom::comm {

/// An int or a string key. Implicit from int and strings, so kv->Push(3, ...) and
/// kv->Push("fc1_weight", ...) both work.
class Key {
 public:
  Key(int key) : is_int_(true), int_(key) {}                      // NOLINT: implicit
  Key(std::string key) : is_int_(false), str_(std::move(key)) {}  // NOLINT
  Key(const char* key) : is_int_(false), str_(key) {}             // NOLINT
  Key(std::string_view key) : is_int_(false), str_(key) {}        // NOLINT

  bool is_int() const { return is_int_; }
  /// The int key. @throws loom::Error for a string key.
  int int_key() const;
  /// The string key. @throws loom::Error for an int key.
  const std::string& str_key() const;
  /// The key's internal index in its store: the int itself for int keys, the Init order (0, 1,
  /// ...) for string keys. Set by the store before the updater sees the key; -1 otherwise.
  int index() const { return index_; }
  /// "3" or "'fc1_weight'".
  std::string ToString() const;

  friend bool operator==(const Key& a, const Key& b) {
    return a.is_int_ == b.is_int_ && (a.is_int_ ? a.int_ == b.int_ : a.str_ == b.str_);
  }

 private:
  friend class KVStore;
  bool is_int_;
  int int_ = 0;
  std::string str_;
  int index_ = -1;
};

/// updater(key, the reduced value, the stored value to update in place).
using Updater = std::function<void(const Key& key, const NDArray& recv, NDArray& stored)>;

struct KVStoreOptions {
  /// Bytes per fused bucket in list calls of dist types (PyTorch DDP's and issue 6's default:
  /// 25 MiB).
  size_t bucket_bytes = size_t{25} << 20;
  /// Cap of a list call's first bucket (PyTorch DDP's 1 MiB), so that the gradients backward
  /// produces first go out early.
  size_t first_bucket_bytes = size_t{1} << 20;
  /// Settings of the communicator the store creates (timeout, nccl device).
  CommOptions comm;
  /// Use this communicator instead of creating one (dist and nccl types); its backend must suit
  /// the type (mpi for dist_sync, nccl for nccl).
  std::shared_ptr<Communicator> communicator;
};

/// Whether a store of this type sums across processes (dist_sync, dist_device_sync, dist, nccl;
/// the names as Create reads them); the others train one model per process.
bool ReducesAcrossProcesses(std::string_view type);

class KVStore {
 public:
  /// @throws loom::Error for an unknown name (listing the accepted ones), NotSupportedError for
  ///         dist_async, a backend this build lacks, or nccl without a GPU.
  static std::unique_ptr<KVStore> Create(std::string_view type = "local",
                                         const KVStoreOptions& options = {});
  ~KVStore();
  KVStore(const KVStore&) = delete;
  KVStore& operator=(const KVStore&) = delete;

  /// The lowercased name it was created with ("local_allreduce_cpu" stays so).
  const std::string& type() const { return type_; }
  /// This process's rank and the number of processes (1 for local, device).
  int rank() const;
  int num_workers() const;
  /// The communicator across processes (a local one for single-process types).
  const std::shared_ptr<Communicator>& communicator() const { return comm_; }

  /// @throws loom::Error "duplicate init of key 3", mixed key types; DTypeError for a dtype
  ///         other than float32/float64.
  void Init(const Key& key, const NDArray& value);
  void Init(const std::vector<Key>& keys, const std::vector<NDArray>& values);

  /// values: one array per device (any devices, same shape and dtype as the stored value).
  void Push(const Key& key, const NDArray& value, int priority = 0);
  void Push(const Key& key, const std::vector<NDArray>& values, int priority = 0);
  /// keys[i] gets values[i]; a repeated key collects all its values (MXNet's C API).
  void Push(const std::vector<Key>& keys, const std::vector<NDArray>& values, int priority = 0);
  /// keys[i] gets every array of values[i] (Python's list of per-device lists).
  void Push(const std::vector<Key>& keys, const std::vector<std::vector<NDArray>>& values,
            int priority = 0);

  void Pull(const Key& key, const NDArray& out, int priority = 0);
  void Pull(const Key& key, const std::vector<NDArray>& outs, int priority = 0);
  void Pull(const std::vector<Key>& keys, const std::vector<NDArray>& outs, int priority = 0);
  void Pull(const std::vector<Key>& keys, const std::vector<std::vector<NDArray>>& outs,
            int priority = 0);

  /// Push then Pull; outs may be the pushed arrays themselves (in-place gradient allreduce).
  void PushPull(const Key& key, const std::vector<NDArray>& values,
                const std::vector<NDArray>& outs, int priority = 0);
  void PushPull(const std::vector<Key>& keys, const std::vector<NDArray>& values,
                const std::vector<NDArray>& outs, int priority = 0);
  void PushPull(const std::vector<Key>& keys, const std::vector<std::vector<NDArray>>& values,
                const std::vector<std::vector<NDArray>>& outs, int priority = 0);

  /// Init then Pull (MXNet's kv.broadcast): every rank's outs get rank 0's value.
  void Broadcast(const Key& key, const NDArray& value, const std::vector<NDArray>& outs,
                 int priority = 0);

  /// Runs once per key per Push, after the reduction; replaces assignment.
  void SetUpdater(Updater updater);

  /// Blocks until every process reached its Barrier (no-op in one process).
  /// @throws CommError on timeout, naming the missing ranks.
  void Barrier();
  /// Blocks until the store's stored values and collectives are up to date (pull outs are the
  /// caller's to wait for); rethrows the first error.
  void WaitAll();

 private:
  struct Impl;
  KVStore(std::string type, std::unique_ptr<Impl> impl);
  Key Resolve(const Key& key, bool for_init);

  std::string type_;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<Communicator> comm_;
};

}  // namespace loom::comm
