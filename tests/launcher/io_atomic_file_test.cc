// WriteFileAtomic / ReadFile: contents, replacement, and failures that leave the old file and no
// temporary behind (missing directory, parent that is a file, write failing half way).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "io_test_util.h"
#include "loom/scheduler/error.h"
#include "loom/train/atomic_file.h"

namespace loom::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RawRead;
using testing::RawWrite;
using testing::ScratchDir;

TEST(IoAtomicFile, WritesAndReadsBack) {
  ScratchDir dir;
  std::string bytes("a\0b\nc", 5);
  WriteFileAtomic(dir / "f.bin", bytes);
  EXPECT_EQ(RawRead(dir / "f.bin"), bytes);
  EXPECT_EQ(ReadFile(dir / "f.bin"), bytes);
  EXPECT_THAT(dir.List(), ElementsAre("f.bin"));
}

TEST(IoAtomicFile, ReplacesExistingFileAndEmptyContents) {
  ScratchDir dir;
  RawWrite(dir / "f", "old contents");
  WriteFileAtomic(dir / "f", "new");
  EXPECT_EQ(RawRead(dir / "f"), "new");
  WriteFileAtomic(dir / "f", "");
  EXPECT_EQ(ReadFile(dir / "f"), "");
  EXPECT_THAT(dir.List(), ElementsAre("f"));
}

TEST(IoAtomicFile, LargeFileRoundTrips) {
  ScratchDir dir;
  std::string bytes(3 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 % 251);
  WriteFileAtomic(dir / "big", bytes);
  EXPECT_EQ(ReadFile(dir / "big"), bytes);
}

TEST(IoAtomicFile, MissingDirectoryIsIoErrorNamingPath) {
  ScratchDir dir;
  const std::string path = dir / "no/such/dir/f";
  try {
    WriteFileAtomic(path, "x");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
  EXPECT_TRUE(dir.List().empty());
}

TEST(IoAtomicFile, ParentThatIsAFileIsIoError) {
  ScratchDir dir;
  RawWrite(dir / "plain", "i am a file");
  try {
    WriteFileAtomic(dir / "plain/f", "x");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir / "plain/f"));
    EXPECT_THAT(e.what(), HasSubstr("Not a directory"));
  }
  EXPECT_EQ(RawRead(dir / "plain"), "i am a file");
  EXPECT_THAT(dir.List(), ElementsAre("plain"));
}

TEST(IoAtomicFile, DirectoryInTheWayOfTheTargetKeepsItAndLeavesNoTemporary) {
  ScratchDir dir;
  std::filesystem::create_directory(dir / "target");
  RawWrite(dir / "target/inside", "kept");
  EXPECT_THROW(WriteFileAtomic(dir / "target", "x"), IoError);  // rename over a non-empty dir
  EXPECT_EQ(RawRead(dir / "target/inside"), "kept");
  EXPECT_THAT(dir.List(), ElementsAre("target"));
}

TEST(IoAtomicFile, ReadOnlyDirectoryIsIoErrorAndKeepsOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into read-only directories";
  ScratchDir dir;
  RawWrite(dir / "f", "old");
  std::filesystem::permissions(
      dir.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  try {
    WriteFileAtomic(dir / "f", "new");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("Permission denied"));
  }
  EXPECT_EQ(RawRead(dir / "f"), "old");
  EXPECT_THAT(dir.List(), ElementsAre("f"));
}

TEST(IoAtomicFile, FailureHalfWayKeepsOldFileAndRemovesTemporary) {
  ScratchDir dir;
  RawWrite(dir / "ckpt", "previous checkpoint");
  detail::SetWriteFailureAfterBytesForTesting(10);
  try {
    WriteFileAtomic(dir / "ckpt", std::string(1000, 'n'));
    detail::SetWriteFailureAfterBytesForTesting(std::nullopt);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    detail::SetWriteFailureAfterBytesForTesting(std::nullopt);
    EXPECT_THAT(e.what(), HasSubstr(dir / "ckpt"));
    EXPECT_THAT(e.what(), HasSubstr("injected failure after 10 bytes"));
    EXPECT_THAT(e.what(), HasSubstr("previous file is unchanged"));
  }
  EXPECT_EQ(RawRead(dir / "ckpt"), "previous checkpoint");
  EXPECT_THAT(dir.List(), ElementsAre("ckpt"));
  // Writes no longer than the limit succeed, and off means off.
  detail::SetWriteFailureAfterBytesForTesting(10);
  WriteFileAtomic(dir / "small", "0123456789");
  detail::SetWriteFailureAfterBytesForTesting(std::nullopt);
  WriteFileAtomic(dir / "ckpt", std::string(1000, 'n'));
  EXPECT_EQ(RawRead(dir / "small"), "0123456789");
  EXPECT_EQ(RawRead(dir / "ckpt"), std::string(1000, 'n'));
}

TEST(IoAtomicFile, ReadFileErrorsNameThePath) {
  ScratchDir dir;
  try {
    ReadFile(dir / "missing.params");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir / "missing.params"));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
  try {
    ReadFile(dir.path());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is a directory"));
  }
}

}  // namespace
}  // namespace loom::train
