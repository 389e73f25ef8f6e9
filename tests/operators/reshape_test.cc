// Flatten, Reshape (every special code, reverse, the legacy target_shape), expand_dims and
// squeeze: MXNet's documented examples, partial shapes both ways and errors.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

Shape Reshape(const testing::Params& params, const Shape& data) {
  return PartialShape(MakeOp("Reshape", params), {{"op_data", data}}, "op_output");
}

TEST(ReshapeSchema, MXNetDocumentedExamples) {
  // The examples of MXNet's Reshape documentation.
  EXPECT_EQ(Reshape({{"shape", "(4,0,2)"}}, Shape{2, 3, 4}), (Shape{4, 3, 2}));
  EXPECT_EQ(Reshape({{"shape", "(2,0,0)"}}, Shape{2, 3, 4}), (Shape{2, 3, 4}));
  EXPECT_EQ(Reshape({{"shape", "(6,1,-1)"}}, Shape{2, 3, 4}), (Shape{6, 1, 4}));
  EXPECT_EQ(Reshape({{"shape", "(3,-1,8)"}}, Shape{2, 3, 4}), (Shape{3, 1, 8}));
  EXPECT_EQ(Reshape({{"shape", "(-1,)"}}, Shape{2, 3, 4}), (Shape{24}));
  EXPECT_EQ(Reshape({{"shape", "(-2,)"}}, Shape{2, 3, 4}), (Shape{2, 3, 4}));
  EXPECT_EQ(Reshape({{"shape", "(2,-2)"}}, Shape{2, 3, 4}), (Shape{2, 3, 4}));
  EXPECT_EQ(Reshape({{"shape", "(-2,1,1)"}}, Shape{2, 3, 4}), (Shape{2, 3, 4, 1, 1}));
  EXPECT_EQ(Reshape({{"shape", "(-3,4)"}}, Shape{2, 3, 4}), (Shape{6, 4}));
  EXPECT_EQ(Reshape({{"shape", "(-3,-3)"}}, Shape{2, 3, 4, 5}), (Shape{6, 20}));
  EXPECT_EQ(Reshape({{"shape", "(0,-3)"}}, Shape{2, 3, 4}), (Shape{2, 12}));
  EXPECT_EQ(Reshape({{"shape", "(-3,-2)"}}, Shape{2, 3, 4}), (Shape{6, 4}));
  EXPECT_EQ(Reshape({{"shape", "(-4,1,2,-2)"}}, Shape{2, 3, 4}), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(Reshape({{"shape", "(2,-4,-1,3,-2)"}}, Shape{2, 3, 4}), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(Reshape({{"shape", "(-1,0)"}}, Shape{10, 5, 4}), (Shape{40, 5}));
  EXPECT_EQ(Reshape({{"shape", "(-1,0)"}, {"reverse", "True"}}, Shape{10, 5, 4}), (Shape{50, 4}));
}

TEST(ReshapeSchema, ParameterStylesAndLegacyTargetShape) {
  EXPECT_EQ(Reshape({{"shape", "(-1)"}}, Shape{2, 3, 4}), (Shape{24}));
  EXPECT_EQ(Reshape({{"shape", "(-1, 200)"}}, Shape{60, 1, 200}), (Shape{60, 200}));
  EXPECT_EQ(Reshape({{"shape", "[4, -1]"}}, Shape{2, 3, 4}), (Shape{4, 6}));
  // Deprecated target_shape: one 0 is inferred; keep_highest keeps the first dimension.
  EXPECT_EQ(Reshape({{"target_shape", "(0,12)"}}, Shape{2, 3, 4}), (Shape{2, 12}));
  EXPECT_EQ(Reshape({{"target_shape", "(5,0)"}, {"keep_highest", "True"}}, Shape{2, 3, 4}),
            (Shape{2, 12}));
  // `shape` wins over target_shape.
  EXPECT_EQ(Reshape({{"shape", "(4,6)"}, {"target_shape", "(3,8)"}}, Shape{2, 3, 4}),
            (Shape{4, 6}));
}

TEST(ReshapeSchema, PartialShapesBothWays) {
  EXPECT_EQ(Reshape({{"shape", "(-1,4)"}}, Shape{0, 3, 4}), (Shape{0, 4}));
  EXPECT_EQ(Reshape({{"shape", "(0,-1)"}}, Shape{0, 3, 4}), (Shape{0, 0}));
  EXPECT_EQ(Reshape({{"shape", "(-3,0)"}}, Shape{0, 3, 4}), (Shape{0, 4}));
  // One unknown data dimension follows from a known output's size.
  Symbol r = MakeOp("Reshape", {{"shape", "(-1,4)"}});
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(r + z, {{"op_data", Shape{0, 3, 4}}, {"z", Shape{6, 4}}}, "op_data"),
            (Shape{2, 3, 4}));
  // Without `shape` the output alone still fills a single unknown data dimension.
  Symbol none = MakeOp("Reshape", {});
  EXPECT_EQ(PartialShape(none + z, {{"op_data", Shape{2, 0, 4}}, {"z", Shape{24}}}, "op_data"),
            (Shape{2, 3, 4}));
}

TEST(ReshapeSchema, Errors) {
  Symbol copy_too_many = MakeOp("Reshape", {{"shape", "(0,0,0,0)"}});
  ExpectError<ShapeError>(
      [&] {
        copy_too_many.InferShapePartial({{"op_data", Shape{2, 3, 4}}});
      },
      {"op: Reshape cannot reshape data (2,3,4) with shape=(0, 0, 0, 0)",
       "code 0 at position 3 has no input dimension to copy"});
  ExpectError<ShapeError>(
      [&] {
        MakeOp("Reshape", {{"shape", "(-1,-1)"}}).InferShapePartial({{"op_data", Shape{6}}});
      },
      {"more than one dimension is -1"});
  ExpectError<ShapeError>(
      [&] {
        MakeOp("Reshape", {{"shape", "(-4,4,2)"}}).InferShapePartial({{"op_data", Shape{6, 2}}});
      },
      {"code -4 splits dimension 6 into 4 x 2"});
  // MXNet accepts a size change here and fails when running; Loom refuses at once.
  ExpectError<ShapeError>(
      [&] {
        MakeOp("Reshape", {{"shape", "(5,-1)"}}).InferShapePartial({{"op_data", Shape{2, 3, 4}}});
      },
      {"cannot infer the -1 dimension: 24 elements are not a multiple of 5"});
  ExpectError<ShapeError>(
      [&] {
        MakeOp("Reshape", {{"shape", "(7,)"}}).InferShapePartial({{"op_data", Shape{2, 3, 4}}});
      },
      {"cannot reshape data (2,3,4) (24 elements) to (7) (7 elements)"});
  ExpectError(
      [] {
        MakeOp("Reshape", {{"shape", "(-5,2)"}});
      },
      {"parameter 'shape': expected dimensions >= -4"});
}

TEST(FlattenSchema, CollapsesAllButTheFirstAxis) {
  EXPECT_EQ(OpRegistry::Global().Get("flatten").name(), "Flatten");
  Symbol f = MakeOp("Flatten", {});
  EXPECT_EQ(PartialShape(f, {{"op_data", Shape{2, 3, 4}}}, "op_output"), (Shape{2, 12}));
  EXPECT_EQ(PartialShape(f, {{"op_data", Shape{5}}}, "op_output"), (Shape{5, 1}));
  EXPECT_EQ(PartialShape(f, {{"op_data", Shape{0, 3, 4}}}, "op_output"), (Shape{0, 12}));
  EXPECT_EQ(PartialShape(f, {{"op_data", Shape{2, 0, 4}}}, "op_output"), (Shape{2, 0}));
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(f + z, {{"op_data", Shape{0, 0, 4}}, {"z", Shape{2, 12}}}, "op_data"),
            (Shape{2, 3, 4}));
}

TEST(ExpandDimsSchema, InsertsAnAxisBothWays) {
  Symbol e = MakeOp("expand_dims", {{"axis", "-1"}});
  EXPECT_EQ(PartialShape(e, {{"op_data", Shape{2, 3}}}, "op_output"), (Shape{2, 3, 1}));
  Symbol e1 = MakeOp("expand_dims", {{"axis", "1"}});
  EXPECT_EQ(PartialShape(e1, {{"op_data", Shape{0, 3}}}, "op_output"), (Shape{0, 1, 3}));
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(e1 + z, {{"z", Shape{2, 1, 3}}}, "op_data"), (Shape{2, 3}));
  ExpectError<ShapeError>(
      [&] {
        MakeOp("expand_dims", {{"axis", "3"}}).InferShapePartial({{"op_data", Shape{2, 3}}});
      },
      {"op: expand_dims expected axis in [-3, 2] for data (2,3) but got axis=3"});
  ExpectError<ShapeError>(
      [&] {
        (e1 + z).InferShapePartial({{"z", Shape{2, 2, 3}}});
      },
      {"the inserted axis 1 must have size 1"});
}

TEST(SqueezeSchema, RemovesAxesOfSizeOne) {
  Symbol all = MakeOp("squeeze", {});
  EXPECT_EQ(PartialShape(all, {{"op_data", Shape{1, 2, 1, 3}}}, "op_output"), (Shape{2, 3}));
  EXPECT_EQ(PartialShape(all, {{"op_data", Shape{1, 1}}}, "op_output"), (Shape{1}));
  Symbol some = MakeOp("squeeze", {{"axis", "(0, -2)"}});
  EXPECT_EQ(PartialShape(some, {{"op_data", Shape{1, 2, 1, 3}}}, "op_output"), (Shape{2, 3}));
  Symbol one = MakeOp("squeeze", {{"axis", "1"}});
  EXPECT_EQ(PartialShape(one, {{"op_data", Shape{0, 1, 3}}}, "op_output"), (Shape{0, 3}));
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(one + z, {{"op_data", Shape{0, 1, 0}}, {"z", Shape{4, 5}}}, "op_data"),
            (Shape{4, 1, 5}));
  ExpectError<ShapeError>(
      [&] {
        one.InferShapePartial({{"op_data", Shape{1, 2, 1, 3}}});
      },
      {"op: squeeze cannot squeeze axis 1 of data (1,2,1,3): its size is 2, not 1"});
  ExpectError<ShapeError>(
      [&] {
        MakeOp("squeeze", {{"axis", "(0,0)"}}).InferShapePartial({{"op_data", Shape{1, 2}}});
      },
      {"names axis 0 twice"});
}

}  // namespace
}  // namespace loom
