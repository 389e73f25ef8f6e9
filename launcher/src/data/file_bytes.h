// Reading whole data files into memory, gzip-compressed or plain (told apart by the gzip magic
// bytes 1f 8b), for the idx and CSV readers. Thread-safe (no shared state).
#pragma once

#include <string>

namespace loom::train::detail {

/// The contents of a data file.
struct FileBytes {
  std::string bytes;  // decompressed when the file was gzip-compressed
  bool gzip = false;  // whether it was
};

/// Reads `path`; inflates it when it starts with the gzip magic bytes (several gzip members are
/// concatenated, as gzip itself does). @throws IoError naming the path and the system's reason when
/// it cannot be opened or read (followed by `missing_hint` when the file does not exist);
/// DataError naming the path when the gzip stream is corrupt or truncated.
FileBytes ReadDataFile(const std::string& path, const std::string& missing_hint = "");

/// True when `path` names an existing file or directory.
bool PathExists(const std::string& path);

}  // namespace loom::train::detail
