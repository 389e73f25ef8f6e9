// MXNet .params files: fixtures written by MXNet 1.9.1 (tests/data/mxnet-params/make_fixtures.py,
// expected values and raw bytes in expected.json) load with the right keys, shapes, dtypes and
// bytes; Loom's writer reproduces MXNet's files byte for byte; loom_written.params (checked with
// mx.nd.load by the script) is what Loom writes; truncated and corrupt files are DataErrors naming
// the file and byte offset, never crashes or huge allocations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>

#include "io_test_util.h"
#include "loom/core/json.h"
#include "loom/scheduler/error.h"
#include "loom/train/mxnet_params.h"

namespace loom::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RawRead;
using testing::ScratchDir;

std::string Fixture(const std::string& name) {
  return std::string(LOOM_TEST_DATA_DIR) + "/mxnet-params/" + name;
}

const JsonValue& Expected() {
  static const JsonValue* expected =
      new JsonValue(ParseJson(RawRead(Fixture("expected.json")), "expected.json"));
  return *expected;
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string Bytes(const NDArray& a) {
  a.WaitToRead();
  return std::string(static_cast<const char*>(a.data()), a.nbytes());
}

// Every key of expected.json's entry `file` is in `arrays` with its shape, dtype and exact bytes.
void ExpectMatchesFixture(const NamedArrays& arrays, const std::string& file) {
  const JsonValue& entry = Expected().Get(file);
  ASSERT_EQ(arrays.size(), entry.members().size()) << file;
  for (const auto& [key, want] : entry.members()) {
    SCOPED_TRACE(file + " " + key);
    auto it = arrays.find(key);
    ASSERT_NE(it, arrays.end());
    const NDArray& a = it->second;
    std::vector<int64_t> shape;
    for (const JsonValue& d : want.Get("shape").items()) shape.push_back(d.AsInt());
    EXPECT_EQ(a.shape(), Shape(shape));
    EXPECT_EQ(ToString(a.dtype()), want.Get("dtype").AsString());
    EXPECT_EQ(Bytes(a), Unhex(want.Get("data_hex").AsString()));
  }
}

TEST(IoParams, LoadsMXNetSaveCheckpointFile) {
  const NamedArrays params = LoadMXNetParams(Fixture("mlp-0001.params"));
  std::vector<std::string> keys;
  for (const auto& [k, v] : params) keys.push_back(k);
  EXPECT_THAT(keys, ElementsAre("arg:bn1_beta", "arg:bn1_gamma", "arg:fc1_bias", "arg:fc1_weight",
                                "arg:fc2_bias", "arg:fc2_weight", "aux:bn1_moving_mean",
                                "aux:bn1_moving_var"));
  EXPECT_EQ(params.at("arg:fc1_weight").shape(), Shape({8, 4}));
  EXPECT_EQ(params.at("arg:fc2_weight").shape(), Shape({3, 8}));
  EXPECT_EQ(params.at("aux:bn1_moving_var").shape(), Shape({8}));
  // numpy.random.RandomState(0).uniform(-1, 1) as float32: first value 0.0976270064...
  EXPECT_FLOAT_EQ(params.at("arg:fc1_weight").ToVector<float>()[0], 0.09762700647115707f);
  EXPECT_EQ(params.at("arg:fc1_weight").ctx(), Context::CPU());
  ExpectMatchesFixture(params, "mlp-0001.params");
}

TEST(IoParams, LoadsEveryDtype) {
  const NamedArrays a = LoadMXNetParams(Fixture("dtypes.params"));
  ExpectMatchesFixture(a, "dtypes.params");
  EXPECT_EQ(a.at("f32").shape(), Shape({2, 2, 2}));
  EXPECT_EQ(a.at("f32").ToVector<float>(),
            (std::vector<float>{0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(a.at("f64").ToVector<double>(),
            (std::vector<double>{0.5, -1.25, 3.0, 1e-300, -0.0, 12345.678}));
  EXPECT_EQ(a.at("f16").dtype(), DType::kFloat16);
  EXPECT_EQ(a.at("u8").ToVector<uint8_t>(), (std::vector<uint8_t>{0, 128, 255}));
  EXPECT_EQ(a.at("i32").ToVector<int32_t>(),
            (std::vector<int32_t>{1, -2, 2147483647, -2147483647 - 1}));
  EXPECT_EQ(a.at("i8").ToVector<int8_t>(), (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(a.at("i64").ToVector<int64_t>(), (std::vector<int64_t>{int64_t{1} << 40, -5}));
  EXPECT_EQ(a.at("b").ToVector<bool>(), (std::vector<bool>{true, false, false, true}));
}

TEST(IoParams, LoadsNumpyShapeRecords) {
  const NamedArrays a = LoadMXNetParams(Fixture("numpy_shape.params"));
  ExpectMatchesFixture(a, "numpy_shape.params");
  EXPECT_EQ(a.at("scalar").shape(), Shape());
  EXPECT_EQ(a.at("scalar").ToVector<float>(), std::vector<float>{2.5f});
  EXPECT_EQ(a.at("empty").shape(), Shape({0}));
  EXPECT_EQ(a.at("empty2").shape(), Shape({2, 0}));
  EXPECT_EQ(a.at("v").ToVector<float>(), (std::vector<float>{1, 2}));
}

TEST(IoParams, LoadsLegacyRecords) {
  for (const char* file : {"legacy_v1.params", "legacy_nomagic.params"}) {
    const NamedArrays a = LoadMXNetParams(Fixture(file));
    ExpectMatchesFixture(a, file);
    EXPECT_EQ(a.at("arg:v1").ToVector<double>(), (std::vector<double>{1, 2, 3, 4}));
    EXPECT_EQ(a.at("arg:w").shape(), Shape({1, 3}));
    EXPECT_EQ(a.at("arg:w").ToVector<int32_t>(), (std::vector<int32_t>{5, 6, 7}));
  }
}

TEST(IoParams, UnnamedListParsesButIsNoParamsFile) {
  const std::string bytes = RawRead(Fixture("list.params"));
  const MXNetArrayList list = ParseMXNetArrayList(bytes, "list.params");
  EXPECT_TRUE(list.names.empty());
  ASSERT_EQ(list.arrays.size(), 2u);
  EXPECT_EQ(list.arrays[0].ToVector<int32_t>(), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(list.arrays[1].shape(), Shape({1, 1}));
  EXPECT_EQ(list.arrays[1].ToVector<float>(), std::vector<float>{0.5f});
  EXPECT_EQ(SerializeMXNetArrayList(list), bytes);  // MXNet's bytes exactly
  try {
    LoadMXNetParams(Fixture("list.params"));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("list.params"));
    EXPECT_THAT(e.what(), HasSubstr("have no names"));
  }
}

TEST(IoParams, SparseArraysAreNotSupported) {
  try {
    LoadMXNetParams(Fixture("sparse.params"));
    FAIL() << "expected NotSupportedError";
  } catch (const NotSupportedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("sparse.params: at byte 28: array 0 has storage type "
                                    "row_sparse"));
    EXPECT_THAT(e.what(), HasSubstr(".tostype('default')"));
  }
}

TEST(IoParams, SaveReproducesMXNetFileByteForByte) {
  ScratchDir dir;
  const NamedArrays params = LoadMXNetParams(Fixture("sorted.params"));
  SaveMXNetParams(dir / "resaved.params", params);
  EXPECT_EQ(RawRead(dir / "resaved.params"), RawRead(Fixture("sorted.params")));
  // The MXNet checkpoint file holds the same arrays in another order.
  EXPECT_EQ(RawRead(dir / "resaved.params").size(), RawRead(Fixture("mlp-0001.params")).size());
  ExpectMatchesFixture(LoadMXNetParams(dir / "resaved.params"), "mlp-0001.params");
}

// The arrays of make_fixtures.py's LOOM_WRITTEN, stated literally.
NamedArrays LoomWrittenArrays() {
  NamedArrays a;
  a["f32"] = NDArray::FromHost<float>({0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75}, {2, 2, 2});
  a["f64"] = NDArray::FromHost<double>({0.5, -1.25, 3.0, 1e-300, -0.0, 12345.678}, {2, 3});
  a["f16"] = NDArray::FromHost<Half>({Half(1.5f), Half(-65504.0f)}, {2});
  a["u8"] = NDArray::FromHost<uint8_t>({0, 128, 255}, {3});
  a["i32"] = NDArray::FromHost<int32_t>({1, -2, 2147483647, -2147483647 - 1}, {4});
  a["i8"] = NDArray::FromHost<int8_t>({-128, 127}, {2});
  a["i64"] = NDArray::FromHost<int64_t>({int64_t{1} << 40, -5}, {2});
  const bool b[] = {true, false, false, true};
  a["b"] = NDArray::FromHost<bool>(std::span<const bool>(b), {2, 2});
  a["scalar"] = NDArray::FromHost<float>({2.5f}, Shape());
  a["empty"] = NDArray::Zeros({0, 3});
  return a;
}

// LOOM_IO_WRITE_FIXTURES=<dir> writes the file there (how the committed one was made); the
// script's verify-loom step then loads it with MXNet.
TEST(IoParams, LoomWrittenFileMatchesFixture) {
  const NamedArrays arrays = LoomWrittenArrays();
  if (const char* out = std::getenv("LOOM_IO_WRITE_FIXTURES")) {
    SaveMXNetParams(std::string(out) + "/loom_written.params", arrays);
  }
  ScratchDir dir;
  SaveMXNetParams(dir / "w.params", arrays);
  EXPECT_EQ(RawRead(dir / "w.params"), RawRead(Fixture("loom_written.params")));
  const NamedArrays back = LoadMXNetParams(dir / "w.params");
  ExpectMatchesFixture(back, "loom_written");
  EXPECT_EQ(static_cast<float>(back.at("f16").ToVector<Half>()[1]), -65504.0f);
}

TEST(IoParams, NoneAndDeviceIndependentRoundTrip) {
  MXNetArrayList list;
  list.arrays = {NDArray(), NDArray::FromHost<float>({1, 2}, {2}, Context::CPU(1))};
  list.names = {"none", "on_cpu1"};
  const std::string bytes = SerializeMXNetArrayList(list);
  const MXNetArrayList back = ParseMXNetArrayList(bytes, "mem");
  ASSERT_EQ(back.arrays.size(), 2u);
  EXPECT_TRUE(back.arrays[0].is_none());
  EXPECT_EQ(back.arrays[1].ctx(), Context::CPU());  // saved as cpu(0), as MXNet reads it
  EXPECT_EQ(back.arrays[1].ToVector<float>(), (std::vector<float>{1, 2}));
  EXPECT_THAT(back.names, ElementsAre("none", "on_cpu1"));
  // With a 0-d array the file is in numpy-shape records, where a none array has ndim -1.
  list.arrays.push_back(NDArray::FromHost<float>({3}, Shape()));
  list.names.push_back("scalar");
  const std::string numpy_bytes = SerializeMXNetArrayList(list);
  uint32_t magic;
  std::memcpy(&magic, numpy_bytes.data() + 24, 4);
  EXPECT_EQ(magic, 0xF993FACAu);
  int32_t ndim;
  std::memcpy(&ndim, numpy_bytes.data() + 32, 4);
  EXPECT_EQ(ndim, -1);
  const MXNetArrayList numpy_back = ParseMXNetArrayList(numpy_bytes, "mem");
  EXPECT_TRUE(numpy_back.arrays[0].is_none());
  EXPECT_EQ(numpy_back.arrays[2].shape(), Shape());
  list.names.pop_back();
  EXPECT_THROW(SerializeMXNetArrayList(list), Error);
}

TEST(IoParams, NumpyShapeFileReserializesToMXNetBytes) {
  const std::string bytes = RawRead(Fixture("numpy_shape.params"));
  EXPECT_EQ(SerializeMXNetArrayList(ParseMXNetArrayList(bytes, "numpy_shape.params")), bytes);
}

TEST(IoParams, MissingFileIsIoError) {
  try {
    LoadMXNetParams("/nonexistent/net-0001.params");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/net-0001.params"));
  }
}

// Every strict prefix of a valid file is a DataError naming the file and an offset.
TEST(IoParams, TruncatedAtEveryOffsetIsDataError) {
  for (const char* file : {"mlp-0001.params", "dtypes.params", "numpy_shape.params",
                           "legacy_v1.params", "legacy_nomagic.params"}) {
    const std::string bytes = RawRead(Fixture(file));
    for (size_t n = 0; n < bytes.size(); ++n) {
      try {
        ParseMXNetArrayList(std::string_view(bytes).substr(0, n), file);
        ADD_FAILURE() << file << " truncated to " << n << " bytes parsed";
      } catch (const DataError& e) {
        EXPECT_THAT(e.what(), HasSubstr(std::string(file) + ": at byte ")) << n;
      }
    }
  }
}

template <typename T>
void Put(std::string& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

std::string ParseError(const std::string& bytes) {
  try {
    ParseMXNetArrayList(bytes, "bad.params");
  } catch (const Error& e) {
    return e.what();
  }
  return "parsed";
}

// dtypes.params: header 24 bytes, first record (f32, 3-d) magic at 24, stype 28, ndim 32,
// dims 36..60, dev_type 60, dev_id 64, type code 68, data 72..104.
TEST(IoParams, CorruptFieldsNameOffsetAndExpectation) {
  const std::string good = RawRead(Fixture("dtypes.params"));
  std::string b = good;
  Put<uint64_t>(b, 0, 0x113);
  EXPECT_THAT(ParseError(b), HasSubstr("bad.params: at byte 0: expected the NDArray list magic "
                                       "0x112 (an MXNet .params / mx.nd.save file) but got 0x113"));
  b = good;
  Put<uint64_t>(b, 16, uint64_t{1} << 60);
  EXPECT_THAT(ParseError(b), HasSubstr("at byte 16: expected an array count of at most"));
  b = good;
  Put<int32_t>(b, 32, 1 << 30);
  EXPECT_THAT(ParseError(b), HasSubstr("at byte 32: array 0: expected a number of dimensions"));
  b = good;
  Put<int64_t>(b, 36, -3);
  EXPECT_THAT(ParseError(b),
              HasSubstr("at byte 36: array 0: expected a dimension >= 0 but got -3"));
  b = good;
  Put<int64_t>(b, 36, int64_t{1} << 50);
  EXPECT_THAT(ParseError(b), HasSubstr("at byte 72: truncated: array 0 of shape "
                                       "(1125899906842624,2,2) and dtype float32 needs "
                                       "4503599627370496 elements of 4 bytes, more than the"));
  b = good;
  Put<int64_t>(b, 36, int64_t{1} << 62);
  Put<int64_t>(b, 44, int64_t{1} << 62);
  Put<int64_t>(b, 52, 0);
  EXPECT_THAT(ParseError(b), HasSubstr("at byte 68: array 0: expected a shape whose element count "
                                       "fits in int64 but got (4611686018427387904,"
                                       "4611686018427387904,0)"));
  b = good;
  Put<int32_t>(b, 60, 7);
  EXPECT_THAT(ParseError(b), HasSubstr("at byte 60: array 0 (record at byte 24): expected a "
                                       "device type (1 cpu, 2 gpu, 3 cpu_pinned, 5 cpu_shared) "
                                       "but got 7"));
  b = good;
  Put<int32_t>(b, 68, 12);
  EXPECT_THAT(ParseError(b), HasSubstr("at byte 68: array 0 has dtype bfloat16"));
  b = good;
  Put<int32_t>(b, 68, 99);
  EXPECT_THAT(ParseError(b),
              HasSubstr("at byte 68: array 0: expected a type code 0..7 but got 99"));
  b = good;
  Put<int32_t>(b, 28, 9);
  EXPECT_THAT(ParseError(b), HasSubstr("at byte 28: array 0: expected storage type 0 (dense) "
                                       "but got 9"));
  b = good + "xyz";
  EXPECT_THAT(ParseError(b), HasSubstr("at byte " + std::to_string(good.size()) +
                                       ": expected the end of the file after the names but 3 "
                                       "more bytes follow"));
  b = good;
  Put<uint32_t>(b, 24, 0x7FFFFFF0u);  // neither a magic nor a plausible legacy ndim
  EXPECT_THAT(ParseError(b), HasSubstr("at byte 24: array 0: expected a number of dimensions"));
  EXPECT_THAT(ParseError(b), HasSubstr("legacy record without magic"));
}

TEST(IoParams, NameCountMismatchAndDuplicateNames) {
  MXNetArrayList list;
  list.arrays = {NDArray::Ones({1}), NDArray::Ones({1})};
  list.names = {"arg:a", "arg:a"};
  ScratchDir dir;
  testing::RawWrite(dir / "dup.params", SerializeMXNetArrayList(list));
  EXPECT_THROW(
      {
        try {
          LoadMXNetParams(dir / "dup.params");
        } catch (const DataError& e) {
          EXPECT_THAT(e.what(), HasSubstr("\"arg:a\" appears twice"));
          throw;
        }
      },
      DataError);
  std::string bytes = SerializeMXNetArrayList(list);
  // The name count follows the two 4+4+4+8+4+4+4+4 = 36-byte records after the 24-byte header.
  Put<uint64_t>(bytes, 24 + 2 * 36, 1);
  EXPECT_THAT(ParseError(bytes), HasSubstr("at byte 96: expected 2 names (one per array) or none "
                                           "but got 1"));
}

// Random byte corruptions of real files: either a clean parse or a loom::Error, nothing else.
TEST(IoParams, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(7);
  int parsed = 0, rejected = 0;
  for (const char* file : {"mlp-0001.params", "dtypes.params", "numpy_shape.params"}) {
    const std::string good = RawRead(Fixture(file));
    for (int trial = 0; trial < 3000; ++trial) {
      std::string b = good;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) b[rng() % b.size()] = static_cast<char>(rng());
      try {
        ParseMXNetArrayList(b, file);
        ++parsed;  // edits inside the data or names leave a valid file
      } catch (const Error&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(parsed, 1000);
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace loom::train
