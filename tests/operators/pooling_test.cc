// Pooling's schema: conventions, global pooling, layouts, parameter defaults and errors.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

Shape Pool(const testing::Params& params, const Shape& data) {
  return PartialShape(MakeOp("Pooling", params), {{"op_data", data}}, "op_output");
}

TEST(PoolingSchema, ConventionsGiveMXNetSizes) {
  // valid: 1 + (8 - 3) / 2 = 3; full: 1 + ceil(5 / 2) = 4 (MXNet: (1,1,4,4)).
  EXPECT_EQ(Pool({{"kernel", "(3,3)"}, {"stride", "(2,2)"}}, Shape{1, 1, 8, 8}),
            (Shape{1, 1, 3, 3}));
  EXPECT_EQ(Pool({{"kernel", "(3,3)"}, {"stride", "(2,2)"}, {"pooling_convention", "full"}},
                 Shape{1, 1, 8, 8}),
            (Shape{1, 1, 4, 4}));
  // full with padding: 1 + ceil((7+2-3)/2) = 4, 1 + ceil((8+2-3)/2) = 5.
  EXPECT_EQ(Pool({{"kernel", "(3, 3)"},
                  {"stride", "(2, 2)"},
                  {"pad", "(1, 1)"},
                  {"pooling_convention", "full"}},
                 Shape{1, 1, 7, 8}),
            (Shape{1, 1, 4, 5}));
  // same (1-D): ceil((11 + 0) / 2) = 6.
  EXPECT_EQ(Pool({{"kernel", "(3,)"}, {"stride", "(2,)"}, {"pooling_convention", "same"}},
                 Shape{4, 2, 11}),
            (Shape{4, 2, 6}));
  EXPECT_EQ(Pool({{"kernel", "(2,2,2)"}, {"stride", "(2,2,2)"}, {"pool_type", "avg"}},
                 Shape{1, 1, 7, 8, 9}),
            (Shape{1, 1, 3, 4, 4}));
}

TEST(PoolingSchema, GlobalPoolIgnoresKernel) {
  EXPECT_EQ(Pool({{"global_pool", "True"}}, Shape{2, 3, 8, 8}), (Shape{2, 3, 1, 1}));
  EXPECT_EQ(Pool({{"global_pool", "true"}, {"kernel", "(2,)"}}, Shape{1, 3, 8, 8}),
            (Shape{1, 3, 1, 1}));
  EXPECT_EQ(Pool({{"global_pool", "1"}, {"layout", "NHWC"}}, Shape{2, 8, 8, 3}),
            (Shape{2, 1, 1, 3}));
  // Unknown spatial sizes do not matter (MXNet: (0,3,1,1)).
  EXPECT_EQ(Pool({{"global_pool", "True"}}, Shape{0, 3, 0, 4}), (Shape{0, 3, 1, 1}));
}

TEST(PoolingSchema, ChannelLastLayouts) {
  EXPECT_EQ(Pool({{"kernel", "(3,)"}, {"layout", "NWC"}}, Shape{1, 9, 2}), (Shape{1, 7, 2}));
  EXPECT_EQ(Pool({{"kernel", "(2,2)"}, {"stride", "(2,2)"}, {"layout", "NHWC"}}, Shape{2, 8, 8, 3}),
            (Shape{2, 4, 4, 3}));
}

TEST(PoolingSchema, PartialShapesBothWays) {
  EXPECT_EQ(Pool({{"kernel", "(2,2)"}}, Shape{0, 3, 8, 0}), (Shape{0, 3, 7, 0}));
  Symbol p = MakeOp("Pooling", {{"kernel", "(2,2)"}});
  Symbol z = Symbol::Variable("z");
  // Batch and channels pass through, so they come back from the output.
  EXPECT_EQ(
      PartialShape(p + z, {{"op_data", Shape{0, 0, 8, 8}}, {"z", Shape{5, 3, 7, 7}}}, "op_data"),
      (Shape{5, 3, 8, 8}));
}

TEST(PoolingSchema, ParameterDefaultsAndStyles) {
  // p_value, count_include_pad and layout accept None; stride and pad default per kernel axis.
  EXPECT_EQ(Pool({{"kernel", "[3, 3]"},
                  {"pool_type", "lp"},
                  {"p_value", "2"},
                  {"count_include_pad", "None"},
                  {"layout", "None"}},
                 Shape{1, 1, 8, 8}),
            (Shape{1, 1, 6, 6}));
  EXPECT_EQ(
      Pool({{"kernel", "(3L, 3L)"}, {"pool_type", "sum"}, {"pad", "(1,1)"}}, Shape{1, 1, 8, 8}),
      (Shape{1, 1, 8, 8}));
}

TEST(PoolingSchema, Errors) {
  ExpectError([] { MakeOp("Pooling", {}); },
              {"parameter 'kernel' is required unless global_pool is set", "Pooling"});
  ExpectError(
      [] {
        MakeOp("Pooling", {{"kernel", "(3,3)"}, {"pool_type", "lp"}});
      },
      {"pool_type 'lp' needs parameter 'p_value'"});
  ExpectError(
      [] {
        MakeOp("Pooling", {{"kernel", "(2,2)"}, {"stride", "(2,)"}});
      },
      {"parameter 'stride': expected 2 values"});
  ExpectError(
      [] {
        MakeOp("Pooling", {{"kernel", "(0,2)"}});
      },
      {"parameter 'kernel': expected positive sizes but got (0,2)"});
  ExpectError(
      [] {
        MakeOp("Pooling", {{"kernel", "(2,2)"}, {"pool_type", "median"}});
      },
      {"expected one of {max, avg, sum, lp} but got 'median'"});
  Symbol p = MakeOp("Pooling", {{"kernel", "(5,5)"}});
  ExpectError<ShapeError>(
      [&] {
        p.InferShapePartial({{"op_data", Shape{2, 3, 4, 4}}});
      },
      {"op: Pooling kernel (5, 5) exceeds the input size 4"});
  ExpectError<ShapeError>(
      [&] {
        p.InferShapePartial({{"op_data", Shape{2, 3, 8}}});
      },
      {"input 'data' ('op_data') has shape (2,3,8)", "4 dimensions"});
  Symbol same = MakeOp("Pooling", {{"kernel", "(2,2)"}, {"pooling_convention", "same"}});
  ExpectError<ShapeError>(
      [&] {
        same.InferShapePartial({{"op_data", Shape{2, 3, 8, 8}}});
      },
      {"'same' only for 1-D pooling"});
}

}  // namespace
}  // namespace loom
