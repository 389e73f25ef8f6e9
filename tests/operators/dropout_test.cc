// Dropout's schema: the hidden mask output and its shape with `axes`.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;

TEST(DropoutSchema, MaskIsHiddenAndSharedAlongAxes) {
  Symbol d = MakeOp("Dropout", {{"p", "0.2"}, {"axes", "(1,)"}, {"cudnn_off", "None"}});
  EXPECT_EQ(d.ListOutputs(), (std::vector<std::string>{"op_output"}));
  const OpSchema& op = OpRegistry::Global().Get("Dropout");
  EXPECT_EQ(op.ListOutputNames(d.outputs()[0].node->attrs),
            (std::vector<std::string>{"output", "mask"}));
  // The mask is the second (hidden) output of the node.
  EXPECT_EQ(d.GetInternals().ListOutputs(), (std::vector<std::string>{"op_data", "op_output"}));
  auto r = d.InferShape({{"op_data", Shape{2, 3, 4}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outputs[0], (Shape{2, 3, 4}));
}

TEST(DropoutSchema, ShapesBothWaysAndErrors) {
  Symbol d = MakeOp("Dropout", {{"mode", "always"}});
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(testing::PartialShape(d + z, {{"z", Shape{4, 5}}}, "op_data"), (Shape{4, 5}));
  ExpectError(
      [] {
        MakeOp("Dropout", {{"p", "1.5"}});
      },
      {"parameter 'p' (float): expected a value <= 1 but got '1.5'"});
  ExpectError(
      [] {
        MakeOp("Dropout", {{"mode", "sometimes"}});
      },
      {"expected one of {training, always} but got 'sometimes'"});
  Symbol bad = MakeOp("Dropout", {{"axes", "(3,)"}});
  ExpectError<ShapeError>(
      [&] {
        bad.InferShapePartial({{"op_data", Shape{2, 3}}});
      },
      {"expected axes in [-2, 1] for data (2,3) but got axes=3"});
}

}  // namespace
}  // namespace loom
