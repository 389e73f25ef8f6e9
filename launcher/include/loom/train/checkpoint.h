// Training checkpoints: one protobuf file per checkpoint (proto::CheckpointFile in
// launcher/proto/loom/proto/checkpoint.proto) plus a `last_checkpoint` pointer, fvcore style.
// (The file message is CheckpointFile because proto::Checkpoint is the experiment's `checkpoint:`
// config section.)
//
//   loom::train::CheckpointDir dir("runs/mlp/20240101-120000/checkpoints", /*keep=*/3);
//   loom::proto::CheckpointFile ckpt;
//   *ckpt.add_arg_params() = loom::train::ToTensor(weight, "fc1_weight");
//   ckpt.set_num_update(1000);
//   std::string path = dir.Save(ckpt, loom::train::CheckpointDir::UpdateTag(1000));
//   // .../ckpt-0001000.pb; last_checkpoint now says "ckpt-0001000.pb"
//   if (auto latest = dir.Latest()) {
//     loom::proto::CheckpointFile back = loom::train::LoadCheckpoint(*latest);
//     loom::NDArray w = loom::train::FromTensor(back.arg_params(0));
//   }
//
// Durability: Save writes the file with WriteFileAtomic (temporary, fsync, rename, directory
// fsync) and only then rewrites the pointer the same way, so the pointer never names a partial
// file, and a failure leaves the previous checkpoint and pointer as they were. Each file ends with
// a trailer holding the payload's length and CRC32C, so LoadCheckpoint detects truncation and bit
// flips. Errors are loom::CheckpointError naming the path and the field (IoError for I/O).
// A CheckpointDir is not thread-safe (one saver per directory); the free functions are reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "loom/core/ndarray.h"
#include "loom/proto/checkpoint.pb.h"

namespace loom::train {

/// The CheckpointFile.format_version this build writes and accepts.
inline constexpr int kCheckpointFormatVersion = 1;

/// @brief The array as a Tensor (waits for pending writes; copies the bytes to the host).
/// @throws loom::Error for a none array.
proto::Tensor ToTensor(const NDArray& a);
/// The same with Tensor.name set.
proto::Tensor ToTensor(const NDArray& a, const std::string& name);

/// @brief A new cpu(0) array holding the tensor's contents.
/// @throws CheckpointError naming the tensor when its dtype is unknown, a dimension is negative or
/// the data is not exactly product(shape) * dtype size bytes.
NDArray FromTensor(const proto::Tensor& t);

/// A directory of checkpoints: <dir>/ckpt-<tag>.pb and the pointer <dir>/last_checkpoint (a text
/// file holding the newest file's base name).
class CheckpointDir {
 public:
  /// `keep`: how many periodic checkpoints (all-digit tags) survive pruning; 0 keeps all. Files
  /// with other tags ("final", "interrupted", ...) are never pruned. The directory is created
  /// (with parents) on the first Save.
  explicit CheckpointDir(std::string dir, int keep = 3);

  /// @brief Writes <dir>/ckpt-<tag>.pb atomically, then the last_checkpoint pointer, then deletes
  /// the oldest all-digit-tag files beyond `keep` (the one just written is always kept). Fields
  /// the caller left unset are filled in the file: format_version, framework_version, tag,
  /// wall_time. Returns the file's path.
  /// @throws IoError when writing fails (previous checkpoint and pointer intact); loom::Error for
  /// a tag that is empty or holds characters other than [A-Za-z0-9_.-].
  std::string Save(const proto::CheckpointFile& ckpt, const std::string& tag);

  /// @brief The path the last_checkpoint pointer names; std::nullopt when there is no pointer.
  /// @throws CheckpointError when the pointer names a file that does not exist.
  std::optional<std::string> Latest() const;

  /// Tag for a checkpoint after `num_update` updates: 7 digits, zero-padded ("0001000").
  static std::string UpdateTag(int64_t num_update);

  const std::string& dir() const { return dir_; }
  int keep() const { return keep_; }

 private:
  void Prune(const std::string& just_written) const;

  std::string dir_;
  int keep_;
};

/// @brief Reads and validates a checkpoint file: trailer (length, CRC32C), format_version, and
/// every tensor (dtype, shape, byte count).
/// @throws IoError when unreadable; CheckpointError naming the path and the field otherwise
/// ("...ckpt-0001000.pb: arg_params[2] ('fc2_weight').data: expected 2048 bytes but got 100").
proto::CheckpointFile LoadCheckpoint(const std::string& path);

/// @brief Parses checkpoint bytes as LoadCheckpoint does; `name_for_errors` names them in messages.
proto::CheckpointFile ParseCheckpoint(const std::string& bytes, const std::string& name_for_errors);

/// @brief The bytes of a checkpoint file (payload then trailer), as Save writes them.
std::string SerializeCheckpoint(const proto::CheckpointFile& ckpt);

}  // namespace loom::train
