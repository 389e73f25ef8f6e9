// TensorBoard event files for scalar curves: `tensorboard --logdir runs/` shows them.
//
//   loom::train::EventWriter events("runs/mlp/20240101-120000");
//   events.AddScalar("train/accuracy", 0.87, /*step=*/1000);
//   events.Flush();
//
// The file is <dir>/events.out.tfevents.<unix seconds>.<hostname>, a sequence of TFRecord records
// (uint64 length, uint32 masked CRC32C of the length, payload, uint32 masked CRC32C of the payload)
// whose payloads are serialized proto::tensorboard::Event messages; the first record carries
// file_version "brain.Event:2". An EventWriter is not thread-safe; errors are loom::IoError naming
// the file. The CRC functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace loom::train {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of bytes, continuing from `crc` (0 to
/// start): Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(std::string_view bytes, uint32_t crc = 0);
/// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xA282EAD8 of Crc32c(bytes).
uint32_t MaskedCrc32c(std::string_view bytes);

class EventWriter {
 public:
  /// Creates dir (with parents) and the events file, and writes the file_version record.
  /// @throws IoError naming the path.
  explicit EventWriter(const std::string& dir);
  /// Flushes (errors are swallowed here; call Flush() to see them).
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  /// Appends one Event{wall_time = now, step, summary{value{tag, simple_value = float(value)}}}.
  void AddScalar(const std::string& tag, double value, int64_t step);
  /// Hands buffered records to the operating system. @throws IoError.
  void Flush();

  const std::string& path() const { return path_; }

 private:
  void WriteRecord(std::string_view payload);

  std::string path_;
  std::FILE* file_ = nullptr;
};

/// @brief The payloads of every record in a TFRecord file, with both CRCs of each verified.
/// @throws IoError when unreadable; DataError naming the file and byte offset of a truncated record
/// or a CRC mismatch.
std::vector<std::string> ReadTfRecords(const std::string& path);

}  // namespace loom::train
