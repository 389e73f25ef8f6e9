// The fused RNN's schema: inputs per mode, output names, MXNet's parameter-vector length and
// state shapes, inference both ways and the dtype rule for sequence_length.
#include "schema_test_util.h"

namespace loom {
namespace {

using testing::ExpectError;
using testing::MakeOp;
using testing::PartialShape;
using testing::ValueOf;

TEST(RNNSchema, InputsAndOutputsPerMode) {
  Symbol gru = MakeOp("RNN", {{"state_size", "8"}, {"num_layers", "1"}, {"mode", "gru"}});
  EXPECT_EQ(gru.ListArguments(),
            (std::vector<std::string>{"op_data", "op_parameters", "op_state"}));
  EXPECT_EQ(gru.ListOutputs(), (std::vector<std::string>{"op_output"}));
  Symbol lstm = MakeOp("RNN", {{"state_size", "8"},
                               {"num_layers", "1"},
                               {"mode", "lstm"},
                               {"state_outputs", "True"},
                               {"use_sequence_length", "True"}});
  EXPECT_EQ(lstm.ListArguments(),
            (std::vector<std::string>{"op_data", "op_parameters", "op_state", "op_state_cell",
                                      "op_sequence_length"}));
  EXPECT_EQ(lstm.ListOutputs(),
            (std::vector<std::string>{"op_output", "op_state_output", "op_statecell_output"}));
  Symbol tanh = MakeOp(
      "RNN",
      {{"state_size", "8"}, {"num_layers", "2"}, {"mode", "rnn_tanh"}, {"state_outputs", "1"}});
  EXPECT_EQ(tanh.ListOutputs(), (std::vector<std::string>{"op_output", "op_state_output"}));
}

TEST(RNNSchema, ParameterVectorLength) {
  // facts §9: LSTM, L=1, D=1, I=50, state_size=100: (50+100+2)*400 = 60800.
  Symbol one = MakeOp("RNN", {{"state_size", "100"}, {"num_layers", "1"}, {"mode", "lstm"}});
  EXPECT_EQ(PartialShape(one, {{"op_data", Shape{3, 10, 50}}}, "op_parameters"), (Shape{60800}));
  // Bidirectional 2-layer LSTM, I=7, H=4: S = 4*4*2 = 32; (7+4+2)*32 + (8+4+2)*32 = 864.
  Symbol bi = MakeOp("RNN", {{"state_size", "4"},
                             {"num_layers", "2"},
                             {"mode", "lstm"},
                             {"bidirectional", "True"},
                             {"state_outputs", "True"}});
  auto r = bi.InferShape({{"op_data", Shape{5, 3, 7}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ValueOf(bi, *r, "op_parameters"), (Shape{864}));
  EXPECT_EQ(ValueOf(bi, *r, "op_state"), (Shape{4, 3, 4}));
  EXPECT_EQ(ValueOf(bi, *r, "op_state_cell"), (Shape{4, 3, 4}));
  EXPECT_EQ(ValueOf(bi, *r, "op_output"), (Shape{5, 3, 8}));
  EXPECT_EQ(ValueOf(bi, *r, "op_statecell_output"), (Shape{4, 3, 4}));
  // GRU: 3 gates. 3 layers, I=5, H=8: S=24; (5+8+2)*24 + 2*(8+8+2)*24 = 1224.
  Symbol gru = MakeOp("RNN", {{"state_size", "8"}, {"num_layers", "3"}, {"mode", "gru"}});
  EXPECT_EQ(PartialShape(gru, {{"op_data", Shape{4, 2, 5}}}, "op_parameters"), (Shape{1224}));
  // LSTMP: the state has the projection size; the projection weights are added.
  Symbol proj = MakeOp("RNN", {{"state_size", "4"},
                               {"num_layers", "2"},
                               {"mode", "lstm"},
                               {"projection_size", "2"},
                               {"state_outputs", "True"}});
  r = proj.InferShape({{"op_data", Shape{5, 3, 7}}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ValueOf(proj, *r, "op_parameters"), (Shape{288}));  // MXNet's value
  EXPECT_EQ(ValueOf(proj, *r, "op_state"), (Shape{2, 3, 2}));
  EXPECT_EQ(ValueOf(proj, *r, "op_state_cell"), (Shape{2, 3, 4}));
  EXPECT_EQ(ValueOf(proj, *r, "op_output"), (Shape{5, 3, 2}));
}

TEST(RNNSchema, InferenceBothWays) {
  Symbol lstm = MakeOp("RNN", {{"state_size", "4"}, {"num_layers", "2"}, {"mode", "lstm"}});
  // Unknown batch: the parameters are still known (MXNet: 368).
  auto r = lstm.InferShapePartial({{"op_data", Shape{5, 0, 7}}});
  EXPECT_EQ(r.arguments[1], (Shape{368}));
  EXPECT_EQ(r.arguments[2], (Shape{2, 0, 4}));
  // Unknown input size: MXNet computes a wrong length from -1; Loom leaves it unknown ...
  r = lstm.InferShapePartial({{"op_data", Shape{5, 3, 0}}});
  EXPECT_EQ(r.arguments[1], Shape());
  // ... and solves for it from a known parameter vector, the batch from the state.
  r = lstm.InferShapePartial({{"op_parameters", Shape{368}}, {"op_state", Shape{2, 6, 4}}});
  EXPECT_EQ(r.arguments[0], (Shape{0, 6, 7}));
  ExpectError<ShapeError>(
      [&] {
        lstm.InferShapePartial({{"op_parameters", Shape{369}}});
      },
      {"op: RNN input 'parameters' ('op_parameters') has shape (369)",
       "no input size gives that many parameters"});
  ExpectError<ShapeError>(
      [&] {
        lstm.InferShapePartial({{"op_data", Shape{4, 2}}});
      },
      {"expected 3 dimensions (sequence length, batch size, input size)"});
  ExpectError<ShapeError>(
      [&] {
        lstm.InferShapePartial({{"op_data", Shape{4, 2, 5}}, {"op_state", Shape{2, 3, 4}}});
      },
      {"input 'state' ('op_state') has shape (2,3,4) but expected (2,2,4)"});
}

TEST(RNNSchema, Dtypes) {
  Symbol s = MakeOp("RNN", {{"state_size", "2"},
                            {"num_layers", "1"},
                            {"mode", "lstm"},
                            {"use_sequence_length", "True"}});
  auto r = s.InferType({{"op_data", DType::kFloat32}, {"op_sequence_length", DType::kInt32}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->arguments, (std::vector<DType>{DType::kFloat32, DType::kFloat32, DType::kFloat32,
                                              DType::kFloat32, DType::kInt32}));
  // Without a given dtype, sequence_length takes the data's, as in MXNet.
  r = s.InferType({{"op_data", DType::kFloat16}});
  EXPECT_EQ(r->arguments[4], DType::kFloat16);
  ExpectError<DTypeError>(
      [&] {
        s.InferTypePartial({{"op_data", DType::kFloat32}, {"op_state", DType::kFloat16}});
      },
      {"input 'state' ('op_state') has dtype float16 but the other inputs have float32"});
}

TEST(RNNSchema, ParameterErrors) {
  ExpectError(
      [] {
        MakeOp("RNN", {{"state_size", "8"}, {"num_layers", "1"}});
      },
      {"required parameter 'mode' is missing", "RNN"});
  ExpectError(
      [] {
        MakeOp("RNN", {{"state_size", "8"}, {"num_layers", "1"}, {"mode", "vanilla"}});
      },
      {"expected one of {rnn_relu, rnn_tanh, lstm, gru} but got 'vanilla'"});
  ExpectError(
      [] {
        MakeOp("RNN", {{"state_size", "8"}, {"num_layers", "1"}, {"mode", "gru"}, {"p", "1.5"}});
      },
      {"parameter 'p' (float): expected a value <= 1"});
}

}  // namespace
}  // namespace loom
