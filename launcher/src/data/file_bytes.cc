#include "data/file_bytes.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "loom/scheduler/error.h"

namespace loom::train::detail {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string ReadRaw(const std::string& path, const std::string& missing_hint) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int err = errno;
    std::string message = "cannot open data file '" + path + "': " + std::strerror(err);
    if (err == ENOENT && !missing_hint.empty()) message += "; " + missing_hint;
    throw IoError(message);
  }
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), file.get());
    bytes.append(buffer, n);
    if (n < sizeof(buffer)) break;
  }
  if (std::ferror(file.get())) {
    throw IoError("cannot read data file '" + path + "': " + std::strerror(errno));
  }
  return bytes;
}

// Inflates every gzip member of `in`.
std::string Gunzip(const std::string& path, const std::string& in) {
  // The last 4 bytes of a member hold its size modulo 2^32: a hint for the first allocation only,
  // used when deflate could produce that much (at most 1032:1), so that a truncated or corrupt
  // trailer cannot ask for an absurd block.
  size_t hint = in.size() * 4;
  if (in.size() >= 18) {
    const auto* tail = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
    const size_t size = static_cast<size_t>(tail[0]) | static_cast<size_t>(tail[1]) << 8 |
                        static_cast<size_t>(tail[2]) << 16 | static_cast<size_t>(tail[3]) << 24;
    if (size <= in.size() * 1032) hint = size;
  }
  std::string out;
  out.resize(std::max<size_t>(hint, 1024));

  z_stream zs{};
  LOOM_CHECK_TYPED(DataError, inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK,
                   "cannot start inflating gzip file '", path, "'");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  size_t consumed = 0;
  size_t produced = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    // zlib counts in uInt: feed and take at most 1 GiB per call.
    const size_t in_left = std::min<size_t>(in.size() - consumed, size_t{1} << 30);
    const size_t out_left = std::min<size_t>(out.size() - produced, size_t{1} << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + consumed));
    zs.avail_in = static_cast<uInt>(in_left);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out_left);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += in_left - zs.avail_in;
    produced += out_left - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member may follow (gzip's concatenation); anything else after it is an error.
      if (consumed == in.size()) break;
      if (in.size() - consumed >= 2 && static_cast<unsigned char>(in[consumed]) == 0x1f &&
          static_cast<unsigned char>(in[consumed + 1]) == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      inflateEnd(&zs);
      throw DataError("gzip file '" + path + "' has " + std::to_string(in.size() - consumed) +
                      " bytes of trailing garbage after the compressed data");
    }
    if (rc == Z_OK || (rc == Z_BUF_ERROR && zs.avail_out == 0)) {
      if (consumed == in.size() && zs.avail_out != 0) {
        inflateEnd(&zs);
        throw DataError("gzip file '" + path + "' is truncated: the compressed stream ends after " +
                        std::to_string(in.size()) + " bytes (" + std::to_string(produced) +
                        " bytes inflated) before its end marker");
      }
      continue;
    }
    const std::string reason = zs.msg != nullptr ? zs.msg : "zlib error " + std::to_string(rc);
    inflateEnd(&zs);
    if (rc == Z_BUF_ERROR) {
      throw DataError("gzip file '" + path + "' is truncated: the compressed stream ends after " +
                      std::to_string(in.size()) + " bytes before its end marker");
    }
    throw DataError("gzip file '" + path + "' is corrupt at compressed byte " +
                    std::to_string(consumed) + ": " + reason);
  }
  inflateEnd(&zs);
  out.resize(produced);
  return out;
}

}  // namespace

FileBytes ReadDataFile(const std::string& path, const std::string& missing_hint) {
  FileBytes result;
  result.bytes = ReadRaw(path, missing_hint);
  if (result.bytes.size() >= 2 && static_cast<unsigned char>(result.bytes[0]) == 0x1f &&
      static_cast<unsigned char>(result.bytes[1]) == 0x8b) {
    result.bytes = Gunzip(path, result.bytes);
    result.gzip = true;
  }
  return result;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace loom::train::detail
