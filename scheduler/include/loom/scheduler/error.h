// Loom's error types and the two check macros every layer uses.
//
// User mistakes are reported with LOOM_CHECK, which throws loom::Error (or a subclass) carrying
// "file:line", the message, and any context that outer layers add while the error unwinds. Our own
// invariants use LOOM_INTERNAL_ASSERT, which says "internal error, please report".
//
//   LOOM_CHECK(a.ndim() == b.ndim(), "expected ", a.ndim(), " dimensions but got ", b.ndim());
//   try { Run(); } catch (loom::Error& e) { e.AddContext("in node 'fc1' (FullyConnected)"); throw; }
//
// Message arguments are evaluated only when the check fails. Error objects are thread-safe to
// copy; one object must not be mutated from two threads.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

/// Base of every error Loom throws. what() is the message followed by the context lines.
class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) { Render(); }

  /// The message without context lines.
  const std::string& message() const { return message_; }
  /// Context lines, innermost first.
  const std::vector<std::string>& context() const { return context_; }
  /// Adds one line of context ("in node 'fc1' (FullyConnected)").
  void AddContext(std::string line) {
    context_.push_back(std::move(line));
    Render();
  }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  void Render() {
    what_ = message_;
    for (const auto& line : context_) what_ += "\n  " + line;
  }
  std::string message_;
  std::vector<std::string> context_;
  std::string what_;
};

/// A shape that does not fit what an operator or array expects.
class ShapeError : public Error { using Error::Error; };
/// A data type that does not fit what an operator or array expects.
class DTypeError : public Error { using Error::Error; };
/// A feature the build or backend lacks ("CUDA backend has no kernel for op X").
class NotSupportedError : public Error { using Error::Error; };
/// A device allocation failed; the message names the device and the bytes requested and free.
class OutOfMemoryError : public Error { using Error::Error; };
/// A collective failed or timed out; the message names the rank, the op and its sequence number.
class CommError : public Error { using Error::Error; };
/// A checkpoint could not be written or read; the message names the path and the field.
class CheckpointError : public Error { using Error::Error; };
/// A file could not be opened, read, written or renamed; the message names the path and the reason.
class IoError : public Error { using Error::Error; };
/// A data file whose contents are not what its format requires (truncated, corrupt, wrong magic).
class DataError : public Error { using Error::Error; };
/// An experiment file or override that is invalid; the message names the file, line, key and expectation.
class ConfigError : public Error { using Error::Error; };

namespace detail {
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
std::string Location(const char* file, int line);
}  // namespace detail

}  // namespace loom

/// Throws ErrorType with "message (file:line)" when cond is false.
#define LOOM_CHECK_TYPED(ErrorType, cond, ...)                                          \
  do {                                                                                  \
    if (!(cond)) [[unlikely]] {                                                         \
      throw ErrorType(::loom::detail::StrCat(__VA_ARGS__) +                             \
                      ::loom::detail::Location(__FILE__, __LINE__));                    \
    }                                                                                   \
  } while (0)

/// Throws loom::Error for a user's mistake: LOOM_CHECK(ok, "expected ", a, " but got ", b).
#define LOOM_CHECK(cond, ...) LOOM_CHECK_TYPED(::loom::Error, cond, __VA_ARGS__)

/// Throws loom::Error for a broken internal invariant, asking the user to report it.
#define LOOM_INTERNAL_ASSERT(cond, ...)                                                  \
  LOOM_CHECK_TYPED(::loom::Error, cond, "internal error, please report: ", #cond, " ", \
                   ##__VA_ARGS__)
