// LRN, L2Normalization and InstanceNorm: hidden outputs and their shapes.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;

// Shapes of every output of the node, hidden ones included.
std::vector<Shape> AllOutputShapes(const Symbol& s, const ShapeDict& known) {
  const NodePtr& node = s.outputs()[0].node;
  std::vector<NodeEntry> all;
  for (uint32_t i = 0; i < node->num_outputs(); ++i) all.push_back(NodeEntry{node, i, 0});
  return Symbol(all).InferShapePartial(known).outputs;
}

TEST(LRNSchema, HiddenTmpNorm) {
  Symbol lrn = MakeOp("LRN", {{"nsize", "3"}, {"alpha", "0.001"}, {"beta", "0.5"}, {"knorm", "1"}});
  EXPECT_EQ(lrn.ListOutputs(), (std::vector<std::string>{"op_output"}));
  EXPECT_EQ(AllOutputShapes(lrn, {{"op_data", Shape{2, 3, 4, 4}}}),
            (std::vector<Shape>{{2, 3, 4, 4}, {2, 3, 4, 4}}));
  ExpectError([] { MakeOp("LRN", {}); }, {"required parameter 'nsize' is missing", "LRN"});
}

TEST(L2NormalizationSchema, NormShapePerMode) {
  const Shape data{2, 3, 4, 5};
  EXPECT_EQ(AllOutputShapes(MakeOp("L2Normalization", {}), {{"op_data", data}})[1], (Shape{2}));
  EXPECT_EQ(
      AllOutputShapes(MakeOp("L2Normalization", {{"mode", "channel"}}), {{"op_data", data}})[1],
      (Shape{2, 1, 4, 5}));
  EXPECT_EQ(AllOutputShapes(MakeOp("L2Normalization", {{"mode", "spatial"}, {"eps", "1e-6"}}),
                            {{"op_data", data}})[1],
            (Shape{2, 3}));
  EXPECT_EQ(MakeOp("L2Normalization", {}).ListOutputs(), (std::vector<std::string>{"op_output"}));
  ExpectError<ShapeError>(
      [] {
        MakeOp("L2Normalization", {{"mode", "channel"}})
            .InferShapePartial({{"op_data", Shape{2, 3}}});
      },
      {"op: L2Normalization mode 'channel' needs data of at least 3 dimensions"});
}

TEST(InstanceNormSchema, PerChannelParametersAndFloat32) {
  Symbol in = MakeOp("InstanceNorm", {{"eps", "1e-5"}});
  EXPECT_EQ(in.ListArguments(), (std::vector<std::string>{"op_data", "op_gamma", "op_beta"}));
  EXPECT_EQ(in.ListOutputs(), (std::vector<std::string>{"op_output"}));
  EXPECT_EQ(AllOutputShapes(in, {{"op_data", Shape{2, 3, 4, 5}}}),
            (std::vector<Shape>{{2, 3, 4, 5}, {2, 3}, {2, 3}}));
  EXPECT_EQ(PartialShape(in, {{"op_data", Shape{0, 3, 4}}}, "op_gamma"), (Shape{3}));
  auto r = in.InferTypePartial({});
  EXPECT_EQ(r.arguments, (std::vector<DType>(3, DType::kFloat32)));
  ExpectError<DTypeError>(
      [&] {
        in.InferTypePartial({{"op_data", DType::kFloat64}});
      },
      {"supports only float32"});
}

}  // namespace
}  // namespace loom
