// Loss heads: regression outputs (label shapes), MakeLoss and make_loss, BlockGrad.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

TEST(RegressionOutputSchema, LabelFollowsTheData) {
  for (const char* op :
       {"LinearRegressionOutput", "LogisticRegressionOutput", "MAERegressionOutput"}) {
    SCOPED_TRACE(op);
    Symbol s = MakeOp(op, {{"grad_scale", "0.5"}});
    EXPECT_EQ(s.ListArguments(), (std::vector<std::string>{"op_data", "op_label"}));
    EXPECT_EQ(PartialShape(s, {{"op_data", Shape{4, 3}}}, "op_label"), (Shape{4, 3}));
    // A single column gets a 1-D label, as MXNet.
    EXPECT_EQ(PartialShape(s, {{"op_data", Shape{4, 1}}}, "op_label"), (Shape{4}));
    // Any label with the batch size and element count is accepted.
    EXPECT_EQ(
        PartialShape(s, {{"op_data", Shape{4, 3}}, {"op_label", Shape{4, 3, 1}}}, "op_output"),
        (Shape{4, 3}));
    ExpectError<ShapeError>(
        [&] {
          s.InferShapePartial({{"op_data", Shape{4, 3}}, {"op_label", Shape{2, 6}}});
        },
        {std::string("op: ") + op, "input 'label' ('op_label') has shape (2,6)",
         "batch size 4 and 12 elements"});
  }
}

TEST(RegressionOutputSchema, LabelDtypeMustMatch) {
  Symbol s = MakeOp("LinearRegressionOutput", {});
  ExpectError<DTypeError>(
      [&] {
        s.InferTypePartial({{"op_data", DType::kFloat16}, {"op_label", DType::kInt32}});
      },
      {"input 'label' ('op_label') has dtype int32"});
}

TEST(MakeLossSchema, TwoOperatorsAsInMXNet) {
  Symbol legacy = MakeOp(
      "MakeLoss", {{"grad_scale", "2"}, {"valid_thresh", "0.1"}, {"normalization", "valid"}});
  EXPECT_EQ(legacy.ListOutputs(), (std::vector<std::string>{"op_output"}));
  // make_loss names its output "loss".
  Symbol loss = MakeOp("make_loss", {});
  EXPECT_EQ(loss.ListOutputs(), (std::vector<std::string>{"op_loss"}));
  EXPECT_EQ(PartialShape(loss, {{"op_data", Shape{4, 3}}}, "op_loss"), (Shape{4, 3}));
  ExpectError(
      [] {
        MakeOp("MakeLoss", {{"normalization", "mean"}});
      },
      {"expected one of {null, batch, valid} but got 'mean'"});
}

TEST(BlockGradSchema, AliasStopGradient) {
  EXPECT_EQ(OpRegistry::Global().Get("stop_gradient").name(), "BlockGrad");
  Symbol b = MakeOp("stop_gradient", {});
  EXPECT_EQ(b.outputs()[0].node->attrs.op->name(), "BlockGrad");
  EXPECT_EQ(PartialShape(b, {{"op_data", Shape{2, 3}}}, "op_output"), (Shape{2, 3}));
}

}  // namespace
}  // namespace loom
