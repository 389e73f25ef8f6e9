// BatchNorm's schema: auxiliary states and their initialisers, hidden outputs, the channel axis
// and the dtype rule for float16.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;
using testing::ValueOf;

TEST(BatchNormSchema, AuxiliaryStatesAndOutputs) {
  Symbol bn = MakeOp("BatchNorm", {});
  EXPECT_EQ(bn.ListArguments(), (std::vector<std::string>{"op_data", "op_gamma", "op_beta"}));
  EXPECT_EQ(bn.ListAuxiliaryStates(),
            (std::vector<std::string>{"op_moving_mean", "op_moving_var"}));
  EXPECT_EQ(bn.ListOutputs(), (std::vector<std::string>{"op_output"}));
  Symbol all = MakeOp("BatchNorm", {{"output_mean_var", "True"}});
  EXPECT_EQ(all.ListOutputs(), (std::vector<std::string>{"op_output", "op_mean", "op_var"}));
}

TEST(BatchNormSchema, MovingStatisticsGetInitialisers) {
  Symbol bn = MakeOp("BatchNorm", {});
  auto dict = bn.AttrDict();
  EXPECT_EQ(dict["op_moving_mean"]["__init__"], R"(["zero", {}])");
  EXPECT_EQ(dict["op_moving_var"]["__init__"], R"(["one", {}])");
  // A variable that already has an initialiser keeps it.
  Symbol mm = Symbol::Variable("mm", {.init = R"(["constant", {"value": 2}])"});
  Symbol given = Symbol::Op("BatchNorm").Input("moving_mean", mm).Name("bn2");
  EXPECT_EQ(given.AttrDict()["mm"]["__init__"], R"(["constant", {"value": 2}])");
}

TEST(BatchNormSchema, ChannelAxis) {
  Symbol bn = MakeOp("BatchNorm", {{"eps", "1e-5"}, {"momentum", "0.8"}, {"fix_gamma", "False"}});
  auto r = bn.InferShape({{"op_data", Shape{2, 3, 4, 4}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ValueOf(bn, *r, "op_gamma"), (Shape{3}));
  EXPECT_EQ(ValueOf(bn, *r, "op_moving_var"), (Shape{3}));
  Symbol last = MakeOp("BatchNorm", {{"axis", "-1"}});
  EXPECT_EQ(PartialShape(last, {{"op_data", Shape{2, 3, 4}}}, "op_beta"), (Shape{4}));
  // An unknown channel count comes from a per-channel input.
  EXPECT_EQ(
      PartialShape(bn, {{"op_data", Shape{2, 0, 4}}, {"op_moving_mean", Shape{6}}}, "op_data"),
      (Shape{2, 6, 4}));
  ExpectError<ShapeError>(
      [&] {
        MakeOp("BatchNorm", {{"axis", "3"}}).InferShapePartial({{"op_data", Shape{2, 3, 4}}});
      },
      {"op: BatchNorm expected axis in [-3, 2] for data (2,3,4) but got axis=3"});
  ExpectError<ShapeError>(
      [&] {
        bn.InferShapePartial({{"op_data", Shape{2, 3, 4}}, {"op_gamma", Shape{4}}});
      },
      {"input 'gamma' ('op_gamma') has shape (4) but expected (3)"});
}

TEST(BatchNormSchema, Float16DataKeepsFloat32Statistics) {
  Symbol bn = MakeOp("BatchNorm", {});
  auto r = bn.InferType({{"op_data", DType::kFloat16}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->arguments, (std::vector<DType>{DType::kFloat16, DType::kFloat32, DType::kFloat32}));
  EXPECT_EQ(r->outputs, (std::vector<DType>{DType::kFloat16}));
  EXPECT_EQ(r->auxiliary_states, (std::vector<DType>{DType::kFloat32, DType::kFloat32}));
  r = bn.InferType({{"op_data", DType::kFloat64}});
  EXPECT_EQ(r->auxiliary_states[0], DType::kFloat64);
  ExpectError<DTypeError>(
      [&] {
        bn.InferTypePartial({{"op_data", DType::kInt32}});
      },
      {"op: BatchNorm supports only floating-point data", "int32"});
}

}  // namespace
}  // namespace loom
