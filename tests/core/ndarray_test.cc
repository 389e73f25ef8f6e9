// NDArray on the engine: creation, arithmetic against hand-computed values, copies across
// contexts, views, error messages, asynchronous failures and lifetimes.
#include "loom/core/ndarray.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "loom/scheduler/engine.h"
#include "loom/scheduler/error.h"

namespace loom {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::ElementsAre;
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

bool NaiveEngine() { return Engine::Get().kind() == "naive"; }

// A gate an engine operation can block on, to hold work pending while the test looks.
class Gate {
 public:
  void Open() { open_.store(true); }
  void Wait() const {
    while (!open_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

 private:
  std::atomic<bool> open_{false};
};

// Values as the element type T, from small integers (exact in every type).
template <typename T>
std::vector<T> Values(std::initializer_list<int> xs) {
  std::vector<T> out;
  for (int x : xs) {
    if constexpr (std::is_same_v<T, Half>) {
      out.push_back(Half(static_cast<float>(x)));
    } else {
      out.push_back(static_cast<T>(x));
    }
  }
  return out;
}

// Element values as doubles, for comparisons that read the same for every type.
template <typename T>
std::vector<double> AsDoubles(const NDArray& a) {
  std::vector<double> out;
  for (T x : a.ToVector<T>()) out.push_back(static_cast<double>(static_cast<float>(x)));
  return out;
}
template <>
std::vector<double> AsDoubles<double>(const NDArray& a) {
  return a.ToVector<double>();
}
template <>
std::vector<double> AsDoubles<int64_t>(const NDArray& a) {
  std::vector<double> out;
  for (int64_t x : a.ToVector<int64_t>()) out.push_back(static_cast<double>(x));
  return out;
}

template <typename T>
class NDArrayTyped : public ::testing::Test {};
using ElementTypes = ::testing::Types<float, double, Half, uint8_t, int32_t, int8_t, int64_t>;
TYPED_TEST_SUITE(NDArrayTyped, ElementTypes);

TYPED_TEST(NDArrayTyped, CreationAndReadBack) {
  using T = TypeParam;
  const DType dtype = kDTypeOf<T>;
  NDArray z = NDArray::Zeros({2, 3}, Context::CPU(), dtype);
  NDArray o = NDArray::Ones({2, 3}, Context::CPU(), dtype);
  NDArray f = NDArray::Full({2, 3}, 7, Context::CPU(), dtype);
  NDArray h = NDArray::FromHost(Values<T>({1, 2, 3, 4, 5, 6}), {3, 2});
  for (const NDArray* a : {&z, &o, &f}) {
    EXPECT_EQ(a->dtype(), dtype);
    EXPECT_EQ(a->shape(), Shape({2, 3}));
    EXPECT_EQ(a->size(), 6);
    EXPECT_EQ(a->nbytes(), 6 * sizeof(T));
    EXPECT_EQ(a->ctx(), Context::CPU());
  }
  EXPECT_THAT(AsDoubles<T>(z), ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_THAT(AsDoubles<T>(o), ElementsAre(1, 1, 1, 1, 1, 1));
  EXPECT_THAT(AsDoubles<T>(f), ElementsAre(7, 7, 7, 7, 7, 7));
  EXPECT_EQ(h.dtype(), dtype);
  EXPECT_EQ(h.shape(), Shape({3, 2}));
  EXPECT_THAT(AsDoubles<T>(h), ElementsAre(1, 2, 3, 4, 5, 6));
}

TYPED_TEST(NDArrayTyped, ArithmeticMatchesHandComputedValues) {
  using T = TypeParam;
  NDArray a = NDArray::FromHost(Values<T>({6, 8, 10, 12}), {2, 2});
  NDArray b = NDArray::FromHost(Values<T>({3, 2, 5, 4}), {2, 2});
  EXPECT_THAT(AsDoubles<T>(a + b), ElementsAre(9, 10, 15, 16));
  EXPECT_THAT(AsDoubles<T>(a - b), ElementsAre(3, 6, 5, 8));
  EXPECT_THAT(AsDoubles<T>(a * b), ElementsAre(18, 16, 50, 48));
  EXPECT_THAT(AsDoubles<T>(a / b), ElementsAre(2, 4, 2, 3));
  EXPECT_THAT(AsDoubles<T>(a + 2), ElementsAre(8, 10, 12, 14));
  EXPECT_THAT(AsDoubles<T>(2 + a), ElementsAre(8, 10, 12, 14));
  EXPECT_THAT(AsDoubles<T>(a - 5), ElementsAre(1, 3, 5, 7));
  EXPECT_THAT(AsDoubles<T>(20 - a), ElementsAre(14, 12, 10, 8));
  EXPECT_THAT(AsDoubles<T>(a * 3), ElementsAre(18, 24, 30, 36));
  EXPECT_THAT(AsDoubles<T>(3 * a), ElementsAre(18, 24, 30, 36));
  EXPECT_THAT(AsDoubles<T>(a / 2), ElementsAre(3, 4, 5, 6));
  EXPECT_THAT(AsDoubles<T>(120 / a), ElementsAre(20, 15, 12, 10));
}

TYPED_TEST(NDArrayTyped, InPlaceArithmetic) {
  using T = TypeParam;
  NDArray a = NDArray::FromHost(Values<T>({6, 8, 10, 12}), {4});
  NDArray b = NDArray::FromHost(Values<T>({3, 2, 5, 4}), {4});
  a += b;  // 9 10 15 16
  a -= 1;  // 8 9 14 15
  a *= b;  // 24 18 70 60
  a /= 2;  // 12 9 35 30
  a -= b;  // 9 7 30 26
  a *= 2;  // 18 14 60 52
  a /= b;  // 6 7 12 13
  a += 1;  // 7 8 13 14
  EXPECT_THAT(AsDoubles<T>(a), ElementsAre(7, 8, 13, 14));
  EXPECT_THAT(AsDoubles<T>(b), ElementsAre(3, 2, 5, 4));
}

TYPED_TEST(NDArrayTyped, CastsToEveryOtherType) {
  using T = TypeParam;
  NDArray a = NDArray::FromHost(Values<T>({0, 1, 2, 100}), {4});
  EXPECT_THAT(a.AsType(DType::kFloat32).ToVector<float>(), ElementsAre(0, 1, 2, 100));
  EXPECT_THAT(a.AsType(DType::kInt64).ToVector<int64_t>(), ElementsAre(0, 1, 2, 100));
  EXPECT_THAT(a.AsType(DType::kBool).ToVector<bool>(), ElementsAre(false, true, true, true));
  EXPECT_THAT(AsDoubles<T>(a.AsType(DType::kFloat64).AsType(kDTypeOf<T>)),
              ElementsAre(0, 1, 2, 100));
}

TEST(NDArray, DefaultIsNone) {
  NDArray none;
  EXPECT_TRUE(none.is_none());
  EXPECT_EQ(none.size(), 0);
  EXPECT_EQ(none.var(), nullptr);
  EXPECT_EQ(none.data(), nullptr);
  EXPECT_FALSE(NDArray::Zeros({1}).is_none());
  EXPECT_THAT(ErrorOf<Error>([&] { none.WaitToRead(); }), HasSubstr("none NDArray"));
  EXPECT_THAT(ErrorOf<Error>([&] { none + none; }), HasSubstr("cannot add a none NDArray"));
}

TEST(NDArray, ScalarsAreCastToTheArrayType) {
  NDArray i = NDArray::FromHost<int32_t>({6, 8}, {2});
  EXPECT_THAT((i - 1.5).ToVector<int32_t>(), ElementsAre(5, 7));  // 1.5 -> 1
  EXPECT_THAT((i * 2.9).ToVector<int32_t>(), ElementsAre(12, 16));
  NDArray u = NDArray::FromHost<uint8_t>({250, 3}, {2});
  EXPECT_THAT((u + 10).ToVector<uint8_t>(), ElementsAre(4, 13));   // wraps modulo 256
  EXPECT_THAT((u + -1).ToVector<uint8_t>(), ElementsAre(249, 2));  // -1 becomes 255
  NDArray h = NDArray::FromHost<Half>({Half(1.0f), Half(2.0f)}, {2});
  EXPECT_EQ((h + 0.1).ToVector<Half>()[0].bits(), Half(1.0f + float(Half(0.1f))).bits());
  NDArray f = NDArray::FromHost<float>({1, 2}, {2});
  EXPECT_THAT((f / 3).ToVector<float>(), ElementsAre(1.0f / 3.0f, 2.0f / 3.0f));
}

TEST(NDArray, FullCastsItsValue) {
  EXPECT_THAT(NDArray::Full({2}, 2.7, Context::CPU(), DType::kInt32).ToVector<int32_t>(),
              ElementsAre(2, 2));
  EXPECT_THAT(NDArray::Full({1}, -2.7, Context::CPU(), DType::kInt64).ToVector<int64_t>(),
              ElementsAre(-2));
  EXPECT_THAT(NDArray::Full({1}, -1, Context::CPU(), DType::kUInt8).ToVector<uint8_t>(),
              ElementsAre(255));
  EXPECT_THAT(NDArray::Full({1}, 300, Context::CPU(), DType::kInt8).ToVector<int8_t>(),
              ElementsAre(44));
  EXPECT_TRUE(std::isinf(static_cast<float>(
      NDArray::Full({1}, 70000, Context::CPU(), DType::kFloat16).ToVector<Half>()[0])));
  EXPECT_EQ(NDArray::Full({1}, 0.1, Context::CPU(), DType::kFloat16).ToVector<Half>()[0].bits(),
            0x2e66);
  EXPECT_THAT(NDArray::Full({2}, 0.5, Context::CPU(), DType::kBool).ToVector<bool>(),
              ElementsAre(true, true));
  EXPECT_THAT(NDArray::Full({1}, std::nan(""), Context::CPU(), DType::kInt32).ToVector<int32_t>(),
              ElementsAre(0));
}

TEST(NDArray, BoolArrays) {
  const bool values[] = {true, false, true};
  NDArray b = NDArray::FromHost(std::span<const bool>(values), {3});
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_THAT(b.ToVector<bool>(), ElementsAre(true, false, true));
  EXPECT_THAT(b.AsType(DType::kInt32).ToVector<int32_t>(), ElementsAre(1, 0, 1));
  EXPECT_THAT(NDArray::Zeros({2}, Context::CPU(), DType::kBool).ToVector<bool>(),
              ElementsAre(false, false));
  EXPECT_THAT(ErrorOf<DTypeError>([&] { b + b; }), HasSubstr("cannot add arrays of dtype bool"));
  EXPECT_THAT(ErrorOf<DTypeError>([&] { b *= 2; }),
              HasSubstr("cannot multiply arrays of dtype bool"));
}

TEST(NDArray, IntegerArithmeticWrapsAndDivisionByZeroFailsTheOperation) {
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  NDArray a = NDArray::FromHost<int32_t>({kMax, kMin, -7}, {3});
  EXPECT_THAT((a + 1).ToVector<int32_t>(), ElementsAre(kMin, kMin + 1, -6));
  EXPECT_THAT((a / -1).ToVector<int32_t>(), ElementsAre(-kMax, kMin, 7));
  EXPECT_THAT((a / 2).ToVector<int32_t>(), ElementsAre(kMax / 2, kMin / 2, -3));  // truncates

  NDArray q = a / NDArray::FromHost<int32_t>({1, 0, 1}, {3});
  EXPECT_THAT(ErrorOf<Error>([&] { q.WaitToRead(); }),
              AllOf(HasSubstr("integer division by zero"), HasSubstr("in operation '_div'")));
  NDArray r = 5 / NDArray::Zeros({2}, Context::CPU(), DType::kInt64);
  EXPECT_THAT(
      ErrorOf<Error>([&] { r.ToVector<int64_t>(); }),
      AllOf(HasSubstr("integer division by zero"), HasSubstr("in operation '_rdiv_scalar'")));
  // Floats follow IEEE: no error.
  NDArray inf = NDArray::Ones({1}) / NDArray::Zeros({1});
  EXPECT_TRUE(std::isinf(inf.ToVector<float>()[0]));
}

TEST(NDArray, ChainOfAsyncOpsIsReadOnlyAtTheEnd) {
  NDArray x = NDArray::Zeros({1000});
  NDArray one = NDArray::Ones({1000});
  for (int i = 0; i < 200; ++i) {
    x = x + one;  // a new array each time; the old ones are dropped with work pending
    x *= 1.0;
  }
  NDArray y = x.CopyTo(Context::CPU(1)) * 2;
  y -= 100;
  for (float v : y.ToVector<float>()) ASSERT_EQ(v, 300.0f);
  for (float v : x.ToVector<float>()) ASSERT_EQ(v, 200.0f);
}

TEST(NDArray, OperationsReturnBeforeTheyRun) {
  if (NaiveEngine()) GTEST_SKIP() << "the naive engine runs every operation in the caller";
  NDArray a = NDArray::Ones({4});
  Gate gate;
  Engine::Get().Push([&gate](RunContext) { gate.Wait(); }, a.ctx(), {}, {a.var()}, 0, "test_hold");
  NDArray b = a + 1;  // queued behind the held write
  b *= 3;
  const uint64_t version = b.version();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(b.version(), version) << "an operation ran before its input was written";
  gate.Open();
  EXPECT_THAT(b.ToVector<float>(), ElementsAre(6, 6, 6, 6));
}

TEST(NDArray, CopiesAcrossCpuDevices) {
  NDArray a = NDArray::FromHost<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  StoragePool& pool1 = StoragePool::Get(Context::CPU(1));
  const size_t in_use = pool1.stats().bytes_in_use;
  NDArray b = a.CopyTo(Context::CPU(1));
  EXPECT_EQ(b.ctx(), Context::CPU(1));
  EXPECT_EQ(b.shape(), a.shape());
  EXPECT_NE(b.storage().data(), a.storage().data());
  EXPECT_EQ(pool1.stats().bytes_in_use, in_use + StoragePool::BucketSize(24));
  b += 10;  // runs on cpu(1)
  NDArray c = b.CopyTo(Context::CPU(0));
  EXPECT_EQ(c.ctx(), Context::CPU(0));
  EXPECT_THAT(c.ToVector<float>(), ElementsAre(11, 12, 13, 14, 15, 16));
  EXPECT_THAT(a.ToVector<float>(), ElementsAre(1, 2, 3, 4, 5, 6));

  NDArray d = NDArray::Zeros({2, 3});
  d.CopyFrom(b);
  EXPECT_THAT(d.ToVector<float>(), ElementsAre(11, 12, 13, 14, 15, 16));
  EXPECT_THAT(ErrorOf<ShapeError>([&] {
                d.CopyFrom(NDArray::Zeros({3, 2}));
              }),
              HasSubstr("cannot copy an array of shape (3,2) into an array of shape (2,3)"));
  EXPECT_THAT(ErrorOf<DTypeError>([&] {
                d.CopyFrom(NDArray::Zeros({2, 3}, Context::CPU(), DType::kInt32));
              }),
              HasSubstr("expected dtype float32 but got int32"));
}

TEST(NDArray, PinnedHostArrays) {
  NDArray a = NDArray::FromHost<double>({1, 2}, {2});
  NDArray p = a.CopyTo(Context::CPUPinned(0));
  EXPECT_EQ(p.ctx(), Context::CPUPinned(0));
  p *= 4;
  EXPECT_THAT(p.ToVector<double>(), ElementsAre(4, 8));
  EXPECT_THAT(p.CopyTo(Context::CPU()).ToVector<double>(), ElementsAre(4, 8));
}

TEST(NDArray, HostCopiesInAndOut) {
  NDArray a = NDArray::Zeros({2, 2}, Context::CPU(), DType::kInt64);
  const int64_t in[] = {1, 2, 3, 4};
  a.CopyFromHost(in, 4);
  int64_t out[4] = {};
  (a * 10).CopyToHost(out, 4);
  EXPECT_THAT(out, ElementsAre(10, 20, 30, 40));
  EXPECT_THAT(ErrorOf<DTypeError>([&] { a.ToVector<float>(); }),
              HasSubstr("expected dtype int64 but got float32"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] { a.CopyToHost(out, 3); }),
              HasSubstr("expected room for 4 elements (shape (2,2)) but got 3"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] { a.CopyFromHost(in, 5); }),
              HasSubstr("expected 4 values for an array of shape (2,2) but got 5"));
  EXPECT_THAT(ErrorOf<ShapeError>([] {
                NDArray::FromHost<float>({1, 2, 3}, {2, 2});
              }),
              HasSubstr("expected 4 values for an array of shape (2,2) but got 3"));
}

TEST(NDArray, SlicesShareMemoryBothWays) {
  NDArray a = NDArray::FromHost<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {4, 3});
  NDArray s = a.Slice(1, 3);
  EXPECT_EQ(s.shape(), Shape({2, 3}));
  EXPECT_EQ(s.var(), a.var());
  EXPECT_EQ(s.storage().data(), a.storage().data());
  EXPECT_EQ(s.byte_offset(), 3 * sizeof(float));
  EXPECT_THAT(s.ToVector<float>(), ElementsAre(3, 4, 5, 6, 7, 8));
  s += 100;  // write through the view, read through the array
  EXPECT_THAT(a.ToVector<float>(), ElementsAre(0, 1, 2, 103, 104, 105, 106, 107, 108, 9, 10, 11));
  a *= 2;  // write through the array, read through the view
  EXPECT_THAT(s.ToVector<float>(), ElementsAre(206, 208, 210, 212, 214, 216));
  NDArray empty = a.Slice(4, 4);
  EXPECT_EQ(empty.shape(), Shape({0, 3}));
  EXPECT_EQ(empty.size(), 0);
  EXPECT_THAT(a.Slice(3, 4).Slice(0, 1).ToVector<float>(), ElementsAre(18, 20, 22));
}

TEST(NDArray, ReshapeViewsShareMemory) {
  NDArray a = NDArray::FromHost<int32_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 6});
  NDArray r = a.Reshape({3, -1});
  EXPECT_EQ(r.shape(), Shape({3, 4}));
  EXPECT_EQ(a.Reshape({-1}).shape(), Shape({12}));
  EXPECT_EQ(a.Reshape({2, -1, 2}).shape(), Shape({2, 3, 2}));
  EXPECT_EQ(r.var(), a.var());
  r.Slice(2, 3) -= 100;  // the last row of the (3,4) view is the second half of a's row 1
  EXPECT_THAT(a.ToVector<int32_t>(), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, -92, -91, -90, -89));
  NDArray s = a.Slice(1, 2).Reshape({3, 2});
  EXPECT_EQ(s.byte_offset(), 6 * sizeof(int32_t));
  EXPECT_THAT(s.ToVector<int32_t>(), ElementsAre(6, 7, -92, -91, -90, -89));
}

TEST(NDArray, ErrorMessagesNameBothSides) {
  NDArray a = NDArray::Zeros({2, 3});
  NDArray b = NDArray::Zeros({3, 2});
  NDArray i = NDArray::Zeros({2, 3}, Context::CPU(), DType::kInt32);
  NDArray c1 = NDArray::Zeros({2, 3}, Context::CPU(1));
  EXPECT_THAT(ErrorOf<ShapeError>([&] { a + b; }),
              HasSubstr("cannot add arrays of shape (2,3) and (3,2)"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] { a -= b; }),
              HasSubstr("cannot subtract arrays of shape (2,3) and (3,2)"));
  EXPECT_THAT(ErrorOf<DTypeError>([&] { a* i; }),
              HasSubstr("cannot multiply arrays of dtype float32 and int32: expected dtype "
                        "float32 but got int32"));
  EXPECT_THAT(ErrorOf<Error>([&] { a / c1; }),
              HasSubstr("cannot divide arrays on different contexts cpu(0) and cpu(1)"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] {
                a.Reshape({4, 2});
              }),
              HasSubstr("cannot reshape an array of shape (2,3) (6 elements) to (4,2) (8 "
                        "elements)"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] {
                a.Reshape({-1, -1});
              }),
              HasSubstr("at most one dimension may be -1"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] {
                a.Reshape({4, -1});
              }),
              HasSubstr("6 is not a multiple of the other dimensions' product 4"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] {
                a.Reshape({-2, 3});
              }),
              HasSubstr("expected dimensions >= 0 or one -1 but got -2"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] { a.Slice(1, 5); }),
              HasSubstr("slice [1, 5) is out of range for an array of shape (2,3): expected 0 "
                        "<= begin <= end <= 2"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] { a.Slice(2, 1); }), HasSubstr("slice [2, 1)"));
  EXPECT_THAT(ErrorOf<ShapeError>([&] { a.Slice(-1, 1); }), HasSubstr("slice [-1, 1)"));
  EXPECT_THAT(ErrorOf<ShapeError>([] {
                NDArray::Zeros({2, -3});
              }),
              HasSubstr("expected the dimensions of a new array to be >= 0 but got shape (2,-3)"));
  EXPECT_THAT(ErrorOf<DTypeError>([] { NDArray::Empty({2}, Context::CPU(), DType::kUnknown); }),
              HasSubstr("but got unknown"));
}

TEST(NDArray, AFailedOperationSurfacesAtTheNextWait) {
  NDArray a = NDArray::Ones({3});
  Engine::Get().Push([](RunContext) { throw Error("boom from a test operation"); }, a.ctx(), {},
                     {a.var()}, 0, "test_failing_op");
  NDArray b = a + 1;  // skipped: its input carries the error, which passes on to b
  NDArray c = b * 2;
  EXPECT_THAT(ErrorOf<Error>([&] { c.WaitToRead(); }),
              AllOf(HasSubstr("boom from a test"), HasSubstr("in operation 'test_failing_op'")));
  // The error is rethrown once, wherever it spread (as MXNet): `a` is usable again afterwards.
  a.WaitToRead();
  a.CopyFromHost(std::vector<float>{1, 2, 3}.data(), 3);
  EXPECT_THAT((a + 1).ToVector<float>(), ElementsAre(2, 3, 4));
}

TEST(NDArray, WaitToWriteWaitsForPendingReads) {
  if (NaiveEngine()) GTEST_SKIP() << "the naive engine runs every operation in the caller";
  NDArray a = NDArray::Ones({4});
  a.WaitToRead();
  std::atomic<bool> read_done{false};
  Engine::Get().Push(
      [&read_done](RunContext) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        read_done.store(true);
      },
      a.ctx(), {a.var()}, {}, 0, "test_slow_read");
  a.WaitToWrite();
  EXPECT_TRUE(read_done.load());
}

TEST(NDArray, DroppingArraysWithPendingWorkIsSafe) {
  if (NaiveEngine()) GTEST_SKIP() << "the naive engine runs every operation in the caller";
  const Context ctx = Context::CPU(7);
  StoragePool& pool = StoragePool::Get(ctx);
  Engine::Get().WaitForAll();
  const size_t in_use = pool.stats().bytes_in_use;
  Gate gate;
  NDArray out = NDArray::Zeros({256}, ctx);
  {
    NDArray in = NDArray::Full({256}, 5, ctx);
    Engine::Get().Push([&gate](RunContext) { gate.Wait(); }, ctx, {}, {in.var()}, 0, "test_hold");
    out += in;  // reads `in` after the held operation
  }             // `in` is gone, its work is not
  EXPECT_EQ(pool.stats().bytes_in_use, in_use + 2 * StoragePool::BucketSize(1024))
      << "the block of a dropped array was freed while operations on it were pending";
  gate.Open();
  EXPECT_THAT(out.ToVector<float>(), ::testing::Each(5.0f));
  out = NDArray();
  Engine::Get().WaitForAll();
  EXPECT_EQ(pool.stats().bytes_in_use, in_use);
}

TEST(NDArray, MemoryReturnsToThePoolAndIsReused) {
  const Context ctx = Context::CPU(8);
  StoragePool& pool = StoragePool::Get(ctx);
  Engine::Get().WaitForAll();
  const StorageStats before = pool.stats();
  for (int i = 0; i < 50; ++i) {
    NDArray a = NDArray::Ones({64, 64}, ctx);
    NDArray b = a * 3 + a;
    EXPECT_EQ(b.ToVector<float>()[4095], 4.0f);
  }
  Engine::Get().WaitForAll();
  const StorageStats after = pool.stats();
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_GT(after.reuses, before.reuses + 50);
  EXPECT_GT(after.bytes_pooled, 0u);
}

TEST(NDArray, ConcurrentWritersAreSerialisedByTheEngine) {
  NDArray a = NDArray::Zeros({16}, Context::CPU(), DType::kInt64);
  NDArray one = NDArray::Ones({16}, Context::CPU(), DType::kInt64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) a += one;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(a.ToVector<int64_t>(), ::testing::Each(1000));
}

TEST(NDArray, GpuWithoutGpuIsAClearError) {
  if (NumGpus() > 0) GTEST_SKIP() << "a GPU is present; GpuRoundTrip covers it";
  const std::string msg = ErrorOf<Error>([] { NDArray::Zeros({2}, Context::GPU(0)); });
  EXPECT_THAT(msg, AnyOf(HasSubstr("built without CUDA"), HasSubstr("no GPU available")));
  EXPECT_THAT(ErrorOf<Error>([] { NDArray::Ones({2}).CopyTo(Context::GPU(0)); }),
              HasSubstr("gpu(0)"));
}

TEST(NDArray, GpuRoundTrip) {
  if (NumGpus() == 0) GTEST_SKIP() << "no GPU on this machine";
  NDArray a = NDArray::FromHost<float>({1, 2, 3}, {3});
  NDArray g = a.CopyTo(Context::GPU(0));
  EXPECT_EQ(g.ctx(), Context::GPU(0));
  EXPECT_THAT(g.ToVector<float>(), ElementsAre(1, 2, 3));
  NDArray g2 = g.CopyTo(Context::GPU(0));
  EXPECT_THAT(g2.CopyTo(Context::CPU(1)).ToVector<float>(), ElementsAre(1, 2, 3));
  EXPECT_THAT(NDArray::Full({2}, 4, Context::GPU(0), DType::kInt32).ToVector<int32_t>(),
              ElementsAre(4, 4));
  NDArray h = NDArray::FromHost<double>({5, 6}, {2}, Context::GPU(0));
  EXPECT_THAT(h.ToVector<double>(), ElementsAre(5, 6));
  EXPECT_THAT(ErrorOf<NotSupportedError>([&] { g + g; }), HasSubstr("_plus has no kernel"));
}

}  // namespace
}  // namespace loom
