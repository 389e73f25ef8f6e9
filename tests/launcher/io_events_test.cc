// TensorBoard event files: CRC-32C against published test vectors and a bitwise reference, the
// TFRecord framing decoded by hand, the Events parsed back, and corrupt records rejected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>

#include "io_test_util.h"
#include "loom/proto/tensorboard.pb.h"
#include "loom/scheduler/error.h"
#include "loom/train/event_writer.h"

namespace loom::train {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::RawRead;
using testing::RawWrite;
using testing::ScratchDir;

// Bit by bit, straight from the definition (reflected polynomial 0x82F63B78).
uint32_t BitwiseCrc32c(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

TEST(IoEvents, Crc32cTestVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  // RFC 3720 (iSCSI) appendix B.4.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(static_cast<char>(i));
    down.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(down), 0x113FDB5Cu);
}

TEST(IoEvents, Crc32cMatchesBitwiseReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(3);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t n = 0; start + n <= data.size(); n += (n < 40 ? 1 : 37)) {
      const std::string_view part = std::string_view(data).substr(start, n);
      ASSERT_EQ(Crc32c(part), BitwiseCrc32c(part)) << start << " " << n;
    }
  }
  // Continuing a CRC equals one pass over the concatenation.
  EXPECT_EQ(
      Crc32c(std::string_view(data).substr(100), Crc32c(std::string_view(data).substr(0, 100))),
      Crc32c(data));
}

TEST(IoEvents, MaskedCrcIsRotatedPlusConstant) {
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(MaskedCrc32c("123456789"), ((crc >> 15) | (crc << 17)) + 0xA282EAD8u);
}

struct Record {
  uint64_t length;
  std::string payload;
};

// Decodes the framing by hand (not with ReadTfRecords), checking both CRCs.
std::vector<Record> DecodeByHand(const std::string& bytes) {
  std::vector<Record> out;
  size_t at = 0;
  while (at < bytes.size()) {
    Record r;
    std::memcpy(&r.length, bytes.data() + at, 8);
    uint32_t length_crc, data_crc;
    std::memcpy(&length_crc, bytes.data() + at + 8, 4);
    EXPECT_EQ(length_crc, MaskedCrc32c(bytes.substr(at, 8)));
    r.payload = bytes.substr(at + 12, r.length);
    std::memcpy(&data_crc, bytes.data() + at + 12 + r.length, 4);
    EXPECT_EQ(data_crc, MaskedCrc32c(r.payload));
    at += 16 + r.length;
    out.push_back(r);
  }
  EXPECT_EQ(at, bytes.size());
  return out;
}

TEST(IoEvents, WritesFileVersionThenScalarEvents) {
  ScratchDir dir;
  const auto now = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const double before = now();
  std::string path;
  {
    EventWriter events(dir / "run");
    path = events.path();
    events.AddScalar("train/accuracy", 0.875, 100);
    events.AddScalar("train/loss", 1.0 / 3.0, 100);
    events.Flush();
    EXPECT_EQ(DecodeByHand(RawRead(path)).size(), 3u);  // visible after Flush
    events.AddScalar("val/accuracy", 0.9, 200);
  }
  const double after = now();
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string prefix = dir / "run/events.out.tfevents.";
  ASSERT_EQ(path.substr(0, prefix.size()), prefix);
  const std::string rest = path.substr(prefix.size());
  const int64_t stamp = std::stoll(rest.substr(0, rest.find('.')));
  EXPECT_GE(stamp, static_cast<int64_t>(before));
  EXPECT_LE(stamp, static_cast<int64_t>(after));
  EXPECT_EQ(rest.substr(rest.find('.') + 1), host);

  const std::vector<Record> records = DecodeByHand(RawRead(path));
  ASSERT_EQ(records.size(), 4u);
  std::vector<proto::tensorboard::Event> events(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_TRUE(events[i].ParseFromString(records[i].payload));
    EXPECT_GE(events[i].wall_time(), before - 1);
    EXPECT_LE(events[i].wall_time(), after + 1);
  }
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[0].step(), 0);
  const struct {
    const char* tag;
    float value;
    int64_t step;
  } want[] = {{"train/accuracy", 0.875f, 100},
              {"train/loss", static_cast<float>(1.0 / 3.0), 100},
              {"val/accuracy", 0.9f, 200}};
  for (int i = 0; i < 3; ++i) {
    const proto::tensorboard::Event& e = events[i + 1];
    ASSERT_TRUE(e.has_summary());
    ASSERT_EQ(e.summary().value_size(), 1);
    EXPECT_EQ(e.summary().value(0).tag(), want[i].tag);
    EXPECT_EQ(e.summary().value(0).simple_value(), want[i].value);
    EXPECT_EQ(e.step(), want[i].step);
  }
  // The wire bytes of the first payload, by hand: field 1 (double, tag 0x09), then field 3
  // (length-delimited, tag 0x1A) "brain.Event:2".
  EXPECT_EQ(records[0].payload[0], '\x09');
  EXPECT_EQ(records[0].payload.substr(9), std::string("\x1A\x0D") + "brain.Event:2");

  const std::vector<std::string> payloads = ReadTfRecords(path);
  ASSERT_EQ(payloads.size(), 4u);
  for (size_t i = 0; i < payloads.size(); ++i) EXPECT_EQ(payloads[i], records[i].payload);
}

TEST(IoEvents, TwoWritersInOneDirectoryGetTwoFiles) {
  ScratchDir dir;
  EventWriter a(dir.path()), b(dir.path());
  EXPECT_NE(a.path(), b.path());
  EXPECT_THAT(b.path(), HasSubstr("events.out.tfevents."));
  EXPECT_EQ(dir.List().size(), 2u);
}

TEST(IoEvents, CorruptAndTruncatedRecordsAreDataErrors) {
  ScratchDir dir;
  std::string path;
  {
    EventWriter events(dir.path());
    events.AddScalar("loss", 2.5, 1);
    path = events.path();
  }
  const std::string good = RawRead(path);
  std::string bad = good;
  bad[bad.size() - 6] ^= 1;  // inside the last payload
  RawWrite(path, bad);
  EXPECT_THAT([&] { ReadTfRecords(path); },
              ::testing::ThrowsMessage<DataError>(HasSubstr("record 1: the payload's masked "
                                                            "CRC32C does not match")));
  bad = good;
  bad[2] ^= 1;  // the first length
  RawWrite(path, bad);
  EXPECT_THAT([&] { ReadTfRecords(path); },
              ::testing::ThrowsMessage<DataError>(HasSubstr(path + ": at byte 0: record 0: the "
                                                                   "length's masked CRC32C")));
  RawWrite(path, good.substr(0, good.size() - 3));
  EXPECT_THAT([&] { ReadTfRecords(path); },
              ::testing::ThrowsMessage<DataError>(HasSubstr("truncated")));
}

TEST(IoEvents, UnwritableDirectoryIsIoError) {
  ScratchDir dir;
  RawWrite(dir / "file", "x");
  EXPECT_THAT([&] { EventWriter events(dir / "file/sub"); },
              ::testing::ThrowsMessage<IoError>(HasSubstr(dir / "file/sub")));
}

}  // namespace
}  // namespace loom::train
