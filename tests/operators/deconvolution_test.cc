// Deconvolution's schema: inputs, MXNet's output-size rule (pad, adj, target_shape, dilation,
// groups, layouts), partial shapes both ways and its errors.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

TEST(DeconvolutionSchema, InputsDependOnNoBiasWhichDefaultsToTrue) {
  EXPECT_EQ(MakeOp("Deconvolution", {{"kernel", "(3,3)"}, {"num_filter", "4"}}).ListArguments(),
            (std::vector<std::string>{"op_data", "op_weight"}));
  EXPECT_EQ(
      MakeOp("Deconvolution", {{"kernel", "(3,3)"}, {"num_filter", "4"}, {"no_bias", "false"}})
          .ListArguments(),
      (std::vector<std::string>{"op_data", "op_weight", "op_bias"}));
}

TEST(DeconvolutionSchema, OutputSizeFollowsMXNet) {
  // stride*(x-1) + dilate*(k-1)+1 - 2*pad + adj: 2*4 + 3 - 2 + 1 = 10 (MXNet: (2,4,10,10)).
  Symbol d = MakeOp("Deconvolution", {{"kernel", "(3, 3)"},
                                      {"num_filter", "4"},
                                      {"stride", "(2, 2)"},
                                      {"pad", "(1, 1)"},
                                      {"adj", "(1, 1)"},
                                      {"no_bias", "False"}});
  auto r = d.InferShape({{"op_data", Shape{2, 3, 5, 5}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outputs[0], (Shape{2, 4, 10, 10}));
  EXPECT_EQ(r->arguments[1], (Shape{3, 4, 3, 3}));  // (C, num_filter/num_group, kh, kw)
  EXPECT_EQ(r->arguments[2], (Shape{4}));
  // Dilation 2 makes a 3x3 kernel span 5: 4 + 5 = 9.
  Symbol dil =
      MakeOp("Deconvolution",
             {{"kernel", "(3,3)"}, {"num_filter", "6"}, {"dilate", "(2,2)"}, {"num_group", "3"}});
  r = dil.InferShape({{"op_data", Shape{2, 3, 5, 5}}});
  EXPECT_EQ(r->outputs[0], (Shape{2, 6, 9, 9}));
  EXPECT_EQ(r->arguments[1], (Shape{3, 2, 3, 3}));
}

TEST(DeconvolutionSchema, TargetShapeChoosesPadAndAdj) {
  // full size 2*4+4 = 12; target (10, 11): total pads 2 and 1 -> pad 1, adj 0 and pad 1, adj 1.
  Symbol d = MakeOp("Deconvolution", {{"kernel", "(4,4)"},
                                      {"num_filter", "4"},
                                      {"stride", "(2,2)"},
                                      {"target_shape", "(10, 11)"}});
  EXPECT_EQ(PartialShape(d, {{"op_data", Shape{2, 3, 5, 5}}}, "op_output"), (Shape{2, 4, 10, 11}));
  Symbol too_big = MakeOp(
      "Deconvolution",
      {{"kernel", "(4,4)"}, {"num_filter", "4"}, {"stride", "(2,2)"}, {"target_shape", "(20,20)"}});
  ExpectError<ShapeError>(
      [&] {
        too_big.InferShapePartial({{"op_data", Shape{2, 3, 5, 5}}});
      },
      {"op: Deconvolution", "target_shape (20,20) is too big", "12"});
}

TEST(DeconvolutionSchema, OneAndThreeDimensionsAndChannelLast) {
  Symbol d1 = MakeOp("Deconvolution", {{"kernel", "(3,)"}, {"num_filter", "6"}});
  EXPECT_EQ(PartialShape(d1, {{"op_data", Shape{2, 3, 5}}}, "op_output"), (Shape{2, 6, 7}));
  Symbol d3 = MakeOp("Deconvolution", {{"kernel", "[3,3,3]"}, {"num_filter", "6"}});
  EXPECT_EQ(PartialShape(d3, {{"op_data", Shape{2, 3, 5, 5, 5}}}, "op_output"),
            (Shape{2, 6, 7, 7, 7}));
  // NHWC: weight (C, kh, kw, num_filter/num_group), as MXNet.
  Symbol nhwc =
      MakeOp("Deconvolution",
             {{"kernel", "(2, 3)"}, {"num_filter", "6"}, {"num_group", "3"}, {"layout", "NHWC"}});
  auto r = nhwc.InferShapePartial({{"op_data", Shape{2, 5, 5, 3}}});
  EXPECT_EQ(r.arguments[1], (Shape{3, 2, 3, 2}));
  EXPECT_EQ(r.outputs[0], (Shape{2, 6, 7, 6}));
}

TEST(DeconvolutionSchema, PartialShapesBothWays) {
  Symbol d = MakeOp("Deconvolution", {{"kernel", "(3,3)"}, {"num_filter", "6"}});
  // Unknown batch and width stay unknown forward (MXNet: (0,6,7,0)).
  EXPECT_EQ(PartialShape(d, {{"op_data", Shape{0, 3, 5, 0}}}, "op_output"), (Shape{0, 6, 7, 0}));
  // Channels from a given weight; batch and (stride 1) spatial sizes from the output.
  Symbol z = Symbol::Variable("z");
  Symbol sum = d + z;
  auto r = sum.InferShapePartial(
      {{"op_data", Shape{0, 0, 0, 0}}, {"op_weight", Shape{3, 6, 3, 3}}, {"z", Shape{2, 6, 7, 8}}});
  EXPECT_EQ(r.arguments[0], (Shape{2, 3, 5, 6}));
}

TEST(DeconvolutionSchema, ParameterErrors) {
  ExpectError(
      [] {
        MakeOp("Deconvolution", {{"kernel", "(3,3)"}});
      },
      {"required parameter 'num_filter' is missing", "Deconvolution"});
  ExpectError(
      [] {
        MakeOp("Deconvolution", {{"kernel", "(2,2)"}, {"num_filter", "6"}, {"stride", "(2,)"}});
      },
      {"parameter 'stride': expected 2 values"});
  ExpectError(
      [] {
        MakeOp("Deconvolution", {{"kernel", "(3,3)"}, {"num_filter", "5"}, {"num_group", "2"}});
      },
      {"num_filter (5) to be divisible by num_group (2)"});
  ExpectError(
      [] {
        MakeOp("Deconvolution", {{"kernel", "(3,)"}, {"num_filter", "5"}, {"layout", "NCHW"}});
      },
      {"parameter 'layout' does not match a kernel of 1 dimensions"});
  ExpectError(
      [] {
        MakeOp("Deconvolution", {{"kernel", "(3,)"}, {"num_filter", "5"}, {"layout", "NWC"}});
      },
      {"expected one of {NCW, NCHW, NCDHW, NHWC, NDHWC} but got 'NWC'"});
}

TEST(DeconvolutionSchema, ShapeErrors) {
  Symbol adj =
      MakeOp("Deconvolution",
             {{"kernel", "(3,3)"}, {"num_filter", "6"}, {"adj", "(2,2)"}, {"stride", "(2,2)"}});
  ExpectError<ShapeError>(
      [&] {
        adj.InferShapePartial({{"op_data", Shape{2, 3, 5, 5}}});
      },
      {"expected adj smaller than stride (2,2) but got adj 2"});
  Symbol d = MakeOp("Deconvolution", {{"kernel", "(3,3)"}, {"num_filter", "6"}});
  ExpectError<ShapeError>(
      [&] {
        d.InferShapePartial({{"op_data", Shape{2, 3, 5, 5}}, {"op_weight", Shape{4, 6, 3, 3}}});
      },
      {"input 'weight' ('op_weight') has shape (4,6,3,3) but expected (3,6,3,3)"});
  ExpectError<ShapeError>(
      [&] {
        d.InferShapePartial({{"op_data", Shape{2, 3, 5}}});
      },
      {"needs data of 4 dimensions"});
}

}  // namespace
}  // namespace loom
