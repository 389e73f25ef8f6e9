// WriteFileAtomic / ReadFile with POSIX calls: the temporary is written, fsynced and renamed, and
// the directory fsynced, so a crash leaves either the old or the new contents under the name.
#include "loom/train/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "loom/scheduler/error.h"

namespace loom::train {
namespace {

// Bytes after which writes fail (test seam); kNoFailure when off.
constexpr uint64_t kNoFailure = UINT64_MAX;
std::atomic<uint64_t> g_fail_after_bytes{kNoFailure};
// Makes temporary names unique between threads of one process.
std::atomic<uint64_t> g_temp_counter{0};

std::string ErrnoText(int error) { return std::strerror(error); }

std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The WriteAll result for an injected failure (no errno value is negative).
constexpr int kInjectedFailure = -1;

// Writes all of bytes to fd (EINTR and short writes retried); returns 0, an errno value or
// kInjectedFailure.
int WriteAll(int fd, std::string_view bytes) {
  const uint64_t limit = g_fail_after_bytes.load();
  const bool inject = limit != kNoFailure && limit < bytes.size();
  std::string_view todo = inject ? bytes.substr(0, limit) : bytes;
  while (!todo.empty()) {
    const ssize_t n = ::write(fd, todo.data(), todo.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    todo.remove_prefix(static_cast<size_t>(n));
  }
  return inject ? kInjectedFailure : 0;
}

}  // namespace

void WriteFileAtomic(const std::string& path, std::string_view bytes) {
  LOOM_CHECK_TYPED(IoError, !path.empty(), "cannot write a file: expected a path but got \"\"");
  const std::string temp = path + ".tmp." + std::to_string(::getpid()) + "." +
                           std::to_string(g_temp_counter.fetch_add(1));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int error = errno;
    throw IoError("cannot write " + path + ": cannot create the temporary file " + temp + ": " +
                  ErrnoText(error));
  }
  auto fail = [&](const std::string& step, int error) {
    ::unlink(temp.c_str());
    const std::string reason =
        error == kInjectedFailure
            ? "injected failure after " + std::to_string(g_fail_after_bytes.load()) + " bytes"
            : ErrnoText(error);
    throw IoError("cannot write " + path + ": " + step + " " + temp + " failed: " + reason +
                  "; the previous file is unchanged");
  };
  if (int error = WriteAll(fd, bytes); error != 0) {
    ::close(fd);
    fail("writing", error);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    fail("fsync of", error);
  }
  if (::close(fd) != 0) fail("closing", errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) fail("renaming", errno);
  // The rename is durable only once the directory entry is on disk.
  const std::string dir = ParentDir(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    const int error = errno;
    throw IoError("wrote " + path + " but cannot open its directory " + dir +
                  " to make the rename durable: " + ErrnoText(error));
  }
  // Some file systems cannot fsync directories (EINVAL); the rename is then as durable as they get.
  if (::fsync(dir_fd) != 0 && errno != EINVAL) {
    const int error = errno;
    ::close(dir_fd);
    throw IoError("wrote " + path + " but fsync of its directory " + dir +
                  " failed: " + ErrnoText(error));
  }
  ::close(dir_fd);
}

std::string ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    throw IoError("cannot read " + path + ": " + ErrnoText(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    throw IoError("cannot read " + path + ": expected a file but it is a directory");
  }
  std::string out;
  if (info.st_size > 0) out.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      throw IoError("cannot read " + path + ": " + ErrnoText(error));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

namespace detail {
void SetWriteFailureAfterBytesForTesting(std::optional<uint64_t> bytes) {
  g_fail_after_bytes.store(bytes.value_or(kNoFailure));
}
}  // namespace detail

}  // namespace loom::train
