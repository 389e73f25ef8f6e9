// LeakyReLU's schema: the prelu gamma input, rrelu's mask output and the activation names.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;
using testing::PartialType;

TEST(LeakyReLUSchema, InputsAndOutputsDependOnActType) {
  Symbol leaky = MakeOp("LeakyReLU", {});
  EXPECT_EQ(leaky.ListArguments(), (std::vector<std::string>{"op_data"}));
  EXPECT_EQ(leaky.ListOutputs(), (std::vector<std::string>{"op_output"}));
  Symbol prelu = MakeOp("LeakyReLU", {{"act_type", "prelu"}});
  EXPECT_EQ(prelu.ListArguments(), (std::vector<std::string>{"op_data", "op_gamma"}));
  // rrelu also outputs its random slopes, visible as in MXNet.
  Symbol rrelu =
      MakeOp("LeakyReLU", {{"act_type", "rrelu"}, {"lower_bound", "0.1"}, {"upper_bound", "0.3"}});
  EXPECT_EQ(rrelu.ListOutputs(), (std::vector<std::string>{"op_output", "op_mask"}));
  auto r = rrelu.InferShape({{"op_data", Shape{2, 3, 4}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outputs[1], (Shape{2, 3, 4}));
  for (const char* act : {"elu", "selu", "gelu", "leaky"}) {
    EXPECT_EQ(MakeOp("LeakyReLU", {{"act_type", act}, {"slope", "0.5"}}).ListArguments().size(),
              1u);
  }
}

TEST(LeakyReLUSchema, PreluGammaIsPerChannel) {
  Symbol prelu = MakeOp("LeakyReLU", {{"act_type", "prelu"}});
  EXPECT_EQ(PartialShape(prelu, {{"op_data", Shape{2, 3, 4}}}, "op_gamma"), (Shape{3}));
  // A shared slope (1,) is accepted, as MXNet does.
  EXPECT_EQ(PartialShape(prelu, {{"op_data", Shape{2, 3, 4}}, {"op_gamma", Shape{1}}}, "op_output"),
            (Shape{2, 3, 4}));
  EXPECT_EQ(PartialType(prelu, {{"op_data", DType::kFloat16}}, "op_gamma"), DType::kFloat16);
  // The data's shape also comes back from the output.
  Symbol z = Symbol::Variable("z");
  EXPECT_EQ(PartialShape(prelu + z, {{"z", Shape{5, 7}}}, "op_gamma"), (Shape{7}));
  ExpectError<ShapeError>(
      [&] {
        prelu.InferShapePartial({{"op_data", Shape{5}}});
      },
      {"op: LeakyReLU prelu needs data with a channel axis"});
}

TEST(LeakyReLUSchema, UnknownActType) {
  ExpectError(
      [] {
        MakeOp("LeakyReLU", {{"act_type", "swish"}});
      },
      {"parameter 'act_type'", "rrelu, leaky, prelu, elu, selu, gelu", "'swish'"});
}

}  // namespace
}  // namespace loom
