// The idx reader on hand-made files: plain and gzip, and every way such a file can be wrong.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "loom/scheduler/error.h"
#include "loom/train/data_iter.h"

namespace loom::train {
namespace {

using ::testing::AllOf;
using testing::GzipStored;
using ::testing::HasSubstr;
using testing::IdxBytes;
using testing::TempDir;
using testing::WriteBytes;

// Three 2x3 images and their labels.
const std::vector<uint8_t> kPixels = {0,  1,  2,  3,   4,   5,   10,  11,  12,
                                      13, 14, 15, 250, 251, 252, 253, 254, 255};
const std::vector<uint8_t> kLabels = {2, 0, 1};

std::string Images() { return IdxBytes({3, 2, 3}, kPixels); }
std::string Labels() { return IdxBytes({3}, kLabels); }

template <typename ErrorType>
std::string MessageOf(const std::string& images, const std::string& labels, int classes = 10) {
  try {
    ReadIdx(images, labels, classes);
  } catch (const ErrorType& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error reading " << images << " and " << labels;
  return "";
}

void ExpectFixture(const Dataset& ds) {
  EXPECT_EQ(ds.sample_shape, (Shape{1, 2, 3}));
  EXPECT_EQ(ds.dtype, DType::kUInt8);
  EXPECT_EQ(ds.num_samples(), 3);
  EXPECT_EQ(ds.bytes, kPixels);
  EXPECT_EQ(ds.labels, (std::vector<float>{2, 0, 1}));
  EXPECT_TRUE(ds.floats.empty());
}

TEST(DataIdx, ReadsPlainFiles) {
  TempDir dir;
  WriteBytes(dir.File("img"), Images());
  WriteBytes(dir.File("lbl"), Labels());
  ExpectFixture(ReadIdx(dir.File("img"), dir.File("lbl"), 10));
}

TEST(DataIdx, ReadsGzipFilesWhateverTheirName) {
  TempDir dir;
  // Small stored blocks: the inflater must join several blocks.
  WriteBytes(dir.File("img.gz"), GzipStored(Images(), 7));
  WriteBytes(dir.File("lbl"), GzipStored(Labels()));  // gzip without .gz: told by magic bytes
  ExpectFixture(ReadIdx(dir.File("img.gz"), dir.File("lbl"), 10));
}

TEST(DataIdx, ReadsConcatenatedGzipMembers) {
  TempDir dir;
  const std::string images = Images();
  WriteBytes(dir.File("img.gz"), GzipStored(images.substr(0, 10)) + GzipStored(images.substr(10)));
  WriteBytes(dir.File("lbl.gz"), GzipStored(Labels()));
  ExpectFixture(ReadIdx(dir.File("img.gz"), dir.File("lbl.gz"), 10));
}

TEST(DataIdx, WrongMagicNamesFileAndBothValues) {
  TempDir dir;
  WriteBytes(dir.File("img"), IdxBytes({3, 2, 3}, kPixels, 0x00000801));
  WriteBytes(dir.File("lbl"), Labels());
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              AllOf(HasSubstr(dir.File("img")), HasSubstr("expected magic 0x00000803"),
                    HasSubstr("but got 0x00000801")));
  // A label file passed as images, and a float idx file (type 0x0D).
  WriteBytes(dir.File("img"), Images());
  WriteBytes(dir.File("lbl"), IdxBytes({3}, kLabels, 0x00000D01));
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              AllOf(HasSubstr(dir.File("lbl")), HasSubstr("expected magic 0x00000801"),
                    HasSubstr("but got 0x00000D01")));
}

TEST(DataIdx, TruncatedFileSaysExpectedAndActualBytes) {
  TempDir dir;
  const std::string images = Images();  // 16 + 18 = 34 bytes
  WriteBytes(dir.File("img"), images.substr(0, 33));
  WriteBytes(dir.File("lbl"), Labels());
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              AllOf(HasSubstr(dir.File("img")), HasSubstr("expected 34 bytes"),
                    HasSubstr("3 x 2 x 3"), HasSubstr("the file has 33 bytes (truncated)")));
  // The same inside gzip: the decompressed size is what counts.
  WriteBytes(dir.File("img.gz"), GzipStored(images.substr(0, 30)));
  EXPECT_THAT(MessageOf<DataError>(dir.File("img.gz"), dir.File("lbl")),
              AllOf(HasSubstr("expected 34 bytes"), HasSubstr("30 bytes (decompressed)")));
  // Cut inside the header.
  WriteBytes(dir.File("img"), images.substr(0, 10));
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              AllOf(HasSubstr("has 10 bytes"), HasSubstr("16-byte header")));
  // Dimensions whose product overflows 64 bits.
  WriteBytes(dir.File("img"), IdxBytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, kPixels));
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              AllOf(HasSubstr("4294967295 x 4294967295 x 4294967295"), HasSubstr("(truncated)")));
  WriteBytes(dir.File("img"), images.substr(0, 2));
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              HasSubstr("too short for the 4-byte magic number 0x00000803"));
}

TEST(DataIdx, TrailingBytesAreAnError) {
  TempDir dir;
  WriteBytes(dir.File("img"), Images());
  WriteBytes(dir.File("lbl"), Labels() + "x");
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              AllOf(HasSubstr(dir.File("lbl")), HasSubstr("expected 11 bytes"),
                    HasSubstr("12 bytes (trailing bytes)")));
}

TEST(DataIdx, LabelCountMustMatchImageCount) {
  TempDir dir;
  WriteBytes(dir.File("img"), Images());
  WriteBytes(dir.File("lbl"), IdxBytes({2}, {1, 2}));
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              AllOf(HasSubstr("label count != image count"), HasSubstr("has 2 labels"),
                    HasSubstr("has 3 images")));
}

TEST(DataIdx, LabelOutOfRange) {
  TempDir dir;
  WriteBytes(dir.File("img"), Images());
  WriteBytes(dir.File("lbl"), IdxBytes({3}, {1, 2, 10}));
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl")),
              AllOf(HasSubstr("label out of range"), HasSubstr("label 2 of"),
                    HasSubstr("is 10, expected one in [0, 10)")));
  // Fewer classes declared: 2 is out of range for 2 classes.
  WriteBytes(dir.File("lbl"), Labels());
  EXPECT_THAT(MessageOf<DataError>(dir.File("img"), dir.File("lbl"), 2), HasSubstr("label 0 of"));
}

TEST(DataIdx, TruncatedGzip) {
  TempDir dir;
  const std::string gz = GzipStored(Images());
  WriteBytes(dir.File("img.gz"), gz.substr(0, gz.size() - 12));
  WriteBytes(dir.File("lbl"), Labels());
  EXPECT_THAT(MessageOf<DataError>(dir.File("img.gz"), dir.File("lbl")),
              AllOf(HasSubstr(dir.File("img.gz")), HasSubstr("truncated")));
  // Only the trailer missing.
  WriteBytes(dir.File("img.gz"), gz.substr(0, gz.size() - 8));
  EXPECT_THAT(MessageOf<DataError>(dir.File("img.gz"), dir.File("lbl")), HasSubstr("truncated"));
}

TEST(DataIdx, CorruptGzip) {
  TempDir dir;
  std::string gz = GzipStored(Images());
  std::string bad_block = gz;
  bad_block[10] = '\x07';  // BTYPE = 11: reserved
  WriteBytes(dir.File("img.gz"), bad_block);
  WriteBytes(dir.File("lbl"), Labels());
  EXPECT_THAT(
      MessageOf<DataError>(dir.File("img.gz"), dir.File("lbl")),
      AllOf(HasSubstr(dir.File("img.gz")), HasSubstr("corrupt"), HasSubstr("invalid block type")));
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0x55;
  WriteBytes(dir.File("img.gz"), bad_crc);
  EXPECT_THAT(MessageOf<DataError>(dir.File("img.gz"), dir.File("lbl")),
              AllOf(HasSubstr("corrupt"), HasSubstr("incorrect data check")));
  WriteBytes(dir.File("img.gz"), gz + "junk");
  EXPECT_THAT(MessageOf<DataError>(dir.File("img.gz"), dir.File("lbl")),
              HasSubstr("4 bytes of trailing garbage"));
}

TEST(DataIdx, MissingFileIsIoErrorNamingIt) {
  TempDir dir;
  WriteBytes(dir.File("lbl"), Labels());
  EXPECT_THAT(MessageOf<IoError>(dir.File("nope"), dir.File("lbl")),
              AllOf(HasSubstr(dir.File("nope")), HasSubstr("No such file or directory")));
}

}  // namespace
}  // namespace loom::train
