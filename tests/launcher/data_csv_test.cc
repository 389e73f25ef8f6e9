// The CSV reader: values, label column, header, and errors naming file:line:column.
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
using testing::TempDir;
using testing::WriteBytes;

std::string CsvError(const std::string& path, int label_column = -1, bool header = false) {
  try {
    ReadCsv(path, label_column, header);
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a DataError reading " << path;
  return "";
}

TEST(DataCsv, LastColumnIsTheLabelByDefault) {
  TempDir dir;
  WriteBytes(dir.File("a.csv"), "1,2,0\n3.5, -4e1 ,1\n\n+5,6,2\n");
  const Dataset ds = ReadCsv(dir.File("a.csv"), -1, false);
  EXPECT_EQ(ds.dtype, DType::kFloat32);
  EXPECT_EQ(ds.sample_shape, Shape{2});
  EXPECT_EQ(ds.floats, (std::vector<float>{1, 2, 3.5f, -40, 5, 6}));
  EXPECT_EQ(ds.labels, (std::vector<float>{0, 1, 2}));
}

TEST(DataCsv, LabelColumnFromEitherEndAndHeader) {
  TempDir dir;
  WriteBytes(dir.File("a.csv"), "label,x,y\r\n7,0.25,0.5\r\n8,0.75,1\r\n");
  const Dataset first = ReadCsv(dir.File("a.csv"), 0, true);
  EXPECT_EQ(first.floats, (std::vector<float>{0.25f, 0.5f, 0.75f, 1}));
  EXPECT_EQ(first.labels, (std::vector<float>{7, 8}));
  const Dataset middle = ReadCsv(dir.File("a.csv"), -2, true);
  EXPECT_EQ(middle.floats, (std::vector<float>{7, 0.5f, 8, 1}));
  EXPECT_EQ(middle.labels, (std::vector<float>{0.25f, 0.75f}));
}

TEST(DataCsv, GzipCompressedCsv) {
  TempDir dir;
  WriteBytes(dir.File("a.csv.gz"), GzipStored("1,2,0\n3,4,1\n"));
  const Dataset ds = ReadCsv(dir.File("a.csv.gz"), -1, false);
  EXPECT_EQ(ds.floats, (std::vector<float>{1, 2, 3, 4}));
}

TEST(DataCsv, BadNumberNamesFileLineAndColumn) {
  TempDir dir;
  WriteBytes(dir.File("a.csv"), "1,2,0\n3,4,1\n5, x7,1\n");
  EXPECT_THAT(CsvError(dir.File("a.csv")),
              AllOf(HasSubstr(dir.File("a.csv") + ":3:4: expected a finite number in field 2"),
                    HasSubstr("but got 'x7'")));
  WriteBytes(dir.File("a.csv"), "1,,0\n");
  EXPECT_THAT(CsvError(dir.File("a.csv")), HasSubstr(":1:3: expected a finite number"));
  WriteBytes(dir.File("a.csv"), "1,nan,0\n");
  EXPECT_THAT(CsvError(dir.File("a.csv")), HasSubstr(":1:3: expected a finite number"));
  WriteBytes(dir.File("a.csv"), "1,2.5.1,0\n");
  EXPECT_THAT(CsvError(dir.File("a.csv")), HasSubstr("but got '2.5.1'"));
  WriteBytes(dir.File("a.csv"), "1,1e99,0\n");
  EXPECT_THAT(CsvError(dir.File("a.csv")), HasSubstr("out of float range"));
}

TEST(DataCsv, WrongColumnCountNamesLine) {
  TempDir dir;
  WriteBytes(dir.File("a.csv"), "h1,h2,h3\n1,2,0\n\n3,4\n");
  EXPECT_THAT(CsvError(dir.File("a.csv"), -1, true),
              HasSubstr(dir.File("a.csv") + ":4: expected 3 columns (as line 2) but got 2"));
}

TEST(DataCsv, LabelColumnOutsideTheColumns) {
  TempDir dir;
  WriteBytes(dir.File("a.csv"), "1,2,0\n");
  EXPECT_THAT(CsvError(dir.File("a.csv"), 3), HasSubstr("label_column 3 is outside the 3 columns"));
  EXPECT_THAT(CsvError(dir.File("a.csv"), -4), HasSubstr("label_column -4 is outside"));
  WriteBytes(dir.File("b.csv"), "1\n");
  EXPECT_THAT(CsvError(dir.File("b.csv")), HasSubstr("expected at least 2 columns"));
}

TEST(DataCsv, NoDataLines) {
  TempDir dir;
  WriteBytes(dir.File("a.csv"), "x,y\n\n");
  EXPECT_THAT(CsvError(dir.File("a.csv"), -1, true),
              HasSubstr("has no data lines after its header"));
  EXPECT_THROW(ReadCsv(dir.File("missing.csv"), -1, false), IoError);
}

}  // namespace
}  // namespace loom::train
