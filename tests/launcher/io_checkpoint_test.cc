// Checkpoints: tensors round-trip for every dtype; Save writes the file, then the pointer, and
// prunes; a write failing half way keeps the previous checkpoint and pointer and leaves no partial
// file; truncated, corrupt, foreign and wrong-version files are CheckpointErrors naming path and
// field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "io_test_util.h"
#include "loom/scheduler/error.h"
#include "loom/train/atomic_file.h"
#include "loom/train/checkpoint.h"
#include "loom/train/event_writer.h"

namespace loom::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RawRead;
using testing::RawWrite;
using testing::ScratchDir;
using ::testing::StartsWith;

std::string Bytes(const NDArray& a) {
  a.WaitToRead();
  return std::string(static_cast<const char*>(a.data()), a.nbytes());
}

TEST(IoCheckpoint, TensorRoundTripsEveryDtypeAndShape) {
  const bool flags[] = {true, false, true};
  const std::vector<NDArray> arrays = {
      NDArray::FromHost<float>({1.5f, -2, 3, 4, 5, 6}, {2, 3}),
      NDArray::FromHost<double>({1e-300}, Shape()),
      NDArray::FromHost<Half>({Half(0.5f), Half(-3.0f)}, {2}),
      NDArray::FromHost<uint8_t>({0, 255}, {2, 1}),
      NDArray::FromHost<int32_t>({-7}, {1}),
      NDArray::FromHost<int8_t>({-128}, {1}),
      NDArray::FromHost<int64_t>({int64_t{1} << 62}, {1, 1, 1}),
      NDArray::FromHost<bool>(std::span<const bool>(flags), {3}),
      NDArray::Zeros({4, 0, 2}),
  };
  for (const NDArray& a : arrays) {
    SCOPED_TRACE(std::string(ToString(a.dtype())) + " " + a.shape().ToString());
    const proto::Tensor t = ToTensor(a, "x");
    EXPECT_EQ(t.name(), "x");
    EXPECT_EQ(t.dtype(), static_cast<int>(a.dtype()));
    EXPECT_EQ(std::vector<int64_t>(t.shape().begin(), t.shape().end()), a.shape().dims());
    EXPECT_EQ(t.data().size(), a.nbytes());
    const NDArray back = FromTensor(t);
    EXPECT_EQ(back.shape(), a.shape());
    EXPECT_EQ(back.dtype(), a.dtype());
    EXPECT_EQ(Bytes(back), Bytes(a));
  }
  // A view: only its own elements.
  const NDArray rows = arrays[0].Slice(1, 2);
  EXPECT_EQ(FromTensor(ToTensor(rows)).ToVector<float>(), (std::vector<float>{4, 5, 6}));
  EXPECT_THROW(ToTensor(NDArray()), Error);
}

TEST(IoCheckpoint, FromTensorRejectsInconsistentTensors) {
  proto::Tensor t = ToTensor(NDArray::FromHost<float>({1, 2, 3, 4}, {2, 2}), "fc1_weight");
  proto::Tensor bad = t;
  bad.set_data(t.data().substr(0, 12));
  EXPECT_THAT(
      [&] { FromTensor(bad); },
      ::testing::ThrowsMessage<CheckpointError>(HasSubstr(
          "tensor 'fc1_weight': data: expected 16 bytes (shape (2,2), float32) but got 12")));
  bad = t;
  bad.set_dtype(42);
  EXPECT_THAT([&] { FromTensor(bad); }, ::testing::ThrowsMessage<CheckpointError>(
                                            HasSubstr("dtype: expected an MXNet type code 0..7 "
                                                      "but got 42")));
  bad = t;
  bad.set_shape(1, -2);
  EXPECT_THAT([&] { FromTensor(bad); }, ::testing::ThrowsMessage<CheckpointError>(
                                            HasSubstr("shape[1]: expected a dimension >= 0")));
  bad = t;
  bad.set_shape(0, int64_t{1} << 61);
  EXPECT_THAT([&] { FromTensor(bad); },
              ::testing::ThrowsMessage<CheckpointError>(
                  HasSubstr("data: expected 4611686018427387904 elements of 4 bytes (shape "
                            "(2305843009213693952,2), float32) but got 16")));
  bad.set_shape(1, int64_t{1} << 62);  // the element count overflows int64
  EXPECT_THAT([&] { FromTensor(bad); },
              ::testing::ThrowsMessage<CheckpointError>(
                  HasSubstr("shape: expected an element count that fits in int64")));
  bad.add_shape(0);  // ... even when a later zero makes the product 0
  bad.clear_data();
  EXPECT_THROW(FromTensor(bad), CheckpointError);
  bad.set_shape(0, 0);  // a leading zero: no bytes, however large the others
  EXPECT_EQ(FromTensor(bad).shape(), Shape({0, int64_t{1} << 62, 0}));
}

proto::CheckpointFile SampleCheckpoint(int64_t num_update) {
  proto::CheckpointFile c;
  c.mutable_config()->set_name("mlp_test");
  c.mutable_config()->mutable_optimizer()->set_lr(0.05f);
  c.set_symbol_json("{\"nodes\": []}");
  *c.add_arg_params() =
      ToTensor(NDArray::FromHost<float>({1, 2, 3, 4, 5, 6}, {2, 3}), "fc1_weight");
  *c.add_arg_params() = ToTensor(NDArray::FromHost<float>({0.5f, -0.5f}, {2}), "fc1_bias");
  *c.add_aux_params() = ToTensor(NDArray::FromHost<float>({1, 1}, {2}), "bn1_moving_var");
  *c.add_optimizer_state() =
      ToTensor(NDArray::FromHost<float>({0.1f, 0.2f}, {2}), "fc1_bias/momentum");
  c.set_num_update(num_update);
  c.set_epoch(2);
  c.set_batch_in_epoch(17);
  c.set_rng_state("123 456 789");
  (*c.mutable_metrics())["train_accuracy"] = 0.875;
  return c;
}

TEST(IoCheckpoint, SaveWritesFileAndPointerAndLoadsBack) {
  ScratchDir dir;
  CheckpointDir ckpts(dir / "checkpoints");
  EXPECT_EQ(ckpts.Latest(), std::nullopt);
  const proto::CheckpointFile c = SampleCheckpoint(1000);
  const std::string path = ckpts.Save(c, CheckpointDir::UpdateTag(1000));
  EXPECT_EQ(path, dir / "checkpoints/ckpt-0001000.pb");
  EXPECT_EQ(RawRead(dir / "checkpoints/last_checkpoint"), "ckpt-0001000.pb\n");
  EXPECT_EQ(ckpts.Latest(), path);
  EXPECT_THAT(dir.List(), ElementsAre("checkpoints"));

  const proto::CheckpointFile back = LoadCheckpoint(*ckpts.Latest());
  EXPECT_EQ(back.format_version(), kCheckpointFormatVersion);
  EXPECT_THAT(back.framework_version(), StartsWith("loom "));
  EXPECT_EQ(back.tag(), "0001000");
  EXPECT_GT(back.wall_time(), 1.6e9);
  EXPECT_FALSE(back.has_payload_bytes());
  EXPECT_EQ(back.config().name(), "mlp_test");
  EXPECT_FLOAT_EQ(back.config().optimizer().lr(), 0.05f);
  EXPECT_EQ(back.symbol_json(), c.symbol_json());
  ASSERT_EQ(back.arg_params_size(), 2);
  EXPECT_EQ(back.arg_params(0).name(), "fc1_weight");
  EXPECT_EQ(FromTensor(back.arg_params(0)).ToVector<float>(),
            (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(FromTensor(back.aux_params(0)).shape(), Shape({2}));
  EXPECT_EQ(back.optimizer_state(0).name(), "fc1_bias/momentum");
  EXPECT_EQ(back.num_update(), 1000);
  EXPECT_EQ(back.epoch(), 2);
  EXPECT_EQ(back.batch_in_epoch(), 17);
  EXPECT_EQ(back.rng_state(), "123 456 789");
  EXPECT_DOUBLE_EQ(back.metrics().at("train_accuracy"), 0.875);

  // Fields the caller set are kept.
  proto::CheckpointFile own = c;
  own.set_tag("custom");
  own.set_wall_time(12.5);
  const proto::CheckpointFile own_back = LoadCheckpoint(ckpts.Save(own, "final"));
  EXPECT_EQ(own_back.tag(), "custom");
  EXPECT_EQ(own_back.wall_time(), 12.5);
  EXPECT_EQ(RawRead(dir / "checkpoints/last_checkpoint"), "ckpt-final.pb\n");
}

TEST(IoCheckpoint, FileLayoutIsPayloadThenSixteenByteTrailer) {
  const std::string bytes = SerializeCheckpoint(SampleCheckpoint(5));
  const size_t payload = bytes.size() - 16;
  // Field 1000, wire type 1 (fixed64): varint 8001 = 0xC1 0x3E; field 1001, wire type 5: 0xCD 0x3E.
  EXPECT_EQ(static_cast<unsigned char>(bytes[payload]), 0xC1);
  EXPECT_EQ(static_cast<unsigned char>(bytes[payload + 1]), 0x3E);
  uint64_t length;
  std::memcpy(&length, bytes.data() + payload + 2, 8);
  EXPECT_EQ(length, payload);
  EXPECT_EQ(static_cast<unsigned char>(bytes[payload + 10]), 0xCD);
  uint32_t crc;
  std::memcpy(&crc, bytes.data() + payload + 12, 4);
  EXPECT_EQ(crc, Crc32c(std::string_view(bytes).substr(0, payload)));
  // The whole file also decodes as one CheckpointFile (e.g. with protoc --decode).
  proto::CheckpointFile whole;
  ASSERT_TRUE(whole.ParseFromString(bytes));
  EXPECT_EQ(whole.payload_bytes(), payload);
  EXPECT_EQ(whole.num_update(), 5);
}

TEST(IoCheckpoint, PrunesOldestPeriodicCheckpointsButNeverOthers) {
  ScratchDir dir;
  CheckpointDir ckpts(dir.path(), /*keep=*/2);
  for (int64_t n : {100, 200, 300}) ckpts.Save(SampleCheckpoint(n), CheckpointDir::UpdateTag(n));
  ckpts.Save(SampleCheckpoint(300), "final");
  ckpts.Save(SampleCheckpoint(250), "interrupted");
  ckpts.Save(SampleCheckpoint(1000), CheckpointDir::UpdateTag(1000));
  EXPECT_THAT(dir.List(), ElementsAre("ckpt-0000300.pb", "ckpt-0001000.pb", "ckpt-final.pb",
                                      "ckpt-interrupted.pb", "last_checkpoint"));
  // Numeric order, not text order; the file just written survives even when older.
  ckpts.Save(SampleCheckpoint(99999999), "99999999");
  ckpts.Save(SampleCheckpoint(50), CheckpointDir::UpdateTag(50));
  EXPECT_THAT(dir.List(), ElementsAre("ckpt-0000050.pb", "ckpt-99999999.pb", "ckpt-final.pb",
                                      "ckpt-interrupted.pb", "last_checkpoint"));
  EXPECT_EQ(*ckpts.Latest(), dir / "ckpt-0000050.pb");

  ScratchDir all;
  CheckpointDir keep_all(all.path(), /*keep=*/0);
  for (int64_t n : {1, 2, 3, 4}) keep_all.Save(SampleCheckpoint(n), CheckpointDir::UpdateTag(n));
  EXPECT_EQ(all.List().size(), 5u);
}

TEST(IoCheckpoint, WriteFailingHalfWayKeepsPreviousCheckpointAndPointer) {
  ScratchDir dir;
  CheckpointDir ckpts(dir.path(), 3);
  const std::string first = ckpts.Save(SampleCheckpoint(10), CheckpointDir::UpdateTag(10));
  const std::string first_bytes = RawRead(first);
  detail::SetWriteFailureAfterBytesForTesting(64);
  EXPECT_THROW(ckpts.Save(SampleCheckpoint(20), CheckpointDir::UpdateTag(20)), IoError);
  detail::SetWriteFailureAfterBytesForTesting(std::nullopt);
  EXPECT_THAT(dir.List(), ElementsAre("ckpt-0000010.pb", "last_checkpoint"));
  EXPECT_EQ(*ckpts.Latest(), first);
  EXPECT_EQ(RawRead(first), first_bytes);
  EXPECT_EQ(LoadCheckpoint(first).num_update(), 10);
}

TEST(IoCheckpoint, StaleTemporariesOfACrashedSaveAreRemoved) {
  ScratchDir dir;
  RawWrite(dir / "ckpt-0000020.pb.tmp.4242.0", "half");
  RawWrite(dir / "last_checkpoint.tmp.4242.1", "ckpt");
  RawWrite(dir / "notes.txt", "user file");
  CheckpointDir(dir.path()).Save(SampleCheckpoint(30), CheckpointDir::UpdateTag(30));
  EXPECT_THAT(dir.List(), ElementsAre("ckpt-0000030.pb", "last_checkpoint", "notes.txt"));
}

TEST(IoCheckpoint, TagsAndPointerErrors) {
  EXPECT_EQ(CheckpointDir::UpdateTag(1000), "0001000");
  EXPECT_EQ(CheckpointDir::UpdateTag(123456789), "123456789");
  ScratchDir dir;
  CheckpointDir ckpts(dir.path());
  EXPECT_THROW(ckpts.Save(SampleCheckpoint(1), "../escape"), Error);
  EXPECT_THROW(ckpts.Save(SampleCheckpoint(1), ""), Error);
  EXPECT_THROW(CheckpointDir(dir.path(), -1), Error);
  RawWrite(dir / "last_checkpoint", "ckpt-0000007.pb\n");
  EXPECT_THAT([&] { ckpts.Latest(); }, ::testing::ThrowsMessage<CheckpointError>(HasSubstr(
                                           "last_checkpoint: names " + (dir / "ckpt-0000007.pb") +
                                           ", which does not exist")));
  RawWrite(dir / "last_checkpoint", "\n");
  EXPECT_THROW(ckpts.Latest(), CheckpointError);
}

std::string LoadError(const std::string& path) {
  try {
    LoadCheckpoint(path);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "loaded";
}

TEST(IoCheckpoint, TruncatedFilesAreCheckpointErrorsNamingPathAndField) {
  ScratchDir dir;
  const std::string good = SerializeCheckpoint(SampleCheckpoint(7));
  const std::string path = dir / "ckpt-0000007.pb";
  for (size_t n = 0; n < good.size(); n += (n < 64 || n + 64 > good.size()) ? 1 : 7) {
    RawWrite(path, good.substr(0, n));
    const std::string message = LoadError(path);
    EXPECT_THAT(message, StartsWith(path + ": payload_")) << n;
  }
  RawWrite(path, good.substr(0, good.size() - 1));
  EXPECT_THAT(LoadError(path), HasSubstr("payload_bytes: expected the checkpoint trailer"));
  RawWrite(path, good.substr(0, 10));
  EXPECT_THAT(LoadError(path), HasSubstr("the file has only 10 bytes"));
}

TEST(IoCheckpoint, CorruptForeignAndWrongVersionFiles) {
  ScratchDir dir;
  const std::string path = dir / "c.pb";
  std::string bytes = SerializeCheckpoint(SampleCheckpoint(7));
  bytes[bytes.size() / 2] ^= 0x10;
  RawWrite(path, bytes);
  EXPECT_EQ(LoadError(path), path +
                                 ": payload_crc32c: the CRC-32C of the contents does not match "
                                 "(the file is corrupt)");

  RawWrite(path, std::string(100, 'x'));
  EXPECT_THAT(LoadError(path),
              HasSubstr(path + ": payload_bytes: expected the checkpoint trailer"));

  proto::CheckpointFile future = SampleCheckpoint(7);
  future.set_format_version(2);
  future.set_framework_version("loom 9.0.0");
  RawWrite(path, SerializeCheckpoint(future));
  EXPECT_THAT(LoadError(path),
              HasSubstr(path + ": format_version: expected 1 but got 2 (written by "
                               "loom 9.0.0; this is loom "));

  // A consistent trailer over a payload that lacks format_version (written by something else).
  proto::CheckpointFile bare;
  bare.set_num_update(3);
  std::string payload = bare.SerializeAsString();
  proto::CheckpointFile trailer;
  trailer.set_payload_bytes(payload.size());
  trailer.set_payload_crc32c(Crc32c(payload));
  RawWrite(path, payload + trailer.SerializeAsString());
  EXPECT_THAT(LoadError(path), HasSubstr("format_version: expected 1 but it is missing"));

  proto::CheckpointFile bad_tensor = SampleCheckpoint(7);
  bad_tensor.mutable_arg_params(1)->set_data("abc");
  RawWrite(path, SerializeCheckpoint(bad_tensor));
  EXPECT_EQ(LoadError(path), path +
                                 ": arg_params[1] ('fc1_bias').data: expected 8 bytes (shape "
                                 "(2), float32) but got 3");
  proto::CheckpointFile bad_state = SampleCheckpoint(7);
  bad_state.mutable_optimizer_state(0)->set_dtype(-1);
  RawWrite(path, SerializeCheckpoint(bad_state));
  EXPECT_THAT(LoadError(path), HasSubstr("optimizer_state[0] ('fc1_bias/momentum').dtype"));

  EXPECT_THROW(LoadCheckpoint(dir / "missing.pb"), IoError);
}

}  // namespace
}  // namespace loom::train
