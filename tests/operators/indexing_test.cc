// Embedding, one_hot, pick, batch_take and where: index inputs with free dtypes.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;
using testing::PartialType;

TEST(EmbeddingSchema, WeightAndOutput) {
  Symbol e = MakeOp("Embedding", {{"input_dim", "100"}, {"output_dim", "10"}});
  EXPECT_EQ(e.ListArguments(), (std::vector<std::string>{"op_data", "op_weight"}));
  // T28: Embedding(x(0,5), w(100,10)) gives (0,5,10).
  auto r = e.InferShapePartial({{"op_data", Shape{0, 5}}});
  EXPECT_EQ(r.arguments[1], (Shape{100, 10}));
  EXPECT_EQ(r.outputs[0], (Shape{0, 5, 10}));
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(e + z, {{"z", Shape{2, 3, 10}}}, "op_data"), (Shape{2, 3}));
  ExpectError<ShapeError>(
      [&] {
        e.InferShapePartial({{"op_data", Shape{2}}, {"op_weight", Shape{100, 6}}});
      },
      {"input 'weight' ('op_weight') has shape (100,6) but expected (100,10)"});
  ExpectError(
      [] {
        MakeOp("Embedding", {{"input_dim", "0"}, {"output_dim", "5"}});
      },
      {"parameter 'input_dim' (int): expected a value >= 1 but got '0'"});
}

TEST(EmbeddingSchema, IndicesDtypeIsFree) {
  Symbol e = MakeOp("Embedding", {{"input_dim", "2"}, {"output_dim", "2"}, {"dtype", "float16"}});
  auto r = e.InferType({{"op_data", DType::kInt32}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->arguments, (std::vector<DType>{DType::kInt32, DType::kFloat16}));
  EXPECT_EQ(r->outputs[0], DType::kFloat16);
  // A given weight dtype wins over the parameter, as in MXNet.
  Symbol f = MakeOp("Embedding", {{"input_dim", "2"}, {"output_dim", "2"}});
  EXPECT_EQ(PartialType(f, {{"op_weight", DType::kFloat64}}, "op_output"), DType::kFloat64);
}

TEST(OneHotSchema, ShapeAndDtype) {
  Symbol o = MakeOp("one_hot",
                    {{"depth", "5"}, {"on_value", "2"}, {"off_value", "-1"}, {"dtype", "int32"}});
  EXPECT_EQ(o.ListArguments(), (std::vector<std::string>{"op_indices"}));
  EXPECT_EQ(PartialShape(o, {{"op_indices", Shape{2, 3}}}, "op_output"), (Shape{2, 3, 5}));
  EXPECT_EQ(PartialType(o, {{"op_indices", DType::kFloat32}}, "op_output"), DType::kInt32);
  EXPECT_EQ(PartialType(MakeOp("one_hot", {{"depth", "2"}}), {}, "op_output"), DType::kFloat32);
  ExpectError([] { MakeOp("one_hot", {{"depth", "-1"}}); }, {"parameter 'depth'"});
}

TEST(PickSchema, IndexHasTheDataShapeWithoutAxis) {
  // T28: pick(x(0,3,3), index(0,3), axis=1) gives (0,3).
  Symbol p = MakeOp("pick", {{"axis", "1"}});
  EXPECT_EQ(PartialShape(p, {{"op_data", Shape{0, 3, 3}}, {"op_index", Shape{0, 3}}}, "op_output"),
            (Shape{0, 3}));
  Symbol keep = MakeOp("pick", {{"axis", "-1"}, {"keepdims", "True"}, {"mode", "wrap"}});
  auto r = keep.InferShapePartial({{"op_data", Shape{2, 3, 4}}});
  EXPECT_EQ(r.arguments[1], (Shape{2, 3}));
  EXPECT_EQ(r.outputs[0], (Shape{2, 3, 1}));
  EXPECT_EQ(
      PartialType(p, {{"op_data", DType::kFloat16}, {"op_index", DType::kInt32}}, "op_output"),
      DType::kFloat16);
  ExpectError([] { MakeOp("pick", {{"axis", "None"}}); }, {"pick needs an axis"});
}

TEST(BatchTakeSchema, OneElementPerRow) {
  Symbol b = MakeOp("batch_take", {});
  EXPECT_EQ(b.ListArguments(), (std::vector<std::string>{"op_a", "op_indices"}));
  EXPECT_EQ(PartialShape(b, {{"op_a", Shape{4, 3}}, {"op_indices", Shape{4}}}, "op_output"),
            (Shape{4}));
}

TEST(WhereSchema, ConditionShapes) {
  Symbol w = MakeOp("where", {});
  EXPECT_EQ(w.ListArguments(), (std::vector<std::string>{"op_condition", "op_x", "op_y"}));
  // x, y and the output share one shape, known from parts of each.
  auto r = w.InferShapePartial(
      {{"op_condition", Shape{2, 3}}, {"op_x", Shape{2, 0}}, {"op_y", Shape{0, 3}}});
  EXPECT_EQ(r.arguments[1], (Shape{2, 3}));
  EXPECT_EQ(r.outputs[0], (Shape{2, 3}));
  // A 1-D condition selects rows.
  EXPECT_TRUE(w.InferShape({{"op_condition", Shape{2}}, {"op_x", Shape{2, 3}}}).has_value());
  ExpectError<ShapeError>(
      [&] {
        w.InferShapePartial({{"op_condition", Shape{3}}, {"op_x", Shape{2, 3}}});
      },
      {"op: where input 'condition' ('op_condition') has shape (3)",
       "one element per row of x (2,3)"});
  ExpectError<ShapeError>(
      [&] {
        w.InferShapePartial({{"op_x", Shape{2, 3}}, {"op_y", Shape{2, 4}}});
      },
      {"x and y must have the same shape"});
  // The condition's dtype is free; x and y must agree.
  EXPECT_EQ(PartialType(w, {{"op_condition", DType::kInt32}, {"op_x", DType::kFloat16}}, "op_y"),
            DType::kFloat16);
  ExpectError<DTypeError>(
      [&] {
        w.InferTypePartial({{"op_x", DType::kFloat16}, {"op_y", DType::kFloat32}});
      },
      {"input 'x' ('op_x') has dtype float16 but input 'y' ('op_y') has dtype float32"});
}

}  // namespace
}  // namespace loom
