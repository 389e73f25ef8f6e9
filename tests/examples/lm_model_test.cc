// The model-parallel LSTM language model (examples/model_parallel_lstm/lm_model.h): placement by
// ctx_group, two devices against one (forward, backward, training steps within 1e-5), the bytes
// copied between devices, falling perplexity, and group2ctx errors.
#include "lm_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "corpus.h"
#include "loom/scheduler/error.h"

namespace loom::lm {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const LmSpec kSpec{.vocab_size = 20, .num_embed = 6, .num_hidden = 8, .num_layers = 2};
const ContextMap kTwoDevices = {{"embed", Context::CPU(0)},
                                {"layer0", Context::CPU(0)},
                                {"layer1", Context::CPU(1)},
                                {"decode", Context::CPU(1)}};

LmTrainer::Options SmallOptions(const ContextMap& group2ctx) {
  LmTrainer::Options o;
  o.batch_size = 3;
  o.buckets = {4, 6};
  o.group2ctx = group2ctx;
  o.lr = 0.5;
  o.clip = 5.0;
  return o;
}

// Random sentences of 2..seq_len tokens, ids in [3, vocab), right-padded.
Batch RandomBatch(int64_t seq_len, int64_t batch_size, int64_t vocab, std::mt19937_64* rng) {
  std::vector<std::vector<int>> sentences;
  for (int64_t b = 0; b < batch_size; ++b) {
    const auto len = static_cast<size_t>(std::uniform_int_distribution<int64_t>(2, seq_len)(*rng));
    std::vector<int> ids(len);
    for (int& id : ids)
      id = std::uniform_int_distribution<int>(3, static_cast<int>(vocab) - 1)(*rng);
    sentences.push_back(ids);
  }
  std::vector<int64_t> buckets = {seq_len};
  BatchPlan plan = MakeBatches(sentences, buckets, batch_size, nullptr);
  return plan.batches.at(0);
}

double MaxDiff(const NDArray& a, const NDArray& b) {
  const std::vector<float> x = a.ToVector<float>(), y = b.ToVector<float>();
  EXPECT_EQ(x.size(), y.size());
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(double(x[i]) - double(y[i])));
  return d;
}

TEST(LmModel, SymbolPutsEachPartInItsGroup) {
  const Symbol net = BuildLmSymbol(kSpec, 3);
  EXPECT_EQ(net.ListOutputs().size(), 3u);
  EXPECT_THAT(net.ListOutputs(), Contains("t2_sm_output"));
  const auto attrs = net.AttrDict();
  auto group = [&](const std::string& node) { return attrs.at(node).at("__ctx_group__"); };
  EXPECT_EQ(group("data"), "embed");
  EXPECT_EQ(group("embed_weight"), "embed");
  EXPECT_EQ(group("l0_i2h_weight"), "layer0");
  EXPECT_EQ(group("l1_h2h_bias"), "layer1");
  EXPECT_EQ(group("l1_t2_i2h"), "layer1");
  EXPECT_EQ(group("cls_weight"), "decode");
  EXPECT_EQ(group("t1_cls"), "decode");
  EXPECT_EQ(group("softmax_label"), "decode");
  EXPECT_THAT(LmGroups(2), ElementsAre("embed", "layer0", "layer1", "decode"));
}

TEST(LmModel, ParametersLiveOnTheirGroupsDevices) {
  LmTrainer lm(kSpec, SmallOptions(kTwoDevices));
  const std::vector<std::string> lines = lm.PlacementLines();
  EXPECT_THAT(lines, Contains("embed_weight group=embed, ctx=cpu(0)"));
  EXPECT_THAT(lines, Contains("l0_i2h_weight group=layer0, ctx=cpu(0)"));
  EXPECT_THAT(lines, Contains("l1_h2h_weight group=layer1, ctx=cpu(1)"));
  EXPECT_THAT(lines, Contains("cls_bias group=decode, ctx=cpu(1)"));
  EXPECT_EQ(lines.size(), 11u);  // embed, 2 x 4 LSTM, cls weight and bias
  for (const LmParam& p : lm.params()) EXPECT_EQ(p.grad.ctx(), p.weight.ctx()) << p.name;
  // The forward and backward graph runs where the parameters are, with copies in between.
  bool copy_seen = false;
  for (const ExecNodeInfo& n : lm.executor(6).Nodes()) {
    if (n.name == "l1_t3_i2h") {
      EXPECT_EQ(n.ctx, Context::CPU(1));
    } else if (n.name == "l0_t3_i2h") {
      EXPECT_EQ(n.ctx, Context::CPU(0));
    } else if (n.name == "t5_cls") {
      EXPECT_EQ(n.ctx, Context::CPU(1));
    }
    if (n.op == "_CrossDeviceCopy") copy_seen = true;
  }
  EXPECT_TRUE(copy_seen);
}

TEST(LmModel, CopiedBytesAreTheHiddenStatesAndTheirGradients) {
  LmTrainer two(kSpec, SmallOptions(kTwoDevices));
  LmTrainer one(kSpec, SmallOptions({}));
  // Per step, layer 0's output (batch, hidden) goes to cpu(1) and its gradient comes back.
  for (int64_t t : {4, 6}) {
    EXPECT_EQ(two.CopyBytes(t), 2 * t * 3 * 8 * 4) << "bucket " << t;
    EXPECT_EQ(one.CopyBytes(t), 0);
  }
}

TEST(LmModel, TwoDevicesTrainLikeOne) {
  LmTrainer one(kSpec, SmallOptions({}));
  LmTrainer two(kSpec, SmallOptions(kTwoDevices));
  one.InitParams(0.1, 7);
  two.InitParams(0.1, 7);
  std::mt19937_64 rng(11);
  const Batch first = RandomBatch(6, 3, kSpec.vocab_size, &rng);

  // Forward and backward.
  const StepStats a = one.ForwardBackward(first);
  const StepStats b = two.ForwardBackward(first);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NEAR(a.nll, b.nll, 1e-5 * std::abs(a.nll));
  for (size_t t = 0; t < 6; ++t) {
    EXPECT_LE(MaxDiff(one.executor(6).outputs()[t], two.executor(6).outputs()[t]), 1e-5) << t;
  }
  ASSERT_EQ(one.params().size(), two.params().size());
  for (size_t i = 0; i < one.params().size(); ++i) {
    ASSERT_EQ(one.params()[i].name, two.params()[i].name);
    EXPECT_LE(MaxDiff(one.params()[i].grad, two.params()[i].grad), 1e-5) << one.params()[i].name;
  }
  // Several training steps over both buckets.
  one.Update();
  two.Update();
  for (int step = 0; step < 4; ++step) {
    const Batch batch = RandomBatch(step % 2 == 0 ? 4 : 6, 3, kSpec.vocab_size, &rng);
    const StepStats x = one.TrainBatch(batch);
    const StepStats y = two.TrainBatch(batch);
    EXPECT_NEAR(x.nll, y.nll, 1e-5 * std::abs(x.nll)) << "step " << step;
  }
  for (size_t i = 0; i < one.params().size(); ++i) {
    EXPECT_LE(MaxDiff(one.params()[i].weight, two.params()[i].weight), 1e-5)
        << one.params()[i].name;
    // Gradients are zeroed after each update.
    const std::vector<float> g = two.params()[i].grad.ToVector<float>();
    EXPECT_TRUE(std::all_of(g.begin(), g.end(), [](float v) { return v == 0; }));
  }
}

TEST(LmModel, ForgetGateBiasStartsAtForgetBias) {
  LmTrainer lm(kSpec, SmallOptions({}));
  lm.InitParams(0.1, 1);
  for (const LmParam& p : lm.params()) {
    if (p.name != "l0_i2h_bias") continue;
    const std::vector<float> v = p.weight.ToVector<float>();
    ASSERT_EQ(v.size(), 32u);
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], i >= 8 && i < 16 ? 1.0f : 0.0f) << i;
  }
}

TEST(LmModel, TrainingLowersPerplexity) {
  const Split split =
      SplitFortunes(ReadFortunes({std::string(LOOM_TEST_DATA_DIR) + "/lm/small_fortunes.txt"}), 3);
  const Vocab vocab = Vocab::Build(split.train, 1);
  const auto train = Encode(split.train, vocab);
  LmSpec spec{.vocab_size = vocab.size(), .num_embed = 16, .num_hidden = 24, .num_layers = 2};
  LmTrainer::Options opt;
  opt.batch_size = 3;
  opt.buckets = {8, 16};
  opt.group2ctx = kTwoDevices;
  opt.lr = 0.5;
  opt.momentum = 0.9;
  LmTrainer lm(spec, opt);
  lm.InitParams(0.1, 0);
  const BatchPlan plan = MakeBatches(train, opt.buckets, opt.batch_size, nullptr);
  std::vector<double> perplexity;
  for (int epoch = 0; epoch < 80; ++epoch) {
    StepStats total;
    for (const Batch& b : plan.batches) total += lm.TrainBatch(b);
    perplexity.push_back(std::exp(total.nll / static_cast<double>(total.tokens)));
  }
  // Starts near the vocabulary size (uniform predictions), ends far below it.
  EXPECT_NEAR(perplexity.front(), static_cast<double>(vocab.size()), 0.2 * vocab.size());
  EXPECT_LT(perplexity.back(), 0.25 * perplexity.front()) << ::testing::PrintToString(perplexity);
  EXPECT_LT(perplexity[40], perplexity[0]);
  EXPECT_LT(perplexity.back(), perplexity[40]);
}

TEST(LmModel, UnknownGroupOrMissingDeviceIsAClearError) {
  ContextMap bad = kTwoDevices;
  bad["layer7"] = Context::CPU(1);
  try {
    LmTrainer lm(kSpec, SmallOptions(bad));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("group2ctx: unknown group 'layer7' (on cpu(1)); the model's "
                                    "groups are embed, layer0, layer1, decode"));
  }
  ContextMap gpu = kTwoDevices;
  gpu["decode"] = Context::GPU(0);
  try {
    LmTrainer lm(kSpec, SmallOptions(gpu));
    FAIL() << "no error";
  } catch (const NotSupportedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("group 'decode' is on gpu(0), but the training loop needs "
                                    "host arrays"));
  }
  ContextMap missing = kTwoDevices;
  missing.erase("layer1");
  try {
    LmTrainer lm(kSpec, SmallOptions(missing));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("group2ctx: no device for group 'layer1'"));
  }
}

}  // namespace
}  // namespace loom::lm
