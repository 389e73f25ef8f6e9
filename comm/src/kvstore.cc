#include "loom/comm/kvstore.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "array_ops.h"
#include "backends.h"
#include "bucket_plan.h"
#include "loom/comm/launch.h"
#include "loom/core/storage.h"
#include "loom/scheduler/error.h"

namespace loom::comm {

// ---- Key ------------------------------------------------------------------------------------

int Key::int_key() const {
  LOOM_CHECK(is_int_, "expected an int key but got the string key '", str_, "'");
  return int_;
}

const std::string& Key::str_key() const {
  LOOM_CHECK(!is_int_, "expected a string key but got the int key ", int_);
  return str_;
}

std::string Key::ToString() const { return is_int_ ? std::to_string(int_) : "'" + str_ + "'"; }

// ---- Impl -----------------------------------------------------------------------------------

namespace {

enum class Kind { kLocal, kDevice, kNccl, kDistSync, kDistDeviceSync };

struct Entry {
  Key key = 0;  // with its index set
  Shape shape;
  DType dtype = DType::kFloat32;
  /// The stored value. Owned (a private array) after Init and whenever an updater runs;
  /// otherwise it may be a private reduction buffer that only pushes of this key write.
  NDArray stored;
  bool owned = true;
  std::optional<Context> merge_ctx;
  NDArray merge_buf;  // sum over devices
  NDArray recv;       // sum over processes (unfused)
  NDArray stage;      // the sum copied where the communicator can reach it
};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

struct KVStore::Impl {
  Kind kind = Kind::kLocal;
  KVStoreOptions options;
  Updater updater;
  enum class KeyType { kUnset, kInt, kString } key_type = KeyType::kUnset;
  std::map<std::string, int, std::less<>> string_index;
  std::unordered_map<int, Entry> entries;
  std::map<Context, int64_t> device_load;
  /// Fused layouts by the signature of the keys and contexts of a list call.
  std::map<std::vector<int64_t>, std::vector<detail::Bucket>> layouts;

  bool device_merge() const { return kind != Kind::kLocal && kind != Kind::kDistSync; }
};

namespace {

// The context a key's values are summed on.
Context MergeContext(Entry& e, const std::vector<NDArray>& values, bool device_merge,
                     const Communicator& comm, std::map<Context, int64_t>& load) {
  if (e.merge_ctx) return *e.merge_ctx;
  if (!device_merge) {
    e.merge_ctx = Context::CPU();
    return *e.merge_ctx;
  }
  // MXNet's CommDevice: the device with the fewest elements assigned so far; among the values'
  // devices the communicator can reach, when there are several processes.
  std::vector<Context> candidates;
  for (const NDArray& v : values) {
    if (comm.size() > 1 && !comm.SupportsContext(v.ctx())) continue;
    if (std::find(candidates.begin(), candidates.end(), v.ctx()) == candidates.end()) {
      candidates.push_back(v.ctx());
    }
  }
  if (candidates.empty()) {
    for (const NDArray& v : values) {
      if (std::find(candidates.begin(), candidates.end(), v.ctx()) == candidates.end()) {
        candidates.push_back(v.ctx());
      }
    }
  }
  Context best = candidates[0];
  for (const Context& c : candidates) {
    if (load[c] < load[best]) best = c;
  }
  load[best] += e.shape.Size();
  e.merge_ctx = best;
  return best;
}

void CheckValue(const Entry& e, const NDArray& v, const char* verb, size_t i, size_t n) {
  LOOM_CHECK(!v.is_none(), "kvstore ", verb, ": key ", e.key.ToString(), " got a none NDArray",
             n > 1 ? " (array " + std::to_string(i) + " of " + std::to_string(n) + ")" : "");
  LOOM_CHECK_TYPED(ShapeError, v.shape() == e.shape, "kvstore ", verb, ": key ", e.key.ToString(),
                   " was initialised with shape ", e.shape.ToString(), " but got shape ",
                   v.shape().ToString(), " on ", v.ctx().ToString());
  LOOM_CHECK_TYPED(DTypeError, v.dtype() == e.dtype, "kvstore ", verb, ": key ", e.key.ToString(),
                   " was initialised with dtype ", ToString(e.dtype), " but got dtype ",
                   ToString(v.dtype()), " on ", v.ctx().ToString());
}

NDArray& Ensure(NDArray& buffer, const Entry& e, Context ctx) {
  if (buffer.is_none() || buffer.ctx() != ctx) buffer = NDArray::Empty(e.shape, ctx, e.dtype);
  return buffer;
}

}  // namespace

// ---- KVStore --------------------------------------------------------------------------------

bool ReducesAcrossProcesses(std::string_view type) {
  const std::string name = Lower(type);
  return Contains(name, "dist") || Contains(name, "nccl");
}

std::unique_ptr<KVStore> KVStore::Create(std::string_view type, const KVStoreOptions& options) {
  const std::string name = Lower(type);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  LOOM_CHECK(options.bucket_bytes > 0, "kvstore: expected bucket_bytes > 0");
  std::shared_ptr<Communicator> comm = options.communicator;
  if (Contains(name, "dist")) {
    LOOM_CHECK_TYPED(NotSupportedError, !Contains(name, "async"), "kvstore '", name,
                     "': asynchronous updates (parameter servers) are not supported; Loom's dist "
                     "kvstores are synchronous allreduce: use dist_sync or dist_device_sync");
    impl->kind = Contains(name, "device") ? Kind::kDistDeviceSync : Kind::kDistSync;
    if (!comm) comm = Communicator::Create(options.comm);
  } else if (Contains(name, "nccl")) {
    impl->kind = Kind::kNccl;
    LOOM_CHECK_TYPED(NotSupportedError, detail::HasNccl(),
                     "kvstore 'nccl' needs a build with CUDA ", "and NCCL; this build has ",
                     detail::HasCuda() ? "CUDA but no NCCL" : "no CUDA",
                     " (use 'device' or 'dist_device_sync')");
    LOOM_CHECK_TYPED(NotSupportedError, NumGpus() > 0,
                     "kvstore 'nccl' needs a GPU but none is "
                     "usable on this machine");
    if (!comm) {
      CommOptions c = options.comm;
      c.backend = DiscoverLaunch().size > 1 ? "nccl" : "local";
      comm = Communicator::Create(c);
    }
  } else if (name.rfind("local", 0) == 0 || name.rfind("device", 0) == 0) {
    impl->kind = Contains(name, "device") ? Kind::kDevice : Kind::kLocal;
    if (!comm) {
      CommOptions c = options.comm;
      c.backend = "local";
      comm = Communicator::Create(c);
    }
  } else {
    LOOM_CHECK(false, "unknown kvstore type '", std::string(type),
               "': expected local, device, nccl, dist_sync or dist_device_sync (or MXNet's "
               "local_allreduce_cpu, local_allreduce_device, local_update_cpu, dist)");
  }
  std::unique_ptr<KVStore> kv(new KVStore(name, std::move(impl)));
  kv->comm_ = std::move(comm);
  return kv;
}

KVStore::KVStore(std::string type, std::unique_ptr<Impl> impl)
    : type_(std::move(type)), impl_(std::move(impl)) {}

KVStore::~KVStore() = default;

int KVStore::rank() const { return comm_->rank(); }
int KVStore::num_workers() const { return comm_->size(); }

Key KVStore::Resolve(const Key& key, bool for_init) {
  using KeyType = Impl::KeyType;
  Impl& d = *impl_;
  const KeyType type = key.is_int() ? KeyType::kInt : KeyType::kString;
  if (d.key_type == KeyType::kUnset && for_init) d.key_type = type;
  LOOM_CHECK(d.key_type == KeyType::kUnset || d.key_type == type,
             "mixed key types are not allowed: this kvstore uses ",
             d.key_type == KeyType::kInt ? "int" : "string", " keys but got the ",
             key.is_int() ? "int" : "string", " key ", key.ToString());
  Key resolved = key;
  if (key.is_int()) {
    resolved.index_ = key.int_key();
  } else {
    auto it = d.string_index.find(key.str_key());
    if (it == d.string_index.end()) {
      LOOM_CHECK(for_init, "key ", key.ToString(), " has not been initialised (call Init first)");
      it = d.string_index.emplace(key.str_key(), static_cast<int>(d.string_index.size())).first;
    }
    resolved.index_ = it->second;
  }
  if (!for_init) {
    LOOM_CHECK(d.entries.count(resolved.index_), "key ", key.ToString(),
               " has not been initialised (call Init first)");
  }
  return resolved;
}

void KVStore::Init(const Key& key, const NDArray& value) {
  Impl& d = *impl_;
  LOOM_CHECK(!value.is_none(), "kvstore init: key ", key.ToString(), " got a none NDArray");
  LOOM_CHECK_TYPED(DTypeError, value.dtype() == DType::kFloat32 || value.dtype() == DType::kFloat64,
                   "kvstore init: key ", key.ToString(),
                   " expected dtype float32 or float64 but "
                   "got ",
                   ToString(value.dtype()));
  const Key k = Resolve(key, /*for_init=*/true);
  LOOM_CHECK(!d.entries.count(k.index()), "duplicate init of key ", key.ToString());
  Entry e;
  e.key = k;
  e.shape = value.shape();
  e.dtype = value.dtype();
  e.stored = NDArray::Empty(e.shape, Context::CPU(), e.dtype);
  detail::PushCopy(value, e.stored, 0);
  if (comm_->size() > 1) {
    // Every rank starts from rank 0's value (MXNet: rank 0 initialises the servers).
    if (comm_->SupportsContext(e.stored.ctx())) {
      comm_->Broadcast(e.stored, 0);
    } else {
      NDArray staged = e.stored.CopyTo(comm_->device());
      comm_->Broadcast(staged, 0);
      detail::PushCopy(staged, e.stored, 0);
    }
  }
  d.entries.emplace(k.index(), std::move(e));
}

void KVStore::Init(const std::vector<Key>& keys, const std::vector<NDArray>& values) {
  LOOM_CHECK(keys.size() == values.size(), "kvstore init: expected one value per key but got ",
             keys.size(), " keys and ", values.size(), " values");
  for (size_t i = 0; i < keys.size(); ++i) Init(keys[i], values[i]);
}

void KVStore::Push(const Key& key, const NDArray& value, int priority) {
  Push(std::vector<Key>{key}, std::vector<std::vector<NDArray>>{{value}}, priority);
}

void KVStore::Push(const Key& key, const std::vector<NDArray>& values, int priority) {
  Push(std::vector<Key>{key}, std::vector<std::vector<NDArray>>{values}, priority);
}

void KVStore::Push(const std::vector<Key>& keys, const std::vector<NDArray>& values, int priority) {
  LOOM_CHECK(keys.size() == values.size(), "kvstore push: expected one value per key but got ",
             keys.size(), " keys and ", values.size(), " values");
  std::vector<std::vector<NDArray>> grouped;
  grouped.reserve(values.size());
  for (const NDArray& v : values) grouped.push_back({v});
  Push(keys, grouped, priority);
}

void KVStore::Push(const std::vector<Key>& keys, const std::vector<std::vector<NDArray>>& values,
                   int priority) {
  Impl& d = *impl_;
  LOOM_CHECK(keys.size() == values.size(),
             "kvstore push: expected one list of values per key "
             "but got ",
             keys.size(), " keys and ", values.size(), " lists");
  // Group by key in order of first appearance (a repeated key adds devices).
  std::vector<int> order;
  std::unordered_map<int, std::vector<NDArray>> groups;
  for (size_t i = 0; i < keys.size(); ++i) {
    const Key k = Resolve(keys[i], /*for_init=*/false);
    LOOM_CHECK(!values[i].empty(), "kvstore push: key ", keys[i].ToString(), " got no values");
    auto [it, fresh] = groups.try_emplace(k.index());
    if (fresh) order.push_back(k.index());
    it->second.insert(it->second.end(), values[i].begin(), values[i].end());
  }
  // Sum over this process's devices.
  std::vector<NDArray> merged(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    Entry& e = d.entries.at(order[i]);
    const std::vector<NDArray>& vals = groups[order[i]];
    for (size_t j = 0; j < vals.size(); ++j) CheckValue(e, vals[j], "push", j, vals.size());
    const Context ctx = MergeContext(e, vals, d.device_merge(), *comm_, d.device_load);
    if (vals.size() == 1 && vals[0].ctx() == ctx) {
      merged[i] = vals[0];
    } else {
      detail::PushSum(vals, Ensure(e.merge_buf, e, ctx), priority);
      merged[i] = e.merge_buf;
    }
  }
  // Then the updater (or assignment), after the sum over processes.
  auto apply = [&](Entry& e, const NDArray& recv, bool private_recv) {
    if (d.updater) {
      if (!e.owned || e.stored.ctx() != recv.ctx()) {
        // The updater keeps state in the stored array: give it a private one next to recv.
        NDArray own = NDArray::Empty(e.shape, recv.ctx(), e.dtype);
        detail::PushCopy(e.stored, own, priority);
        e.stored = own;
        e.owned = true;
      }
      d.updater(e.key, recv, e.stored);
    } else if (private_recv) {
      e.stored = recv;
      e.owned = false;
    } else {
      if (!e.owned) {
        e.stored = NDArray::Empty(e.shape, Context::CPU(), e.dtype);
        e.owned = true;
      }
      detail::PushCopy(recv, e.stored, priority);
    }
  };
  if (comm_->size() == 1) {
    for (size_t i = 0; i < order.size(); ++i) {
      Entry& e = d.entries.at(order[i]);
      apply(e, merged[i], merged[i].var() == e.merge_buf.var() && !e.merge_buf.is_none());
    }
    return;
  }
  // Several processes: keys the communicator reaches are fused into buckets (list calls), the
  // rest are staged and reduced one by one.
  std::vector<size_t> fused;
  for (size_t i = 0; i < order.size(); ++i) {
    Entry& e = d.entries.at(order[i]);
    if (order.size() > 1 && comm_->SupportsContext(merged[i].ctx())) {
      fused.push_back(i);
      continue;
    }
    NDArray src = merged[i];
    if (!comm_->SupportsContext(src.ctx())) {
      detail::PushCopy(src, Ensure(e.stage, e, comm_->device()), priority);
      src = e.stage;
    }
    NDArray& recv = Ensure(e.recv, e, src.ctx());
    comm_->AllReduce(src, recv, priority);
    apply(e, recv, true);
  }
  if (fused.empty()) return;
  std::vector<int64_t> signature;
  std::vector<NDArray> arrays;
  std::vector<int> priorities;
  for (size_t i : fused) {
    signature.push_back(order[i]);
    signature.push_back(std::hash<Context>()(merged[i].ctx()));
    arrays.push_back(merged[i]);
    priorities.push_back(priority - order[i]);
  }
  auto layout = d.layouts.find(signature);
  if (layout == d.layouts.end()) {
    layout = d.layouts
                 .emplace(signature, detail::PlanBuckets(arrays, priorities, d.options.bucket_bytes,
                                                         d.options.first_bucket_bytes))
                 .first;
  }
  for (detail::Bucket& b : layout->second) {
    if (b.members.size() == 1) {
      const size_t i = fused[b.members[0]];
      Entry& e = d.entries.at(order[i]);
      NDArray& recv = Ensure(e.recv, e, merged[i].ctx());
      comm_->AllReduce(merged[i], recv, b.priority);
      apply(e, recv, true);
      continue;
    }
    std::vector<NDArray> members;
    for (int m : b.members) members.push_back(merged[fused[m]]);
    detail::PushPack(members, b.offsets, b.buffer, b.priority);
    comm_->AllReduce(b.buffer, b.buffer, b.priority);
    for (size_t j = 0; j < b.members.size(); ++j) {
      Entry& e = d.entries.at(order[fused[b.members[j]]]);
      apply(e, b.Part(j, e.shape), true);
    }
  }
}

void KVStore::Pull(const Key& key, const NDArray& out, int priority) {
  Pull(std::vector<Key>{key}, std::vector<std::vector<NDArray>>{{out}}, priority);
}

void KVStore::Pull(const Key& key, const std::vector<NDArray>& outs, int priority) {
  Pull(std::vector<Key>{key}, std::vector<std::vector<NDArray>>{outs}, priority);
}

void KVStore::Pull(const std::vector<Key>& keys, const std::vector<NDArray>& outs, int priority) {
  LOOM_CHECK(keys.size() == outs.size(), "kvstore pull: expected one out array per key but got ",
             keys.size(), " keys and ", outs.size(), " arrays");
  std::vector<std::vector<NDArray>> grouped;
  grouped.reserve(outs.size());
  for (const NDArray& o : outs) grouped.push_back({o});
  Pull(keys, grouped, priority);
}

void KVStore::Pull(const std::vector<Key>& keys, const std::vector<std::vector<NDArray>>& outs,
                   int priority) {
  LOOM_CHECK(keys.size() == outs.size(),
             "kvstore pull: expected one list of out arrays per key "
             "but got ",
             keys.size(), " keys and ", outs.size(), " lists");
  for (size_t i = 0; i < keys.size(); ++i) {
    const Key k = Resolve(keys[i], /*for_init=*/false);
    const Entry& e = impl_->entries.at(k.index());
    for (size_t j = 0; j < outs[i].size(); ++j) {
      CheckValue(e, outs[i][j], "pull", j, outs[i].size());
      detail::PushCopy(e.stored, outs[i][j], priority);
    }
  }
}

void KVStore::PushPull(const Key& key, const std::vector<NDArray>& values,
                       const std::vector<NDArray>& outs, int priority) {
  Push(key, values, priority);
  Pull(key, outs, priority);
}

void KVStore::PushPull(const std::vector<Key>& keys, const std::vector<NDArray>& values,
                       const std::vector<NDArray>& outs, int priority) {
  Push(keys, values, priority);
  Pull(keys, outs, priority);
}

void KVStore::PushPull(const std::vector<Key>& keys,
                       const std::vector<std::vector<NDArray>>& values,
                       const std::vector<std::vector<NDArray>>& outs, int priority) {
  Push(keys, values, priority);
  Pull(keys, outs, priority);
}

void KVStore::Broadcast(const Key& key, const NDArray& value, const std::vector<NDArray>& outs,
                        int priority) {
  Init(key, value);
  Pull(key, outs, priority);
}

void KVStore::SetUpdater(Updater updater) { impl_->updater = std::move(updater); }

void KVStore::Barrier() { comm_->Barrier().Wait(); }

void KVStore::WaitAll() {
  for (auto& [index, e] : impl_->entries) e.stored.WaitToRead();
}

}  // namespace loom::comm
