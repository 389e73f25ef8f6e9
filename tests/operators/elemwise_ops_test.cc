// Elementwise schemas: unary math, copies, clip, Cast, _zeros/_ones, broadcasting binary ops,
// _maximum/_minimum/_power and their scalar forms, add_n.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;
using testing::PartialType;

TEST(UnarySchema, ShapeAndDtypeFlowBothWays) {
  for (const char* op :
       {"exp", "log", "sqrt", "rsqrt", "square", "tanh", "sigmoid", "relu", "abs", "negative",
        "sin", "_copy", "identity", "BlockGrad", "zeros_like", "ones_like"}) {
    SCOPED_TRACE(op);
    Symbol u = MakeOp(op, {});
    EXPECT_EQ(u.ListArguments(), (std::vector<std::string>{"op_data"}));
    EXPECT_EQ(PartialShape(u, {{"op_data", Shape{2, 0}}}, "op_output"), (Shape{2, 0}));
    Symbol z = Symbol::Variable("z");
    EXPECT_EQ(PartialShape(u + z, {{"z", Shape{2, 3}}}, "op_data"), (Shape{2, 3}));
    EXPECT_EQ(PartialType(u, {{"op_data", DType::kInt32}}, "op_output"), DType::kInt32);
  }
  // T27: an operator with nothing known infers nothing.
  auto r = MakeOp("sin", {}).InferShapePartial({});
  EXPECT_EQ(r.arguments[0], Shape());
  EXPECT_EQ(r.outputs[0], Shape());
  EXPECT_EQ(OpRegistry::Global().Get("identity").name(), "_copy");
}

TEST(ClipSchema, RequiresBothBounds) {
  EXPECT_EQ(PartialShape(MakeOp("clip", {{"a_min", "-1"}, {"a_max", "1e-3"}}),
                         {{"op_data", Shape{2, 3}}}, "op_output"),
            (Shape{2, 3}));
  ExpectError(
      [] {
        MakeOp("clip", {{"a_min", "1"}});
      },
      {"required parameter 'a_max' is missing", "clip"});
}

TEST(CastSchema, OutputDtypeFromParameter) {
  // T5: Cast to float32 gives float32 whatever the input; infer_type_partial leaves the input
  // unknown.
  Symbol c = MakeOp("Cast", {{"dtype", "float32"}});
  EXPECT_EQ(PartialType(c, {{"op_data", DType::kFloat16}}, "op_output"), DType::kFloat32);
  auto r = c.InferTypePartial({});
  EXPECT_EQ(r.arguments[0], DType::kUnknown);
  EXPECT_EQ(r.outputs[0], DType::kFloat32);
  EXPECT_EQ(PartialType(MakeOp("cast", {{"dtype", "uint8"}}), {}, "op_output"), DType::kUInt8);
  EXPECT_EQ(PartialShape(c, {{"op_data", Shape{2, 3}}}, "op_output"), (Shape{2, 3}));
  ExpectError(
      [] {
        MakeOp("Cast", {{"dtype", "complex"}});
      },
      {"parameter 'dtype' (dtype)", "but got 'complex'"});
  ExpectError([] { MakeOp("Cast", {}); }, {"required parameter 'dtype' is missing"});
}

TEST(InitSchema, ZerosAndOnesHaveNoInputs) {
  Symbol z = MakeOp("_zeros", {{"shape", "(2, 3)"}, {"dtype", "int64"}});
  EXPECT_TRUE(z.ListArguments().empty());
  auto shapes = z.InferShape({});
  ASSERT_TRUE(shapes.has_value());
  EXPECT_EQ(shapes->outputs[0], (Shape{2, 3}));
  EXPECT_EQ(PartialType(z, {}, "op_output"), DType::kInt64);
  EXPECT_EQ(PartialType(MakeOp("_ones", {{"shape", "(4,)"}}), {}, "op_output"), DType::kFloat32);
  // The LSTM begin state of the lstm-ptb file: (2, 0, 200), the 0 filled from the consumer.
  Symbol begin = MakeOp("_zeros", {{"shape", "(2, 0, 200)"}, {"__layout__", "LNC"}});
  Symbol x = Symbol::Variable("x");
  Symbol internals = (begin + x).GetInternals();
  EXPECT_EQ(PartialShape(internals, {{"x", Shape{2, 5, 200}}}, "op_output"), (Shape{2, 5, 200}));
  ExpectError<ShapeError>(
      [&] {
        (begin + x).InferShapePartial({{"x", Shape{2, 5, 100}}});
      },
      {"(2,5,100)"});
}

TEST(BroadcastSchema, NumPyRules) {
  for (const char* op :
       {"broadcast_add", "broadcast_plus", "broadcast_sub", "broadcast_minus", "broadcast_mul",
        "broadcast_div", "broadcast_maximum", "broadcast_minimum", "broadcast_power"}) {
    SCOPED_TRACE(op);
    Symbol b = MakeOp(op, {});
    EXPECT_EQ(b.ListArguments(), (std::vector<std::string>{"op_lhs", "op_rhs"}));
    EXPECT_EQ(PartialShape(b, {{"op_lhs", Shape{2, 1, 4}}, {"op_rhs", Shape{3, 1}}}, "op_output"),
              (Shape{2, 3, 4}));
  }
  EXPECT_EQ(OpRegistry::Global().Get("broadcast_plus").name(), "broadcast_add");
  EXPECT_EQ(OpRegistry::Global().Get("broadcast_minus").name(), "broadcast_sub");
  Symbol b = MakeOp("broadcast_add", {});
  // An unknown dimension against 1 stays unknown (MXNet: (0,3) + (2,1) gives (0,3)).
  EXPECT_EQ(PartialShape(b, {{"op_lhs", Shape{0, 3}}, {"op_rhs", Shape{2, 1}}}, "op_output"),
            (Shape{0, 3}));
  ExpectError<ShapeError>(
      [&] {
        b.InferShapePartial({{"op_lhs", Shape{2, 3}}, {"op_rhs", Shape{4, 3}}});
      },
      {"op: broadcast_add cannot broadcast input 'lhs' ('op_lhs') (2,3) with input 'rhs' "
       "('op_rhs') (4,3): sizes 2 and 4 differ"});
}

TEST(MaxMinPowerSchema, ElementwiseAndScalarForms) {
  for (const char* op : {"_maximum", "_Maximum", "_minimum", "_Minimum", "_power", "_Power"}) {
    SCOPED_TRACE(op);
    Symbol b = MakeOp(op, {});
    EXPECT_EQ(b.ListArguments(), (std::vector<std::string>{"op_lhs", "op_rhs"}));
    EXPECT_EQ(PartialShape(b, {{"op_lhs", Shape{2, 3}}}, "op_rhs"), (Shape{2, 3}));
  }
  for (const char* op : {"_maximum_scalar", "_MaximumScalar", "_minimum_scalar", "_MinimumScalar",
                         "_power_scalar", "_PowerScalar", "_rpower_scalar", "_RPowerScalar"}) {
    SCOPED_TRACE(op);
    Symbol s = MakeOp(op, {{"scalar", "2.5"}, {"is_int", "False"}});
    EXPECT_EQ(PartialShape(s, {{"op_data", Shape{2, 3}}}, "op_output"), (Shape{2, 3}));
  }
}

TEST(AddNSchema, VariadicSum) {
  EXPECT_EQ(OpRegistry::Global().Get("ElementWiseSum").name(), "add_n");
  Symbol a = Symbol::Variable("a"), b = Symbol::Variable("b"), c = Symbol::Variable("c");
  Symbol s = MakeOp("ElementWiseSum", {}, {a, b, c});
  EXPECT_EQ(s.ListArguments(), (std::vector<std::string>{"a", "b", "c"}));
  auto r = s.InferShapePartial({{"a", Shape{2, 0}}, {"c", Shape{0, 3}}});
  EXPECT_EQ(r.arguments, (std::vector<Shape>(3, Shape{2, 3})));
  ExpectError<ShapeError>(
      [&] {
        s.InferShapePartial({{"a", Shape{2, 3}}, {"b", Shape{3, 2}}});
      },
      {"op: add_n input 'arg1' ('b') has shape (3,2)"});
}

}  // namespace
}  // namespace loom
