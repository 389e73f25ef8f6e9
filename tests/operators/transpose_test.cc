// transpose and SwapAxis: permutations forward and backward, and their errors.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

TEST(TransposeSchema, PermutesAxes) {
  EXPECT_EQ(PartialShape(MakeOp("transpose", {}), {{"op_data", Shape{2, 3, 4}}}, "op_output"),
            (Shape{4, 3, 2}));
  // T28: transpose(x(0,3,224,224), axes=[0,3,2,1]) gives (0,224,224,3).
  Symbol t = MakeOp("transpose", {{"axes", "[0, 3, 2, 1]"}});
  EXPECT_EQ(PartialShape(t, {{"op_data", Shape{0, 3, 224, 224}}}, "op_output"),
            (Shape{0, 224, 224, 3}));
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(t + z, {{"z", Shape{5, 224, 225, 3}}}, "op_data"),
            (Shape{5, 3, 225, 224}));
  // Without axes, backward works too (MXNet crashes on this one).
  EXPECT_EQ(PartialShape(MakeOp("transpose", {}) + z, {{"z", Shape{4, 3, 2}}}, "op_data"),
            (Shape{2, 3, 4}));
}

TEST(TransposeSchema, Errors) {
  ExpectError(
      [] {
        MakeOp("transpose", {{"axes", "(0, 0, 1)"}});
      },
      {"parameter 'axes': expected a permutation of 0..2 but got (0, 0, 1)"});
  ExpectError([] { MakeOp("transpose", {{"axes", "(-1, 0, 1)"}}); }, {"expected a permutation"});
  Symbol t = MakeOp("transpose", {{"axes", "(0, 1)"}});
  ExpectError<ShapeError>(
      [&] {
        t.InferShapePartial({{"op_data", Shape{2, 3, 4}}});
      },
      {"op: transpose parameter axes=(0, 1) permutes 2 axes but the data "
       "has 3"});
}

TEST(SwapAxisSchema, ExchangesTwoAxes) {
  EXPECT_EQ(OpRegistry::Global().Get("swapaxes").name(), "SwapAxis");
  Symbol s = MakeOp("SwapAxis", {{"dim1", "-1"}, {"dim2", "0"}});
  EXPECT_EQ(PartialShape(s, {{"op_data", Shape{2, 0, 4}}}, "op_output"), (Shape{4, 0, 2}));
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(s + z, {{"z", Shape{4, 3, 2}}}, "op_data"), (Shape{2, 3, 4}));
  EXPECT_EQ(PartialShape(MakeOp("swapaxes", {}), {{"op_data", Shape{2, 3}}}, "op_output"),
            (Shape{2, 3}));
  Symbol bad = MakeOp("SwapAxis", {{"dim1", "3"}});
  ExpectError<ShapeError>(
      [&] {
        bad.InferShapePartial({{"op_data", Shape{2, 3, 4}}});
      },
      {"op: SwapAxis expected dim1 in [-3, 2] for data (2,3,4) but got "
       "dim1=3"});
}

}  // namespace
}  // namespace loom
