// Whole-file reads and crash-safe whole-file writes, for checkpoints, params files and configs.
//
//   loom::train::WriteFileAtomic("runs/x/checkpoints/ckpt-final.pb", bytes);
//   std::string back = loom::train::ReadFile("runs/x/checkpoints/ckpt-final.pb");
//
// WriteFileAtomic writes "<path>.tmp.<pid>", fsyncs it, renames it over <path> and fsyncs the
// directory, so after a crash <path> holds either the old contents or the new ones, never a mix.
// Errors are loom::IoError naming the path and the system's reason (strerror). The functions are
// reentrant; two concurrent writers of one path leave one of the two contents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loom::train {

/// @brief Replaces the file at `path` with `bytes` atomically and durably.
/// @throws IoError naming the path and errno text; the old file (if any) is then unchanged and no
/// temporary file is left behind.
void WriteFileAtomic(const std::string& path, std::string_view bytes);

/// @brief The whole contents of the file at `path`.
/// @throws IoError naming the path when it is missing, a directory or unreadable.
std::string ReadFile(const std::string& path);

namespace detail {
/// Test seam: while set, every WriteFileAtomic of more than `bytes` bytes writes the first `bytes`
/// bytes of its temporary file and then fails as a full disk would (IoError "injected failure"),
/// cleaning up as for any failure; shorter writes succeed. std::nullopt turns it off.
/// Process-wide; for tests only (the trainer's "checkpoint write fails half way" test uses it).
void SetWriteFailureAfterBytesForTesting(std::optional<uint64_t> bytes);
}  // namespace detail

}  // namespace loom::train
