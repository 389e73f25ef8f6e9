// Embedding, one_hot, pick and batch_take through the executor: forward values by hand and
// against the reference, Embedding's scatter-add and pick's scatter gradients against finite
// differences, out-of-range indices as errors naming the node, the index and the limit, and the
// non-differentiable operators refused on a gradient path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "operators/cpu/reference/pick.h"

namespace loom {
namespace {

using nn_test::CheckGradients;
using nn_test::Get;
using nn_test::GradientCase;
using nn_test::Op;
using nn_test::Set;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(NnEmbedding, LooksUpRowsAndScatterAddsTheGradient) {
  Symbol emb = Op("Embedding", {{"input_dim", "4"}, {"output_dim", "3"}}, {}, "emb");
  for (DType index_type : {DType::kFloat64, DType::kInt32}) {
    GradientCase c{emb,
                   {{"emb_data", {2, 3}}},
                   {{"emb_data", index_type}},
                   {{"emb_data", {0, 3, 1, 3, 3, 2}}}};
    c.no_grad = {"emb_data"};
    const auto out = CheckGradients(c);
    nn_test::Bound b = nn_test::BindCase(c, "null");
    const std::vector<double>& w = b.args.at("emb_weight");
    ASSERT_EQ(out[0].size(), 18u);
    for (int p = 0; p < 6; ++p) {
      const int row = static_cast<int>(c.values["emb_data"][p]);
      for (int k = 0; k < 3; ++k) EXPECT_EQ(out[0][p * 3 + k], w[row * 3 + k]);
    }
  }
  // Row 3 is used three times: its gradient is the sum of three head-gradient rows.
  Executor exe = Executor::SimpleBind(
      emb, Context::CPU(), {{"emb_data", {2, 3}}}, {{"emb_weight", DType::kFloat64}},
      std::map<std::string, std::string, std::less<>>{{"emb_weight", "write"}});
  Set(exe.arg_dict().at("emb_data"), {0, 3, 1, 3, 3, 2});
  exe.Forward(true);
  exe.Backward({NDArray::Ones({2, 3, 3}, Context::CPU(), DType::kFloat64)});
  EXPECT_EQ(Get(exe.grad_dict().at("emb_weight")),
            (std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3}));
}

TEST(NnEmbedding, OutOfRangeIndexNamesNodeIndexAndInputDim) {
  Symbol emb = Op("Embedding", {{"input_dim", "4"}, {"output_dim", "2"}}, {}, "word_embed");
  Executor exe = Executor::SimpleBind(emb, Context::CPU(), {{"word_embed_data", {3}}}, {}, "null");
  Set(exe.arg_dict().at("word_embed_data"), {1, 4, 0});
  exe.Forward(false);
  EXPECT_THAT([&] { exe.outputs()[0].WaitToRead(); },
              ThrowsMessage<Error>(AllOf(HasSubstr("index 4 at position 1 is outside [0, 4)"),
                                         HasSubstr("input_dim=4"),
                                         HasSubstr("node 'word_embed' (Embedding)"))));
  Set(exe.arg_dict().at("word_embed_data"), {-1, 0, 0});
  exe.Forward(false);
  EXPECT_THAT([&] { exe.outputs()[0].WaitToRead(); },
              ThrowsMessage<Error>(
                  AllOf(HasSubstr("index -1"), HasSubstr("input_dim=4"), HasSubstr("word_embed"))));
}

TEST(NnOneHot, EncodesAndRejectsOutOfRangeIndices) {
  Symbol oh = Op("one_hot", {{"depth", "3"}, {"on_value", "5"}, {"off_value", "-1"}}, {}, "oh");
  Executor exe = Executor::SimpleBind(oh, Context::CPU(), {{"oh_indices", {2}}}, {}, "null");
  Set(exe.arg_dict().at("oh_indices"), {2, 0});
  exe.Forward(false);
  EXPECT_EQ(Get(exe.outputs()[0]), (std::vector<double>{-1, -1, 5, 5, -1, -1}));
  Set(exe.arg_dict().at("oh_indices"), {2, 3});
  exe.Forward(false);
  EXPECT_THAT([&] { exe.outputs()[0].WaitToRead(); },
              ThrowsMessage<Error>(
                  AllOf(HasSubstr("3"), HasSubstr("depth"), HasSubstr("node 'oh' (one_hot)"))));
}

TEST(NnPick, MatchesReferenceForEveryAxisAndModeAndScattersTheGradient) {
  const Shape s{3, 4, 2};
  for (int axis : {0, 1, -1}) {
    for (const char* mode : {"clip", "wrap"}) {
      for (const char* keepdims : {"False", "True"}) {
        SCOPED_TRACE(std::string("axis ") + std::to_string(axis) + " " + mode + " keepdims " +
                     keepdims);
        Symbol pick =
            Op("pick", {{"axis", std::to_string(axis)}, {"mode", mode}, {"keepdims", keepdims}});
        const int a = axis < 0 ? axis + 3 : axis;
        std::vector<double> index;
        for (int64_t i = 0; i < s.Size() / s[a]; ++i)
          index.push_back(static_cast<double>(i % 7) - 2);
        GradientCase c{pick, {{"op_data", s}}, {}, {{"op_index", index}}};
        c.no_grad = {"op_index"};
        const auto out = CheckGradients(c);
        nn_test::Bound b = nn_test::BindCase(c, "null");
        const auto ref = cpu::reference::Pick(
            s, b.args.at("op_data"), index, axis,
            std::string(mode) == "wrap" ? cpu::PickMode::kWrap : cpu::PickMode::kClip);
        EXPECT_EQ(out[0], ref);
      }
    }
  }
}

TEST(NnBatchTake, TakesOneElementPerRowClippingIndices) {
  Symbol take = Op("batch_take", {}, {}, "take");
  Executor exe = Executor::SimpleBind(take, Context::CPU(),
                                      {{"take_a", {3, 2}}, {"take_indices", {3}}}, {}, "null");
  Set(exe.arg_dict().at("take_a"), {1, 2, 3, 4, 5, 6});
  Set(exe.arg_dict().at("take_indices"), {0, 1, 5});
  exe.Forward(false);
  EXPECT_EQ(Get(exe.outputs()[0]), (std::vector<double>{1, 4, 6}));
}

TEST(NnIndexing, NonDifferentiableOperatorsAreRefusedOnAGradientPath) {
  Symbol x = Symbol::Variable("x");
  for (const auto& [op, name] : {std::pair<const char*, const char*>{"batch_take", "take"},
                                 std::pair<const char*, const char*>{"one_hot", "oh"}}) {
    Symbol s =
        std::string(op) == "one_hot" ? Op(op, {{"depth", "3"}}, {x}, name) : Op(op, {}, {x}, name);
    ShapeDict shapes{{"x", {3, 2}}};
    if (std::string(op) == "batch_take") shapes["take_indices"] = {3};
    EXPECT_THAT([&] { Executor::SimpleBind(s, Context::CPU(), shapes); },
                ThrowsMessage<Error>(AllOf(HasSubstr(std::string("Operator ") + op),
                                           HasSubstr(std::string("node '") + name + "'"),
                                           HasSubstr("non-differentiable"))));
  }
}

}  // namespace
}  // namespace loom
