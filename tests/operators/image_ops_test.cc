// UpSampling (variadic nearest, bilinear with data and weight), Crop and Pad.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

TEST(UpSamplingSchema, NearestConcatenatesOrSumsInputs) {
  Symbol a = Symbol::Variable("a"), b = Symbol::Variable("b");
  Symbol up = MakeOp("UpSampling", {{"scale", "2"}, {"sample_type", "nearest"}}, {a, b});
  EXPECT_EQ(up.ListArguments(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(up.outputs()[0].node->attrs.dict.at("num_args"), "2");
  EXPECT_EQ(PartialShape(up, {{"a", Shape{1, 3, 4, 4}}, {"b", Shape{1, 2, 8, 8}}}, "op_output"),
            (Shape{1, 5, 8, 8}));
  Symbol sum =
      MakeOp("UpSampling",
             {{"scale", "2"}, {"sample_type", "nearest"}, {"multi_input_mode", "sum"}}, {a, b});
  EXPECT_EQ(PartialShape(sum, {{"a", Shape{1, 3, 4, 4}}, {"b", Shape{1, 3, 8, 8}}}, "op_output"),
            (Shape{1, 3, 8, 8}));
  ExpectError<ShapeError>(
      [&] {
        sum.InferShapePartial({{"a", Shape{1, 3, 4, 4}}, {"b", Shape{1, 2, 8, 8}}});
      },
      {"op: UpSampling with multi_input_mode 'sum' every input needs the same channels"});
  ExpectError<ShapeError>(
      [&] {
        up.InferShapePartial({{"a", Shape{1, 3, 4, 4}}, {"b", Shape{1, 2, 3, 3}}});
      },
      {"input 'arg1' ('b') has shape (1,2,3,3) whose size 3 along axis 2 does not divide the "
       "output size 8"});
}

TEST(UpSamplingSchema, BilinearTakesDataAndWeight) {
  // MXNet writes num_args=1 but the operator has two inputs; the weight is created.
  Symbol x = Symbol::Variable("x");
  Symbol up =
      MakeOp("UpSampling", {{"scale", "2"}, {"sample_type", "bilinear"}, {"num_filter", "3"}}, {x});
  EXPECT_EQ(up.ListArguments(), (std::vector<std::string>{"x", "op_weight"}));
  EXPECT_EQ(up.outputs()[0].node->attrs.dict.at("num_args"), "1");
  auto r = up.InferShape({{"x", Shape{1, 3, 4, 4}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->arguments[1], (Shape{3, 1, 4, 4}));  // kernel 2*scale - scale%2
  EXPECT_EQ(r->outputs[0], (Shape{1, 3, 8, 8}));
  Symbol odd = MakeOp("UpSampling", {{"scale", "3"}, {"sample_type", "bilinear"}}, {x});
  EXPECT_EQ(PartialShape(odd, {{"x", Shape{1, 2, 4, 4}}}, "op_weight"), (Shape{2, 1, 5, 5}));
  // The JSON form: two inputs with num_args 1 load as they were written.
  Symbol loaded = Symbol::FromJSON(up.ToJSON());
  EXPECT_EQ(loaded.ListArguments(), (std::vector<std::string>{"x", "op_weight"}));
  ExpectError(
      [] {
        MakeOp("UpSampling", {{"scale", "0"}, {"sample_type", "nearest"}}, {Symbol::Variable("x")});
      },
      {"parameter 'scale' (int): expected a value >= 1"});
}

TEST(CropSchema, WindowFromParameterOrSecondInput) {
  Symbol x = Symbol::Variable("x"), like = Symbol::Variable("like");
  Symbol c1 = MakeOp("Crop", {{"h_w", "(2, 3)"}, {"offset", "(1, 1)"}}, {x});
  EXPECT_EQ(PartialShape(c1, {{"x", Shape{2, 3, 5, 5}}}, "op_output"), (Shape{2, 3, 2, 3}));
  Symbol c2 = MakeOp("Crop", {{"center_crop", "True"}}, {x, like});
  EXPECT_EQ(OpRegistry::Global().Get("Crop").ListInputNames(c2.outputs()[0].node->attrs),
            (std::vector<std::string>{"arg0", "arg1"}));
  EXPECT_EQ(PartialShape(c2, {{"x", Shape{0, 3, 5, 5}}, {"like", Shape{1, 1, 3, 4}}}, "op_output"),
            (Shape{0, 3, 3, 4}));
  // float32 only, as MXNet's legacy operator.
  EXPECT_EQ(testing::PartialType(c1, {}, "x"), DType::kFloat32);
  ExpectError<DTypeError>(
      [&] {
        c1.InferTypePartial({{"x", DType::kFloat16}});
      },
      {"op: Crop input 'arg0' ('x') has dtype float16 but the operator "
       "supports only float32"});
  ExpectError<ShapeError>(
      [&] {
        c1.InferShapePartial({{"x", Shape{2, 3, 2, 5}}});
      },
      {"the crop window (2,3) at offset (1,1) does not fit data (2,3,2,5)"});
  ExpectError([&] { MakeOp("Crop", {}, {x}); },
              {"parameter 'h_w': expected a positive (height, width) with num_args=1"});
  ExpectError(
      [&] {
        MakeOp("Crop", {}, {x, like, x});
      },
      {"parameter 'num_args' (int): expected a value <= 2 but got '3'"});
}

TEST(PadSchema, SpatialAxesGrow) {
  EXPECT_EQ(OpRegistry::Global().Get("pad").name(), "Pad");
  Symbol p = MakeOp(
      "Pad", {{"mode", "constant"}, {"pad_width", "(0,0,0,0,1,2,3,4)"}, {"constant_value", "1.5"}});
  EXPECT_EQ(PartialShape(p, {{"op_data", Shape{0, 3, 4, 5}}}, "op_output"), (Shape{0, 3, 7, 12}));
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(p + z, {{"z", Shape{2, 3, 7, 12}}}, "op_data"), (Shape{2, 3, 4, 5}));
  Symbol edge5 = MakeOp("Pad", {{"mode", "edge"}, {"pad_width", "(0,0,0,0,1,2,3,4,1,1)"}});
  EXPECT_EQ(PartialShape(edge5, {{"op_data", Shape{2, 3, 4, 5, 6}}}, "op_output"),
            (Shape{2, 3, 7, 12, 8}));
  ExpectError<ShapeError>(
      [&] {
        p.InferShapePartial({{"op_data", Shape{2, 3, 4}}});
      },
      {"op: Pad supports only 4-D or 5-D data"});
  Symbol batch = MakeOp("Pad", {{"mode", "constant"}, {"pad_width", "(1,0,0,0,1,2,3,4)"}});
  ExpectError<ShapeError>(
      [&] {
        batch.InferShapePartial({{"op_data", Shape{2, 3, 4, 5}}});
      },
      {"pads the batch or channel axis"});
  Symbol reflect = MakeOp("Pad", {{"mode", "reflect"}, {"pad_width", "(0,0,0,0,4,1,1,1)"}});
  ExpectError<ShapeError>(
      [&] {
        reflect.InferShapePartial({{"op_data", Shape{2, 3, 4, 5}}});
      },
      {"mode 'reflect' needs pad widths smaller than the axis"});
  ExpectError(
      [] {
        MakeOp("Pad", {{"mode", "wrap"}, {"pad_width", "(0,0,0,0,1,1,1,1)"}});
      },
      {"expected one of {constant, edge, reflect} but got 'wrap'"});
}

}  // namespace
}  // namespace loom
