// slice (alias crop) and slice_axis: Python's range rules, None, negative indices and steps.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

Shape Slice(const testing::Params& params, const Shape& data) {
  return PartialShape(MakeOp("slice", params), {{"op_data", data}}, "op_output");
}

TEST(SliceSchema, PythonRangeRules) {
  EXPECT_EQ(Slice({{"begin", "(0,1)"}, {"end", "(2,3)"}}, Shape{3, 4, 5}), (Shape{2, 2, 5}));
  EXPECT_EQ(Slice({{"begin", "(None, 1)"}, {"end", "(None, None)"}, {"step", "(None, 2)"}},
                  Shape{3, 4, 5}),
            (Shape{3, 2, 5}));
  // Backwards: 2,1 along axis 0; -1 (=3), 1 along axis 1 with step -2.
  EXPECT_EQ(Slice({{"begin", "(2, -1)"}, {"end", "(0, 0)"}, {"step", "(-1, -2)"}}, Shape{3, 4, 5}),
            (Shape{2, 2, 5}));
  EXPECT_EQ(Slice({{"begin", "(-1,)"}, {"end", "(None,)"}, {"step", "(-1,)"}}, Shape{3, 4, 5}),
            (Shape{3, 4, 5}));
  // Out-of-range indices clamp.
  EXPECT_EQ(Slice({{"begin", "(1,)"}, {"end", "(100,)"}}, Shape{3, 4, 5}), (Shape{2, 4, 5}));
  EXPECT_EQ(Slice({{"begin", "(-10,)"}, {"end", "(2,)"}}, Shape{3, 4, 5}), (Shape{2, 4, 5}));
  // Unknown dimensions stay unknown.
  EXPECT_EQ(Slice({{"begin", "(0,1)"}, {"end", "(2,3)"}}, Shape{0, 4, 5}), (Shape{0, 2, 5}));
  EXPECT_EQ(OpRegistry::Global().Get("crop").name(), "slice");
}

TEST(SliceSchema, Errors) {
  ExpectError(
      [] {
        MakeOp("slice", {{"begin", "(0,0)"}, {"end", "(1,)"}});
      },
      {"expected begin and end of the same length but got begin (0, 0) and end (1,)"});
  ExpectError(
      [] {
        MakeOp("slice", {{"begin", "(0,)"}, {"end", "(1,)"}, {"step", "(0,)"}});
      },
      {"step[0] cannot be 0"});
  ExpectError([] { MakeOp("slice", {{"begin", "(0,)"}}); }, {"required parameter 'end'"});
  ExpectError<ShapeError>(
      [] {
        MakeOp("slice", {{"begin", "(0,0,0,0)"}, {"end", "(1,1,1,1)"}})
            .InferShapePartial({{"op_data", Shape{3, 4, 5}}});
      },
      {"op: slice slices 4 axes but input 'data' ('op_data') (3,4,5) has only 3"});
}

TEST(SliceAxisSchema, OneAxis) {
  Symbol s = MakeOp("slice_axis", {{"axis", "-1"}, {"begin", "-2"}, {"end", "None"}});
  EXPECT_EQ(PartialShape(s, {{"op_data", Shape{3, 4, 5}}}, "op_output"), (Shape{3, 4, 2}));
  Symbol t = MakeOp("slice_axis", {{"axis", "0"}, {"begin", "0"}, {"end", "-1"}});
  EXPECT_EQ(PartialShape(t, {{"op_data", Shape{3, 4, 5}}}, "op_output"), (Shape{2, 4, 5}));
  // An unknown axis length leaves that dimension unknown.
  EXPECT_EQ(PartialShape(t, {{"op_data", Shape{0, 4, 5}}}, "op_output"), (Shape{0, 4, 5}));
  Symbol bad = MakeOp("slice_axis", {{"axis", "1"}, {"begin", "0"}, {"end", "5"}});
  ExpectError<ShapeError>(
      [&] {
        bad.InferShapePartial({{"op_data", Shape{3, 4, 5}}});
      },
      {"expected 0 <= begin < end <= 4 along axis 1 of data (3,4,5) but "
       "got begin=0, end=5"});
  ExpectError(
      [] {
        MakeOp("slice_axis", {{"axis", "1"}, {"begin", "0"}});
      },
      {"required parameter 'end' is missing"});
}

}  // namespace
}  // namespace loom
