#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loom/core/dtype.h"
#include "loom/core/shape.h"
#include "loom/scheduler/error.h"

namespace loom {
namespace {

TEST(Shape, ParsesEveryMxnetStyle) {
  EXPECT_EQ(Shape::Parse("(3,3)"), (Shape{3, 3}));
  EXPECT_EQ(Shape::Parse("(3, 3)"), (Shape{3, 3}));
  EXPECT_EQ(Shape::Parse("[2,3,4]"), (Shape{2, 3, 4}));
  EXPECT_EQ(Shape::Parse("(8L, 3L)"), (Shape{8, 3}));
  EXPECT_EQ(Shape::Parse("(-1)"), (Shape{-1}));
  EXPECT_EQ(Shape::Parse("(5,)"), (Shape{5}));
  EXPECT_EQ(Shape::Parse("7"), (Shape{7}));
  EXPECT_EQ(Shape::Parse("()"), Shape());
  for (const char* bad : {"(3,,3)", "(3", "3)", "(a)", "(,)", "(3 3)", "(3,3) x"}) {
    EXPECT_THROW(Shape::Parse(bad), ShapeError) << bad;
  }
}

TEST(Shape, SizeKnownAndPrint) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.Size(), 24);
  EXPECT_EQ(s.Size(1, 3), 12);
  EXPECT_EQ(s.ToString(), "(2,3,4)");
  EXPECT_EQ(s.at(-1), 4);
  EXPECT_TRUE(s.IsKnown());
  EXPECT_FALSE((Shape{2, 0}).IsKnown());
  EXPECT_FALSE(Shape().IsKnown());
  EXPECT_THAT([&] { s.at(3); }, ::testing::ThrowsMessage<ShapeError>(
                                    ::testing::HasSubstr("axis 3 is out of range for shape (2,3,4)")));
}

TEST(DType, NamesCodesAndSizes) {
  EXPECT_EQ(ParseDType("float16"), DType::kFloat16);
  EXPECT_EQ(DTypeSize(DType::kFloat16), 2u);
  EXPECT_EQ(DTypeSize(DType::kInt64), 8u);
  EXPECT_STREQ(ToString(DType::kUInt8), "uint8");
  EXPECT_EQ(DTypeFromCode(6), DType::kInt64);  // MXNet's int64 code
  EXPECT_EQ(static_cast<int>(DType::kInt32), 4);
  EXPECT_THROW(DTypeFromCode(42), DTypeError);
  EXPECT_THAT([] { ParseDType("float8"); },
              ::testing::ThrowsMessage<DTypeError>(::testing::HasSubstr("but got 'float8'")));
}

}  // namespace
}  // namespace loom
