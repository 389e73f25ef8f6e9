// softmax, log_softmax and SoftmaxActivation: the length input, the dtype parameter, axes.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;
using testing::PartialType;

TEST(SoftmaxSchema, LengthInputHasTheDataShapeWithoutAxis) {
  EXPECT_EQ(MakeOp("softmax", {}).ListArguments(), (std::vector<std::string>{"op_data"}));
  Symbol s = MakeOp("softmax", {{"use_length", "True"}, {"axis", "1"}});
  EXPECT_EQ(s.ListArguments(), (std::vector<std::string>{"op_data", "op_length"}));
  EXPECT_EQ(PartialShape(s, {{"op_data", Shape{4, 3, 5}}}, "op_length"), (Shape{4, 5}));
  Symbol one = MakeOp("softmax", {{"use_length", "1"}, {"axis", "0"}});
  EXPECT_EQ(PartialShape(one, {{"op_data", Shape{4}}}, "op_length"), (Shape{1}));
  ExpectError<ShapeError>(
      [&] {
        s.InferShapePartial({{"op_data", Shape{4}}});
      },
      {"op: softmax expected axis in [-1, 0] for data (4) but got axis=1"});
}

TEST(SoftmaxSchema, DtypeParameter) {
  Symbol s = MakeOp("softmax", {{"dtype", "float64"}, {"temperature", "2.0"}});
  EXPECT_EQ(PartialType(s, {{"op_data", DType::kFloat16}}, "op_output"), DType::kFloat64);
  // Unknown data takes the output dtype (MXNet: float64, float64).
  EXPECT_EQ(PartialType(s, {}, "op_data"), DType::kFloat64);
  Symbol plain = MakeOp("log_softmax", {{"temperature", "None"}, {"dtype", "None"}});
  EXPECT_EQ(PartialType(plain, {{"op_data", DType::kFloat16}}, "op_output"), DType::kFloat16);
  // The length's dtype is independent (an integer count).
  Symbol len = MakeOp("softmax", {{"use_length", "True"}});
  auto r = len.InferTypePartial({{"op_data", DType::kFloat32}, {"op_length", DType::kInt32}});
  EXPECT_EQ(r.arguments, (std::vector<DType>{DType::kFloat32, DType::kInt32}));
  ExpectError(
      [] {
        MakeOp("softmax", {{"dtype", "int32"}});
      },
      {"parameter 'dtype': expected float16, float32 or float64 but got int32"});
}

TEST(SoftmaxSchema, SoftmaxActivationModes) {
  Symbol s = MakeOp("SoftmaxActivation", {{"mode", "channel"}});
  EXPECT_EQ(PartialShape(s, {{"op_data", Shape{2, 3, 4, 4}}}, "op_output"), (Shape{2, 3, 4, 4}));
  ExpectError(
      [] {
        MakeOp("SoftmaxActivation", {{"mode", "spatial"}});
      },
      {"expected one of {instance, channel} but got 'spatial'"});
}

}  // namespace
}  // namespace loom
