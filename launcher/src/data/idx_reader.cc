// The idx format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type byte,
// 0x08 for unsigned bytes, and the number of dimensions), one big-endian uint32 per dimension, then
// the elements row-major. Images are 0x00000803 (count, rows, cols), labels 0x00000801 (count).
#include <cstdint>
#include <cstdio>
#include <string>

#include "data/file_bytes.h"
#include "loom/scheduler/error.h"
#include "loom/train/data_iter.h"

namespace loom::train {
namespace {

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", v);
  return buf;
}

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}

// Checks an idx file of unsigned bytes with `ndim` dimensions; returns them.
std::vector<int64_t> ParseIdxHeader(const std::string& path, const detail::FileBytes& file,
                                    int ndim, const char* what) {
  const uint32_t expected_magic = 0x00000800u | static_cast<uint32_t>(ndim);
  const std::string& b = file.bytes;
  const char* size_kind = file.gzip ? " bytes (decompressed)" : " bytes";
  LOOM_CHECK_TYPED(DataError, b.size() >= 4, "idx ", what, " file '", path, "' has ", b.size(),
                   size_kind, ", too short for the 4-byte magic number ", Hex32(expected_magic));
  const uint32_t magic = BigEndian32(b, 0);
  LOOM_CHECK_TYPED(DataError, magic == expected_magic, "idx ", what, " file '", path,
                   "': expected magic ", Hex32(expected_magic), " (unsigned bytes, ", ndim,
                   ndim == 1 ? " dimension" : " dimensions", ") but got ", Hex32(magic));
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  LOOM_CHECK_TYPED(DataError, b.size() >= header, "idx ", what, " file '", path, "' has ", b.size(),
                   size_kind, ", too short for its ", header, "-byte header");
  std::vector<int64_t> dims;
  uint64_t elements = 1;
  bool overflow = false;
  for (int i = 0; i < ndim; ++i) {
    dims.push_back(BigEndian32(b, 4 + 4 * static_cast<size_t>(i)));
    overflow |= __builtin_mul_overflow(elements, static_cast<uint64_t>(dims.back()), &elements);
  }
  // Dimensions whose product overflows describe more bytes than any file holds.
  uint64_t expected = 0;
  overflow |= __builtin_add_overflow(static_cast<uint64_t>(header), elements, &expected);
  if (overflow) expected = UINT64_MAX;
  std::string dims_text;
  for (int64_t d : dims) dims_text += (dims_text.empty() ? "" : " x ") + std::to_string(d);
  LOOM_CHECK_TYPED(DataError, b.size() == expected, "idx ", what, " file '", path, "': expected ",
                   expected, " bytes (", header, "-byte header + ", dims_text,
                   ") but the file has ", b.size(), size_kind,
                   b.size() < expected ? " (truncated)" : " (trailing bytes)");
  return dims;
}

}  // namespace

Dataset ReadIdx(const std::string& images_path, const std::string& labels_path, int num_classes) {
  const detail::FileBytes images = detail::ReadDataFile(images_path);
  const detail::FileBytes labels = detail::ReadDataFile(labels_path);
  const std::vector<int64_t> image_dims = ParseIdxHeader(images_path, images, 3, "image");
  const std::vector<int64_t> label_dims = ParseIdxHeader(labels_path, labels, 1, "label");
  LOOM_CHECK_TYPED(DataError, image_dims[0] == label_dims[0], "label count != image count: '",
                   labels_path, "' has ", label_dims[0], " labels but '", images_path, "' has ",
                   image_dims[0], " images");

  Dataset ds;
  ds.origin = images_path + " + " + labels_path;
  ds.sample_shape = Shape{1, image_dims[1], image_dims[2]};
  ds.dtype = DType::kUInt8;
  ds.bytes.assign(images.bytes.begin() + 16, images.bytes.end());
  ds.labels.resize(static_cast<size_t>(label_dims[0]));
  for (size_t i = 0; i < ds.labels.size(); ++i) {
    const int label = static_cast<unsigned char>(labels.bytes[8 + i]);
    LOOM_CHECK_TYPED(DataError, label < num_classes, "label out of range: label ", i, " of '",
                     labels_path, "' is ", label, ", expected one in [0, ", num_classes,
                     ") (num_classes of the data source)");
    ds.labels[i] = static_cast<float>(label);
  }
  return ds;
}

}  // namespace loom::train
