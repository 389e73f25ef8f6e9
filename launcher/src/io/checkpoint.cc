// Checkpoint files: a serialized CheckpointFile (the payload) followed by a 16-byte trailer holding
// the payload's length and CRC-32C (fields 1000 and 1001 of the same message), written atomically;
// the directory's last_checkpoint pointer is rewritten only after the file is durable.
#include "loom/train/checkpoint.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "array_bytes.h"
#include "loom/scheduler/error.h"
#include "loom/train/atomic_file.h"
#include "loom/train/event_writer.h"

namespace loom::train {
namespace {

constexpr size_t kTrailerBytes = 16;  // two tags of 2 bytes, a fixed64 and a fixed32
constexpr const char* kPointerName = "last_checkpoint";
constexpr const char* kFrameworkVersion = "loom " LOOM_VERSION_STRING;

Shape TensorShape(const proto::Tensor& t) {
  return Shape(std::vector<int64_t>(t.shape().begin(), t.shape().end()));
}

// Returns "" when the tensor is well-formed, else what is wrong with it.
std::string TensorProblem(const proto::Tensor& t) {
  if (t.dtype() < 0 || t.dtype() >= static_cast<int>(DType::kCount)) {
    return loom::detail::StrCat("dtype: expected an MXNet type code 0..",
                                static_cast<int>(DType::kCount) - 1, " but got ", t.dtype());
  }
  for (int i = 0; i < t.shape_size(); ++i) {
    if (t.shape(i) < 0) {
      return loom::detail::StrCat("shape[", i, "]: expected a dimension >= 0 but got ", t.shape(i));
    }
  }
  const std::optional<int64_t> count = detail::CheckedElementCount(
      std::span<const int64_t>(t.shape().data(), static_cast<size_t>(t.shape_size())));
  if (!count) return "shape: expected an element count that fits in int64";
  const uint64_t have = t.data().size();
  const uint64_t element = DTypeSize(static_cast<DType>(t.dtype()));
  const std::string what =
      loom::detail::StrCat(" (shape ", TensorShape(t).ToString(), ", ",
                           ToString(static_cast<DType>(t.dtype())), ") but got ", have);
  if (static_cast<uint64_t>(*count) > UINT64_MAX / element) {
    return loom::detail::StrCat("data: expected ", *count, " elements of ", element, " bytes",
                                what);
  }
  if (static_cast<uint64_t>(*count) * element != have) {
    return loom::detail::StrCat("data: expected ", static_cast<uint64_t>(*count) * element,
                                " bytes", what);
  }
  return "";
}

void CheckTensors(const google::protobuf::RepeatedPtrField<proto::Tensor>& tensors,
                  const char* field, const std::string& name) {
  for (int i = 0; i < tensors.size(); ++i) {
    const std::string problem = TensorProblem(tensors.Get(i));
    if (!problem.empty()) {
      throw CheckpointError(loom::detail::StrCat(name, ": ", field, "[", i, "] ('",
                                                 tensors.Get(i).name(), "').", problem));
    }
  }
}

bool ValidTag(const std::string& tag) {
  return !tag.empty() && std::all_of(tag.begin(), tag.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// The digits of "ckpt-<digits>.pb", or "" for any other name.
std::string PeriodicTag(const std::string& file_name) {
  constexpr std::string_view kPrefix = "ckpt-", kSuffix = ".pb";
  if (file_name.size() <= kPrefix.size() + kSuffix.size() || !file_name.starts_with(kPrefix) ||
      !file_name.ends_with(kSuffix)) {
    return "";
  }
  std::string tag =
      file_name.substr(kPrefix.size(), file_name.size() - kPrefix.size() - kSuffix.size());
  const bool digits = std::all_of(
      tag.begin(), tag.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  return digits ? tag : "";
}

// Numeric order of digit strings of any length.
bool TagLess(const std::string& a, const std::string& b) {
  const auto strip = [](const std::string& s) {
    const size_t first = s.find_first_not_of('0');
    return first == std::string::npos ? std::string() : s.substr(first);
  };
  const std::string x = strip(a), y = strip(b);
  return x.size() != y.size() ? x.size() < y.size() : x < y;
}

std::string Serialize(const proto::CheckpointFile& ckpt, const proto::CheckpointFile& defaults) {
  // Concatenated messages merge with the later value winning, so `defaults` (holding only fields
  // the caller left unset) fills them in without copying the caller's tensors.
  std::string out = ckpt.SerializeAsString();
  out += defaults.SerializeAsString();
  proto::CheckpointFile trailer;
  trailer.set_payload_bytes(out.size());
  trailer.set_payload_crc32c(Crc32c(out));
  const std::string trailer_bytes = trailer.SerializeAsString();
  LOOM_INTERNAL_ASSERT(trailer_bytes.size() == kTrailerBytes);
  return out + trailer_bytes;
}

proto::CheckpointFile VersionDefaults(const proto::CheckpointFile& ckpt) {
  proto::CheckpointFile defaults;
  if (!ckpt.has_format_version()) defaults.set_format_version(kCheckpointFormatVersion);
  if (!ckpt.has_framework_version()) defaults.set_framework_version(kFrameworkVersion);
  return defaults;
}

}  // namespace

proto::Tensor ToTensor(const NDArray& a) {
  LOOM_CHECK(!a.is_none(), "cannot store a none NDArray (default-constructed) in a checkpoint");
  proto::Tensor t;
  t.set_dtype(static_cast<int>(a.dtype()));
  for (int64_t d : a.shape()) t.add_shape(d);
  t.set_data(detail::ArrayBytes(a));
  return t;
}

proto::Tensor ToTensor(const NDArray& a, const std::string& name) {
  proto::Tensor t = ToTensor(a);
  t.set_name(name);
  return t;
}

NDArray FromTensor(const proto::Tensor& t) {
  const std::string problem = TensorProblem(t);
  if (!problem.empty()) throw CheckpointError("tensor '" + t.name() + "': " + problem);
  return detail::ArrayFromBytes(TensorShape(t), static_cast<DType>(t.dtype()), t.data());
}

std::string SerializeCheckpoint(const proto::CheckpointFile& ckpt) {
  return Serialize(ckpt, VersionDefaults(ckpt));
}

proto::CheckpointFile ParseCheckpoint(const std::string& bytes,
                                      const std::string& name_for_errors) {
  const std::string& name = name_for_errors;
  if (bytes.size() < kTrailerBytes) {
    throw CheckpointError(loom::detail::StrCat(
        name, ": payload_bytes: expected a checkpoint trailer (", kTrailerBytes,
        " bytes) but the file has only ", bytes.size(), " bytes (truncated?)"));
  }
  proto::CheckpointFile trailer;
  const size_t payload_size = bytes.size() - kTrailerBytes;
  if (!trailer.ParseFromArray(bytes.data() + payload_size, kTrailerBytes) ||
      !trailer.has_payload_bytes() || !trailer.has_payload_crc32c()) {
    throw CheckpointError(name +
                          ": payload_bytes: expected the checkpoint trailer (payload length and "
                          "CRC-32C) in the last 16 bytes but found none (truncated, or not a Loom "
                          "checkpoint)");
  }
  if (trailer.payload_bytes() != payload_size) {
    throw CheckpointError(loom::detail::StrCat(
        name, ": payload_bytes: expected ", trailer.payload_bytes(),
        " bytes before the trailer but the file has ", payload_size, " (truncated or corrupt)"));
  }
  const std::string_view payload(bytes.data(), payload_size);
  if (Crc32c(payload) != trailer.payload_crc32c()) {
    throw CheckpointError(name +
                          ": payload_crc32c: the CRC-32C of the contents does not match "
                          "(the file is corrupt)");
  }
  proto::CheckpointFile ckpt;
  if (!ckpt.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    throw CheckpointError(name + ": cannot parse the contents as loom.proto.CheckpointFile");
  }
  if (!ckpt.has_format_version()) {
    throw CheckpointError(name + ": format_version: expected " +
                          std::to_string(kCheckpointFormatVersion) + " but it is missing");
  }
  if (ckpt.format_version() != kCheckpointFormatVersion) {
    throw CheckpointError(
        loom::detail::StrCat(name, ": format_version: expected ", kCheckpointFormatVersion,
                             " but got ", ckpt.format_version(), " (written by ",
                             ckpt.framework_version(), "; this is ", kFrameworkVersion, ")"));
  }
  CheckTensors(ckpt.arg_params(), "arg_params", name);
  CheckTensors(ckpt.aux_params(), "aux_params", name);
  CheckTensors(ckpt.optimizer_state(), "optimizer_state", name);
  return ckpt;
}

proto::CheckpointFile LoadCheckpoint(const std::string& path) {
  return ParseCheckpoint(ReadFile(path), path);
}

CheckpointDir::CheckpointDir(std::string dir, int keep) : dir_(std::move(dir)), keep_(keep) {
  LOOM_CHECK(keep_ >= 0, "expected checkpoint keep >= 0 but got ", keep_);
}

std::string CheckpointDir::UpdateTag(int64_t num_update) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%07lld", static_cast<long long>(num_update));
  return buffer;
}

std::string CheckpointDir::Save(const proto::CheckpointFile& ckpt, const std::string& tag) {
  LOOM_CHECK(ValidTag(tag),
             "expected a checkpoint tag of letters, digits, '_', '.', '-' but got \"", tag, "\"");
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error)
    throw IoError("cannot create the checkpoint directory " + dir_ + ": " + error.message());
  const std::string file_name = "ckpt-" + tag + ".pb";
  const std::string path = dir_ + "/" + file_name;
  proto::CheckpointFile defaults = VersionDefaults(ckpt);
  if (!ckpt.has_tag()) defaults.set_tag(tag);
  if (!ckpt.has_wall_time()) {
    defaults.set_wall_time(
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  }
  WriteFileAtomic(path, Serialize(ckpt, defaults));
  WriteFileAtomic(dir_ + "/" + kPointerName, file_name + "\n");
  Prune(file_name);
  return path;
}

std::optional<std::string> CheckpointDir::Latest() const {
  const std::string pointer = dir_ + "/" + kPointerName;
  std::error_code error;
  if (!std::filesystem::exists(pointer, error)) return std::nullopt;
  std::string name = ReadFile(pointer);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  if (name.empty())
    throw CheckpointError(pointer + ": expected a checkpoint file name but it is empty");
  const std::string path = name.front() == '/' ? name : dir_ + "/" + name;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw CheckpointError(pointer + ": names " + path + ", which does not exist");
  }
  return path;
}

void CheckpointDir::Prune(const std::string& just_written) const {
  std::vector<std::string> tags;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
    const std::string name = entry.path().filename().string();
    // Temporaries of a saver that crashed (one saver per directory: none of them is live).
    if (name.find(".tmp.") != std::string::npos &&
        (name.starts_with("ckpt-") || name.starts_with(kPointerName))) {
      std::filesystem::remove(entry.path(), error);
      continue;
    }
    const std::string tag = PeriodicTag(name);
    if (!tag.empty() && name != just_written) tags.push_back(tag);
  }
  if (keep_ == 0) return;
  const size_t others = static_cast<size_t>(keep_) - (PeriodicTag(just_written).empty() ? 0 : 1);
  if (tags.size() <= others) return;
  std::sort(tags.begin(), tags.end(), TagLess);
  // Removal errors leave the file in place: the checkpoint just written is what matters.
  for (size_t i = 0; i + others < tags.size(); ++i) {
    std::filesystem::remove(dir_ + "/ckpt-" + tags[i] + ".pb", error);
  }
}

}  // namespace loom::train
