// MXNet's KVStore tests (mxnet-facts.md §8 T42-T48, test_kvstore.py: shape (4,4), int keys
// [5, 7, 11], str keys ['b', 'c', 'd'], devices cpu(0..3)). Every expected value is MXNet's,
// times num_workers() for pushes (each rank pushes the same values; dist sums them), and rank 0's
// for inits. InProcess/ runs them in one process; Mpi/ runs the dist types under
// `mpirun -np 2` (ctest comm_mpi_np2), and in one process when started alone.
#include "loom/comm/kvstore.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "loom/comm/communicator.h"
#include "loom/core/device_info.h"
#include "loom/core/storage.h"
#include "loom/scheduler/error.h"

namespace loom::comm {
namespace {

using ::testing::HasSubstr;

const Shape kShape{4, 4};
constexpr int kNumDevs = 4;
const std::vector<Key> kIntKeys = {5, 7, 11};
const std::vector<Key> kStrKeys = {"b", "c", "d"};

std::vector<Context> Devs() {
  std::vector<Context> devs;
  for (int i = 0; i < kNumDevs; ++i) devs.push_back(Context::CPU(i));
  return devs;
}

// Every element of a equals value (MXNet's check_diff_to_scalar).
void ExpectAll(const NDArray& a, float value) {
  for (float v : a.ToVector<float>()) ASSERT_FLOAT_EQ(v, value) << "on " << a.ctx().ToString();
}

class KVStoreSemantics : public ::testing::TestWithParam<std::string> {
 protected:
  // MXNet's init_kv(): key 3 (or 'a') and the key list, zeros.
  std::unique_ptr<KVStore> InitKV(bool str_keys) {
    auto kv = KVStore::Create(GetParam());
    kv->Init(str_keys ? Key("a") : Key(3), NDArray::Zeros(kShape));
    std::vector<NDArray> zeros(3, NDArray::Zeros(kShape));
    kv->Init(str_keys ? kStrKeys : kIntKeys, zeros);
    return kv;
  }
};

// T42 test_single_kv_pair.
TEST_P(KVStoreSemantics, SingleKVPair) {
  for (bool str_keys : {false, true}) {
    auto kv = InitKV(str_keys);
    const Key key = str_keys ? Key("a") : Key(3);
    kv->Push(key, NDArray::Ones(kShape));
    NDArray out = NDArray::Empty(kShape);
    kv->Pull(key, out);
    ExpectAll(out, 1.0f * kv->num_workers());
  }
}

// T43 test_init: the stored value is the initial one.
TEST_P(KVStoreSemantics, Init) {
  auto kv = KVStore::Create(GetParam());
  kv->Init(3, NDArray::Ones(kShape) * 4.0);
  NDArray out = NDArray::Zeros(kShape);
  kv->Pull(3, out);
  ExpectAll(out, 4.0f);
}

// T43 test_pull: a list of values for one key is summed; a fresh key pulls its initial zeros.
TEST_P(KVStoreSemantics, Pull) {
  auto kv = KVStore::Create(GetParam());
  NDArray a = NDArray::Ones(kShape);
  kv->Init("1", NDArray::Zeros(kShape));
  kv->Push("1", std::vector<NDArray>{a, a, a, a});
  NDArray out = NDArray::Empty(kShape);
  kv->Pull("1", out);
  ExpectAll(out, 4.0f * kv->num_workers());
  kv->Init("2", NDArray::Zeros(kShape));
  kv->Pull("2", out);
  ExpectAll(out, 0.0f);
}

// T44 test_list_kv_pair.
TEST_P(KVStoreSemantics, ListKVPair) {
  for (bool str_keys : {false, true}) {
    auto kv = InitKV(str_keys);
    const std::vector<Key>& keys = str_keys ? kStrKeys : kIntKeys;
    kv->Push(keys, std::vector<NDArray>(3, NDArray::Ones(kShape) * 4.0));
    std::vector<NDArray> outs = {NDArray::Empty(kShape), NDArray::Empty(kShape),
                                 NDArray::Empty(kShape)};
    kv->Pull(keys, outs);
    for (const NDArray& o : outs) ExpectAll(o, 4.0f * kv->num_workers());
  }
}

// T45 test_aggregator: values on cpu(0..3) are summed; every out, on its own device, gets it.
TEST_P(KVStoreSemantics, Aggregator) {
  for (bool str_keys : {false, true}) {
    auto kv = InitKV(str_keys);
    const Key key = str_keys ? Key("a") : Key(3);
    std::vector<NDArray> vals;
    for (Context d : Devs()) vals.push_back(NDArray::Ones(kShape, d));
    kv->Push(key, vals);
    kv->Pull(key, vals);
    for (const NDArray& v : vals) ExpectAll(v, 1.0f * kNumDevs * kv->num_workers());

    const std::vector<Key>& keys = str_keys ? kStrKeys : kIntKeys;
    std::vector<std::vector<NDArray>> lists;
    for (size_t k = 0; k < keys.size(); ++k) {
      std::vector<NDArray> per_dev;
      for (Context d : Devs()) per_dev.push_back(NDArray::Ones(kShape, d) * 2.0);
      lists.push_back(per_dev);
    }
    kv->Push(keys, lists);
    kv->Pull(keys, lists);
    for (const auto& per_dev : lists) {
      for (size_t i = 0; i < per_dev.size(); ++i) {
        EXPECT_EQ(per_dev[i].ctx(), Context::CPU(static_cast<int>(i)));
        ExpectAll(per_dev[i], 2.0f * kNumDevs * kv->num_workers());
      }
    }
  }
}

// T46 test_updater: the updater runs once per push, after the sum, with int keys as ints and
// string keys as strings.
TEST_P(KVStoreSemantics, Updater) {
  for (bool str_keys : {false, true}) {
    auto kv = InitKV(str_keys);
    int calls = 0;
    kv->SetUpdater([&](const Key& key, const NDArray& recv, NDArray& local) {
      EXPECT_EQ(key.is_int(), !str_keys) << key.ToString();
      ++calls;
      local += recv;
    });
    const Key key = str_keys ? Key("a") : Key(3);
    std::vector<NDArray> vals;
    for (Context d : Devs()) vals.push_back(NDArray::Ones(kShape, d));
    kv->Push(key, vals);
    kv->Pull(key, vals);
    EXPECT_EQ(calls, 1);
    for (const NDArray& v : vals) ExpectAll(v, 1.0f * kNumDevs * kv->num_workers());

    const std::vector<Key>& keys = str_keys ? kStrKeys : kIntKeys;
    std::vector<NDArray> ones;
    for (Context d : Devs()) ones.push_back(NDArray::Ones(kShape, d));
    std::vector<std::vector<NDArray>> lists(keys.size(), ones);
    calls = 0;
    for (int push = 0; push < 4; ++push) kv->Push(keys, lists);
    EXPECT_EQ(calls, 4 * static_cast<int>(keys.size()));
    kv->Pull(keys, lists);
    for (const auto& per_dev : lists) {
      for (const NDArray& v : per_dev) ExpectAll(v, 4.0f * kNumDevs * kv->num_workers());
    }
  }
}

// The updater sees the key's index: int keys themselves, string keys in Init order.
TEST_P(KVStoreSemantics, UpdaterKeyIndex) {
  auto kv = KVStore::Create(GetParam());
  kv->Init(std::vector<Key>{"fc1_weight", "fc1_bias"}, {NDArray::Zeros({2}), NDArray::Zeros({2})});
  std::vector<std::pair<std::string, int>> seen;
  kv->SetUpdater([&](const Key& key, const NDArray&, NDArray&) {
    seen.emplace_back(key.str_key(), key.index());
  });
  kv->Push(std::vector<Key>{"fc1_bias", "fc1_weight"}, {NDArray::Ones({2}), NDArray::Ones({2})});
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, int>>{{"fc1_bias", 1}, {"fc1_weight", 0}}));
}

// T47 test_get_type: the type is the lowercased name it was created with.
TEST_P(KVStoreSemantics, GetType) { EXPECT_EQ(KVStore::Create(GetParam())->type(), GetParam()); }

// T48 test_invalid_pull (the key-type part; Loom has no row_sparse storage): an int-keyed store
// rejects string keys for init, push and pull, and the other way round.
TEST_P(KVStoreSemantics, RejectsMixedKeyTypes) {
  auto kv = InitKV(/*str_keys=*/false);
  NDArray a = NDArray::Ones(kShape);
  EXPECT_THAT([&] { kv->Init("x", a); },
              ::testing::ThrowsMessage<Error>(HasSubstr("mixed key types are not allowed")));
  EXPECT_THROW(kv->Push("b", a), Error);
  EXPECT_THROW(kv->Pull("b", a), Error);
  auto skv = InitKV(/*str_keys=*/true);
  EXPECT_THAT([&] { skv->Init(9, a); },
              ::testing::ThrowsMessage<Error>(HasSubstr("this kvstore uses string keys")));
  EXPECT_THROW(skv->Push(3, a), Error);
  EXPECT_THROW(skv->Pull(3, a), Error);
}

// Init only once per key; Push and Pull need an initialised key of the right shape and dtype.
TEST_P(KVStoreSemantics, MisuseIsAnError) {
  auto kv = InitKV(false);
  EXPECT_THAT([&] { kv->Init(3, NDArray::Ones(kShape)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("duplicate init of key 3")));
  EXPECT_THAT([&] { kv->Push(4, NDArray::Ones(kShape)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("key 4 has not been initialised")));
  EXPECT_THAT([&] { kv->Pull(4, NDArray::Ones(kShape)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("key 4 has not been initialised")));
  EXPECT_THAT(
      [&] {
        kv->Push(3, NDArray::Ones({2, 2}));
      },
      ::testing::ThrowsMessage<ShapeError>(
          HasSubstr("key 3 was initialised with shape (4,4) but got shape (2,2)")));
  EXPECT_THAT(
      [&] { kv->Push(3, NDArray::Ones(kShape, Context::CPU(), DType::kFloat64)); },
      ::testing::ThrowsMessage<DTypeError>(HasSubstr("dtype float32 but got dtype float64")));
  EXPECT_THROW(kv->Init(12, NDArray::Ones(kShape, Context::CPU(), DType::kInt32)), DTypeError);
}

// PushPull in place: the pushed arrays receive the sum (the trainer's gradient allreduce).
TEST_P(KVStoreSemantics, PushPullInPlace) {
  auto kv = KVStore::Create(GetParam());
  std::vector<Key> keys;
  std::vector<NDArray> grads;
  for (int i = 0; i < 6; ++i) {
    keys.push_back(i);
    kv->Init(i, NDArray::Zeros({i + 1, 3}));
    grads.push_back(NDArray::Full({i + 1, 3}, i + 1.0));
  }
  for (int step = 0; step < 3; ++step) {
    for (int i = 0; i < 6; ++i) grads[i] = NDArray::Full({i + 1, 3}, i + 1.0);
    kv->PushPull(keys, grads, grads, -step);
    for (int i = 0; i < 6; ++i) ExpectAll(grads[i], (i + 1.0f) * kv->num_workers());
  }
  kv->WaitAll();
}

// Broadcast = Init then Pull: every rank gets rank 0's value on every out.
TEST_P(KVStoreSemantics, Broadcast) {
  auto kv = KVStore::Create(GetParam());
  std::vector<NDArray> outs = {NDArray::Empty(kShape, Context::CPU(0)),
                               NDArray::Empty(kShape, Context::CPU(2))};
  kv->Broadcast(8, NDArray::Full(kShape, 10.0 + kv->rank()), outs);
  for (const NDArray& o : outs) ExpectAll(o, 10.0f);
  kv->Barrier();
}

INSTANTIATE_TEST_SUITE_P(InProcess, KVStoreSemantics,
                         ::testing::Values("local", "device", "local_allreduce_cpu",
                                           "local_allreduce_device", "dist_sync"));
INSTANTIATE_TEST_SUITE_P(Mpi, KVStoreSemantics, ::testing::Values("dist_sync", "dist_device_sync"));

TEST(KVStoreCreate, TypesAndErrors) {
  EXPECT_EQ(KVStore::Create("Local")->type(), "local");
  EXPECT_EQ(KVStore::Create()->num_workers(), 1);
  EXPECT_THAT([] { KVStore::Create("dist_async"); },
              ::testing::ThrowsMessage<NotSupportedError>(HasSubstr("use dist_sync")));
  EXPECT_THAT([] { KVStore::Create("horovod"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("unknown kvstore type 'horovod'")));
  if (NumGpus() == 0) {
    EXPECT_THROW(KVStore::Create("nccl"), NotSupportedError);
  }
}

// device: values on other devices than the outs are summed and copied to every out.
TEST(KVStoreDevice, SumsAcrossDevices) {
  auto kv = KVStore::Create("device");
  kv->Init(std::vector<Key>{0, 1}, {NDArray::Zeros({100}), NDArray::Zeros({100})});
  for (int key : {0, 1}) {
    std::vector<NDArray> vals = {NDArray::Full({100}, 1.0, Context::CPU(1)),
                                 NDArray::Full({100}, 2.0, Context::CPU(2))};
    NDArray out = NDArray::Empty({100}, Context::CPU(3));
    kv->PushPull(key, vals, {out});
    ExpectAll(out, 3.0f);
  }
}

// device and nccl in one process: four values spread over every GPU (and the host), summed into
// outs on every GPU, float32 and float64, sizes around the sum kernel's block size.
TEST(KVStoreGpu, DeviceAndNcclSumAcrossGpus) {
  if (const std::string reason = NoGpuReason(); !reason.empty()) GTEST_SKIP() << reason;
  std::vector<std::string> types = {"device", "local"};
  const std::vector<std::string> backends = AvailableBackends();
  if (std::find(backends.begin(), backends.end(), "nccl") != backends.end()) types.push_back("nccl");
  const int gpus = NumGpus();
  for (const std::string& type : types) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      for (int64_t n : {1, 255, 257, 100003}) {
        auto kv = KVStore::Create(type);
        kv->Init(0, NDArray::Zeros({n}, Context::CPU(), dtype));
        std::vector<NDArray> vals;
        for (int i = 0; i < 4; ++i) {
          vals.push_back(NDArray::Full({n}, i + 1.0, Context::GPU(i % gpus), dtype));
        }
        vals.push_back(NDArray::Full({n}, 10.0, Context::CPU(), dtype));
        std::vector<NDArray> outs;
        for (int g = 0; g < gpus; ++g) outs.push_back(NDArray::Empty({n}, Context::GPU(g), dtype));
        kv->PushPull(0, vals, outs);
        for (const NDArray& out : outs) {
          const std::vector<double> got = out.CopyTo(Context::CPU()).AsType(DType::kFloat64)
                                              .ToVector<double>();
          for (double v : got) ASSERT_EQ(v, 20.0) << type << " " << ToString(dtype) << " n " << n;
        }
      }
    }
  }
}

TEST(KVStoreTypes, WhichReduceAcrossProcesses) {
  for (const char* type : {"dist_sync", "dist_device_sync", "dist", "Dist_Sync", "nccl"}) {
    EXPECT_TRUE(ReducesAcrossProcesses(type)) << type;
  }
  for (const char* type : {"local", "device", "local_allreduce_cpu", "local_allreduce_device"}) {
    EXPECT_FALSE(ReducesAcrossProcesses(type)) << type;
  }
}

}  // namespace
}  // namespace loom::comm
