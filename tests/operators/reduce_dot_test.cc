// Reductions (axis, keepdims, exclude), argmax/argmin, dot and batch_dot.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

Shape Reduce(const char* op, const testing::Params& params, const Shape& data) {
  return PartialShape(MakeOp(op, params), {{"op_data", data}}, "op_output");
}

TEST(ReduceSchema, AxisKeepdimsExclude) {
  const Shape d{2, 3, 4};
  for (const char* op : {"sum", "sum_axis", "mean", "max", "max_axis", "min", "min_axis", "prod",
                         "nansum", "nanprod"}) {
    SCOPED_TRACE(op);
    EXPECT_EQ(Reduce(op, {}, d), (Shape{1}));
    EXPECT_EQ(Reduce(op, {{"axis", "None"}}, d), (Shape{1}));
    EXPECT_EQ(Reduce(op, {{"axis", "()"}}, d), (Shape{1}));
    EXPECT_EQ(Reduce(op, {{"keepdims", "True"}}, d), (Shape{1, 1, 1}));
    EXPECT_EQ(Reduce(op, {{"axis", "1"}}, d), (Shape{2, 4}));
    EXPECT_EQ(Reduce(op, {{"axis", "-1"}}, d), (Shape{2, 3}));
    EXPECT_EQ(Reduce(op, {{"axis", "(0, 2)"}}, d), (Shape{3}));
    EXPECT_EQ(Reduce(op, {{"axis", "1"}, {"keepdims", "1"}}, d), (Shape{2, 1, 4}));
    EXPECT_EQ(Reduce(op, {{"axis", "1"}, {"exclude", "True"}}, d), (Shape{3}));
    EXPECT_EQ(Reduce(op, {{"axis", "(0,2)"}, {"exclude", "True"}, {"keepdims", "True"}}, d),
              (Shape{2, 1, 4}));
  }
  EXPECT_EQ(Reduce("sum", {{"axis", "1"}}, Shape{0, 3, 4}), (Shape{0, 4}));
  EXPECT_EQ(Reduce("sum", {{"axis", "0"}}, Shape{5}), (Shape{1}));
  ExpectError<ShapeError>(
      [] {
        Reduce("sum", {{"axis", "(1, 1)"}}, Shape{2, 3, 4});
      },
      {"op: sum parameter axis=(1, 1) lists axis 1 twice"});
  ExpectError<ShapeError>(
      [] {
        Reduce("mean", {{"axis", "3"}}, Shape{2, 3, 4});
      },
      {"op: mean expected axis in [-3, 2] for data (2,3,4) but got axis=3"});
}

TEST(ArgReduceSchema, AxisAndKeepdims) {
  for (const char* op : {"argmax", "argmin"}) {
    SCOPED_TRACE(op);
    EXPECT_EQ(Reduce(op, {}, Shape{2, 3, 4}), (Shape{1}));
    EXPECT_EQ(Reduce(op, {{"keepdims", "True"}}, Shape{2, 3, 4}), (Shape{1, 1, 1}));
    EXPECT_EQ(Reduce(op, {{"axis", "1"}}, Shape{2, 3, 4}), (Shape{2, 4}));
    EXPECT_EQ(Reduce(op, {{"axis", "-1"}, {"keepdims", "True"}}, Shape{2, 3, 4}), (Shape{2, 3, 1}));
    EXPECT_EQ(Reduce(op, {{"axis", "1"}}, Shape{0, 3, 4}), (Shape{0, 4}));
  }
  EXPECT_EQ(Reduce("argmax", {{"axis", "0"}}, Shape{5}), (Shape{1}));
  // The indices have the data's dtype, as in MXNet 1.x.
  EXPECT_EQ(testing::PartialType(MakeOp("argmax", {{"axis", "0"}}), {{"op_data", DType::kFloat16}},
                                 "op_output"),
            DType::kFloat16);
}

Shape Dot(const char* op, const testing::Params& params, const Shape& lhs, const Shape& rhs) {
  return PartialShape(MakeOp(op, params), {{"op_lhs", lhs}, {"op_rhs", rhs}}, "op_output");
}

TEST(DotSchema, TensorProducts) {
  EXPECT_EQ(Dot("dot", {}, Shape{2, 3}, Shape{3, 4}), (Shape{2, 4}));
  EXPECT_EQ(Dot("dot", {}, Shape{3}, Shape{3}), (Shape{1}));
  EXPECT_EQ(Dot("dot", {}, Shape{3}, Shape{3, 4}), (Shape{4}));
  EXPECT_EQ(Dot("dot", {}, Shape{2, 3}, Shape{3}), (Shape{2}));
  EXPECT_EQ(Dot("dot", {{"transpose_a", "True"}}, Shape{3, 2}, Shape{3, 4}), (Shape{2, 4}));
  EXPECT_EQ(Dot("dot", {{"transpose_b", "True"}}, Shape{2, 3}, Shape{4, 3}), (Shape{2, 4}));
  EXPECT_EQ(Dot("dot", {}, Shape{2, 3, 4}, Shape{4, 5, 6}), (Shape{2, 3, 5, 6}));
  EXPECT_EQ(Dot("dot", {{"transpose_a", "True"}}, Shape{4, 2, 3}, Shape{4, 5}), (Shape{2, 3, 5}));
  // T28: dot(x(0,3,4), y(4,5)) gives (0,3,5).
  EXPECT_EQ(Dot("dot", {}, Shape{0, 3, 4}, Shape{4, 5}), (Shape{0, 3, 5}));
  EXPECT_EQ(Dot("dot", {{"forward_stype", "default"}}, Shape{2, 3}, Shape{3, 4}), (Shape{2, 4}));
  ExpectError<ShapeError>(
      [] {
        Dot("dot", {}, Shape{2, 3}, Shape{4, 5});
      },
      {"op: dot cannot multiply (2,3) x (4,5): the contracted sizes 3 and 4 "
       "differ"});
  ExpectError<ShapeError>(
      [] {
        Dot("dot", {{"transpose_a", "True"}}, Shape{3}, Shape{3});
      },
      {"cannot transpose vectors"});
  ExpectError<NotSupportedError>(
      [] {
        MakeOp("dot", {{"forward_stype", "csr"}});
      },
      {"only dense ('default') storage"});
}

TEST(BatchDotSchema, BatchedMatrices) {
  EXPECT_EQ(Dot("batch_dot", {}, Shape{2, 3, 4}, Shape{2, 4, 5}), (Shape{2, 3, 5}));
  EXPECT_EQ(Dot("batch_dot", {{"transpose_a", "True"}}, Shape{2, 4, 3}, Shape{2, 4, 5}),
            (Shape{2, 3, 5}));
  EXPECT_EQ(Dot("batch_dot", {{"transpose_b", "True"}}, Shape{2, 3, 4}, Shape{2, 5, 4}),
            (Shape{2, 3, 5}));
  EXPECT_EQ(Dot("batch_dot", {}, Shape{2, 2, 3, 4}, Shape{2, 2, 4, 5}), (Shape{2, 2, 3, 5}));
  // T28: batch_dot((0,3,4),(0,4,5)) gives (0,3,5); with the contracted size unknown, nothing.
  EXPECT_EQ(Dot("batch_dot", {}, Shape{0, 3, 4}, Shape{0, 4, 5}), (Shape{0, 3, 5}));
  EXPECT_EQ(Dot("batch_dot", {}, Shape{0, 3, 4}, Shape{0, 0, 5}), Shape());
  ExpectError<ShapeError>(
      [] {
        Dot("batch_dot", {}, Shape{2, 3, 4}, Shape{3, 4, 5});
      },
      {"op: batch_dot needs equal batch dimensions"});
  ExpectError<ShapeError>(
      [] {
        Dot("batch_dot", {}, Shape{2, 3, 4}, Shape{2, 3, 5});
      },
      {"the contracted sizes 4 and 3 differ"});
  ExpectError<ShapeError>(
      [] {
        Dot("batch_dot", {}, Shape{2, 3}, Shape{2, 3});
      },
      {"same number (>= 3) of dimensions"});
}

}  // namespace
}  // namespace loom
