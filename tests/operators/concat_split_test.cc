// Concat (variadic) and SliceChannel (several named outputs): names, shapes both ways, errors.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

TEST(ConcatSchema, VariadicInputsAndNumArgs) {
  Symbol a = Symbol::Variable("a"), b = Symbol::Variable("b"), c = Symbol::Variable("c");
  Symbol cat = MakeOp("concat", {{"dim", "1"}}, {a, b, c});
  EXPECT_EQ(cat.outputs()[0].node->attrs.op->name(), "Concat");
  EXPECT_EQ(cat.outputs()[0].node->attrs.dict.at("num_args"), "3");
  EXPECT_EQ(OpRegistry::Global().Get("Concat").ListInputNames(cat.outputs()[0].node->attrs),
            (std::vector<std::string>{"arg0", "arg1", "arg2"}));
  auto r = cat.InferShape({{"a", Shape{2, 3}}, {"b", Shape{2, 4}}, {"c", Shape{2, 5}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outputs[0], (Shape{2, 12}));
  ExpectError([] { MakeOp("Concat", {}); }, {"num_args", "Concat"});
}

TEST(ConcatSchema, PartialShapesBothWays) {
  Symbol a = Symbol::Variable("a"), b = Symbol::Variable("b"), d = Symbol::Variable("d");
  // T25: a (0,10), b (0,5), Concat(dim=1) + d (2,0) gives a (2,10), b (2,5), d (2,15).
  Symbol sum = MakeOp("Concat", {{"dim", "1"}}, {a, b}) + d;
  auto r = sum.InferShapePartial({{"a", Shape{0, 10}}, {"b", Shape{0, 5}}, {"d", Shape{2, 0}}});
  EXPECT_EQ(r.arguments, (std::vector<Shape>{{2, 10}, {2, 5}, {2, 15}}));
  // One input's size along dim follows from the output (MXNet leaves it unknown).
  r = sum.InferShapePartial({{"a", Shape{2, 0}}, {"b", Shape{2, 5}}, {"d", Shape{2, 9}}});
  EXPECT_EQ(r.arguments[0], (Shape{2, 4}));
  // An input of unknown width leaves the output's width unknown (MXNet wrongly answers 5).
  Symbol cat = MakeOp("Concat", {{"dim", "1"}}, {a, b});
  EXPECT_EQ(PartialShape(cat, {{"b", Shape{2, 5}}}, "op_output"), (Shape{2, 0}));
  EXPECT_EQ(PartialShape(cat, {{"b", Shape{2, 5}}}, "a"), (Shape{2, 0}));
}

TEST(ConcatSchema, Errors) {
  Symbol a = Symbol::Variable("a"), b = Symbol::Variable("b");
  Symbol cat = MakeOp("Concat", {{"dim", "1"}}, {a, b});
  ExpectError<ShapeError>(
      [&] {
        cat.InferShapePartial({{"a", Shape{2, 3}}, {"b", Shape{3, 5}}});
      },
      {"op: Concat input 'arg1' ('b') has shape (3,5) but expected (2,0)"});
  Symbol far = MakeOp("Concat", {{"dim", "2"}}, {a, b});
  ExpectError<ShapeError>(
      [&] {
        far.InferShapePartial({{"a", Shape{2, 3}}});
      },
      {"expected dim in [-2, 1] for data (2,3) but got dim=2"});
  Symbol d = Symbol::Variable("d");
  ExpectError<ShapeError>(
      [&] {
        (cat + d).InferShapePartial({{"a", Shape{2, 3}}, {"b", Shape{2, 0}}, {"d", Shape{2, 3}}});
      },
      {"output has size 3 along dim=1 but the known inputs already add up to 3"});
}

TEST(SliceChannelSchema, OutputNamesAndShapes) {
  // T2: outputs are named output0.. even for a single output.
  Symbol one = MakeOp("SliceChannel", {{"num_outputs", "1"}});
  EXPECT_EQ(one.ListOutputs(), (std::vector<std::string>{"op_output0"}));
  Symbol s = MakeOp("split", {{"num_outputs", "3"}, {"axis", "-1"}, {"squeeze_axis", "True"}});
  EXPECT_EQ(s.ListOutputs(), (std::vector<std::string>{"op_output0", "op_output1", "op_output2"}));
  auto r = s.InferShape({{"op_data", Shape{2, 4, 3}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outputs, (std::vector<Shape>{{2, 4}, {2, 4}, {2, 4}}));
  Symbol two = MakeOp("SliceChannel", {{"num_outputs", "2"}});
  EXPECT_EQ(PartialShape(two, {{"op_data", Shape{2, 4, 3}}}, "op_output1"), (Shape{2, 2, 3}));
}

TEST(SliceChannelSchema, BackwardFromOneOutput) {
  // T23: a (0,10) split into 10 squeezed + c (5,) gives a (5,10); a (0,15,0) into 3 + c
  // (3,5,2) gives a (3,15,2).
  Symbol c = Symbol::Variable("c");
  Symbol sq = MakeOp("SliceChannel", {{"num_outputs", "10"}, {"squeeze_axis", "1"}});
  EXPECT_EQ(PartialShape(sq[1] + c, {{"op_data", Shape{0, 10}}, {"c", Shape{5}}}, "op_data"),
            (Shape{5, 10}));
  Symbol s = MakeOp("SliceChannel", {{"num_outputs", "3"}});
  EXPECT_EQ(
      PartialShape(s[1] + c, {{"op_data", Shape{0, 15, 0}}, {"c", Shape{3, 5, 2}}}, "op_data"),
      (Shape{3, 15, 2}));
  // An unknown split axis stays unknown (MXNet fails on it).
  Symbol first = MakeOp("SliceChannel", {{"num_outputs", "3"}, {"axis", "0"}});
  EXPECT_EQ(PartialShape(first, {{"op_data", Shape{0, 4, 3}}}, "op_output2"), (Shape{0, 4, 3}));
}

TEST(SliceChannelSchema, Errors) {
  ExpectError<ShapeError>(
      [] {
        MakeOp("SliceChannel", {{"num_outputs", "3"}})
            .InferShapePartial({{"op_data", Shape{2, 4}}});
      },
      {"op: SliceChannel cannot split data (2,4) along axis 1 into num_outputs=3 equal parts"});
  ExpectError<ShapeError>(
      [] {
        MakeOp("SliceChannel", {{"num_outputs", "2"}, {"squeeze_axis", "true"}})
            .InferShapePartial({{"op_data", Shape{2, 4}}});
      },
      {"with squeeze_axis the split axis must have num_outputs=2 elements"});
  ExpectError(
      [] {
        MakeOp("SliceChannel", {{"num_outputs", "0"}});
      },
      {"parameter 'num_outputs' (int): expected a value >= 1 but got '0'"});
}

}  // namespace
}  // namespace loom
