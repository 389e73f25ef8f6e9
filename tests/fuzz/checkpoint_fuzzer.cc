// Fuzzes the checkpoint reader. The input is tried as a whole file, and as a payload behind a
// valid length+CRC-32C trailer (so the protobuf parsing and tensor validation behind the checksum
// are reached): each must load or throw loom::Error; every tensor of a loaded checkpoint must
// convert with FromTensor, and the checkpoint must save and load again.
#include <cstddef>
#include <cstdint>
#include <string>

#include "loom/proto/checkpoint.pb.h"
#include "loom/scheduler/error.h"
#include "loom/train/checkpoint.h"
#include "loom/train/event_writer.h"

namespace {

void Check(const std::string& bytes) {
  loom::proto::CheckpointFile ckpt;
  try {
    ckpt = loom::train::ParseCheckpoint(bytes, "fuzz.pb");
  } catch (const loom::Error&) {
    return;
  }
  for (const auto* list : {&ckpt.arg_params(), &ckpt.aux_params(), &ckpt.optimizer_state()}) {
    for (const loom::proto::Tensor& t : *list) loom::train::FromTensor(t);
  }
  loom::train::ParseCheckpoint(loom::train::SerializeCheckpoint(ckpt), "saved.pb");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  Check(input);
  loom::proto::CheckpointFile trailer;
  trailer.set_payload_bytes(input.size());
  trailer.set_payload_crc32c(loom::train::Crc32c(input));
  Check(input + trailer.SerializeAsString());
  return 0;
}
