// Helpers for the data tests: a temporary directory, hand-made idx files, and gzip written by hand
// (deflate "stored" blocks, CRC-32 computed here), independent of the zlib the readers use.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace loom::train::testing {

/// A fresh directory under the system's temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "loom-data-XXXXXX").string();
    const char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline void PutBigEndian32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

/// An idx file of unsigned bytes: magic 0x0000080<dims.size()>, the dimensions, the values.
inline std::string IdxBytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& values,
                            uint32_t magic = 0) {
  std::string out;
  PutBigEndian32(&out, magic != 0 ? magic : 0x00000800u | static_cast<uint32_t>(dims.size()));
  for (uint32_t d : dims) PutBigEndian32(&out, d);
  out.append(values.begin(), values.end());
  return out;
}

inline uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

inline void PutLittleEndian32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

/// One gzip member holding `data` in deflate stored blocks of at most `block` bytes (RFC 1951
/// 3.2.4, RFC 1952).
inline std::string GzipStored(const std::string& data, size_t block = 65535) {
  std::string out = {'\x1f', '\x8b', '\x08', '\0', '\0', '\0', '\0', '\0', '\0', '\x03'};
  size_t pos = 0;
  do {
    const size_t n = std::min(block, data.size() - pos);
    const bool last = pos + n == data.size();
    out.push_back(last ? '\x01' : '\x00');  // BFINAL, BTYPE = 00 (stored)
    out.push_back(static_cast<char>(n & 0xFF));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(~n & 0xFF));
    out.push_back(static_cast<char>((~n >> 8) & 0xFF));
    out.append(data, pos, n);
    pos += n;
  } while (pos < data.size());
  PutLittleEndian32(&out, Crc32(data));
  PutLittleEndian32(&out, static_cast<uint32_t>(data.size()));
  return out;
}

}  // namespace loom::train::testing
