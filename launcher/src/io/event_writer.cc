// TensorBoard event files: TFRecord framing (tensorflow/core/lib/io/record_writer.cc's layout,
// as documented in docs/file-formats.md) around serialized proto::tensorboard::Event messages.
#include "loom/train/event_writer.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "byte_reader.h"
#include "loom/proto/tensorboard.pb.h"
#include "loom/scheduler/error.h"
#include "loom/train/atomic_file.h"

namespace loom::train {
namespace {

// Slicing-by-8 tables for the reflected Castagnoli polynomial: table[0] is the classic byte table,
// table[k][b] the CRC of byte b followed by k zero bytes.
using Crc32cTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Crc32cTables MakeTables() {
  Crc32cTables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    t[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
  return t;
}
constexpr Crc32cTables kTables = MakeTables();

double WallTime() {
  using std::chrono::duration;
  using std::chrono::system_clock;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

void AppendUint(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

}  // namespace

uint32_t Crc32c(std::string_view bytes, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  crc = ~crc;
  while (n >= 8) {
    // Little-endian: the first four bytes fold into the running CRC.
    const uint32_t lo =
        crc ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
    crc = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
          kTables[4][lo >> 24] ^ kTables[3][p[4]] ^ kTables[2][p[5]] ^ kTables[1][p[6]] ^
          kTables[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

uint32_t MaskedCrc32c(std::string_view bytes) {
  const uint32_t crc = Crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

EventWriter::EventWriter(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw IoError("cannot create the events directory " + dir + ": " + error.message());
  const std::string base = dir + "/events.out.tfevents." +
                           std::to_string(static_cast<int64_t>(WallTime())) + "." + HostName();
  // "x": never append to another writer's file; a second writer in the same second gets ".1".
  for (int attempt = 0; file_ == nullptr; ++attempt) {
    path_ = attempt == 0 ? base : base + "." + std::to_string(attempt);
    file_ = std::fopen(path_.c_str(), "wbx");
    if (file_ == nullptr && (errno != EEXIST || attempt >= 100)) {
      throw IoError("cannot create the events file " + path_ + ": " + std::strerror(errno));
    }
  }
  proto::tensorboard::Event event;
  event.set_wall_time(WallTime());
  event.set_file_version("brain.Event:2");
  WriteRecord(event.SerializeAsString());
  Flush();
}

EventWriter::~EventWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void EventWriter::AddScalar(const std::string& tag, double value, int64_t step) {
  proto::tensorboard::Event event;
  event.set_wall_time(WallTime());
  event.set_step(step);
  proto::tensorboard::Summary::Value* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  WriteRecord(event.SerializeAsString());
}

void EventWriter::Flush() {
  if (std::fflush(file_) != 0) {
    throw IoError("cannot write the events file " + path_ + ": " + std::strerror(errno));
  }
}

void EventWriter::WriteRecord(std::string_view payload) {
  std::string record;
  record.reserve(payload.size() + 16);
  AppendUint(record, payload.size(), 8);
  AppendUint(record, MaskedCrc32c(record), 4);
  record.append(payload);
  AppendUint(record, MaskedCrc32c(payload), 4);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    throw IoError("cannot write the events file " + path_ + ": " + std::strerror(errno));
  }
}

std::vector<std::string> ReadTfRecords(const std::string& path) {
  const std::string bytes = ReadFile(path);
  detail::ByteReader in(bytes, path);
  std::vector<std::string> records;
  while (in.remaining() > 0) {
    const size_t start = in.offset();
    const std::string_view header = in.Take(8, "a record's length");
    uint64_t length;
    std::memcpy(&length, header.data(), 8);
    const uint32_t length_crc = in.Read<uint32_t>("the length's CRC");
    if (length_crc != MaskedCrc32c(header)) {
      in.Fail(start, "record ", records.size(), ": the length's masked CRC32C does not match");
    }
    const std::string_view payload = in.Take(length, "a record's payload");
    const size_t crc_at = in.offset();
    if (in.Read<uint32_t>("the payload's CRC") != MaskedCrc32c(payload)) {
      in.Fail(crc_at, "record ", records.size(), ": the payload's masked CRC32C does not match");
    }
    records.emplace_back(payload);
  }
  return records;
}

}  // namespace loom::train
