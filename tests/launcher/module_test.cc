// Module: one SGD step against a hand-computed softmax-regression step, grad_req add, lr_mult,
// global-norm clipping, parameter loading reports, MXNet checkpoints, Predict, divergence and a
// short training run on synthetic data that must generalise.
#include "loom/train/module.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "loom/operators/symbol_ops.h"
#include "loom/train/models.h"

namespace loom::train {
namespace {

using ::testing::HasSubstr;

// 4 classes whose means lie about 5 noise standard deviations apart: ~99% separable.
constexpr int64_t kFeatures = 40;

std::unique_ptr<DataIter> Synthetic(int64_t samples, int classes, uint64_t stream, int64_t batch,
                                    bool shuffle = true) {
  auto ds = std::make_shared<Dataset>(
      MakeSynthetic(samples, Shape{kFeatures}, classes, /*seed=*/1, stream));
  BatchOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.seed = 3;
  return CreateDatasetIter(ds, o);
}

Symbol SmallMlp(int classes) {
  proto::Model m;
  m.set_builtin("mlp");
  m.add_hidden(32);
  m.set_num_classes(classes);
  return BuildModel(m, Shape{kFeatures});
}

proto::Optimizer Sgd(float lr, float momentum = 0) {
  proto::Optimizer o;
  o.set_name("sgd");
  o.set_lr(lr);
  o.set_momentum(momentum);
  return o;
}

std::unique_ptr<Initializer> Xavier() { return Initializer::Create(proto::Initializer()); }

std::vector<float> Host(const NDArray& a) { return a.ToVector<float>(); }

TEST(Module, OneSgdStepMatchesHandComputedSoftmaxRegression) {
  // data (2,3) -> FullyConnected(2) -> SoftmaxOutput; the gradient of the logits is p - onehot
  // per row, rescaled by 1/batch; w -= lr * grad.
  Symbol net = op::SoftmaxOutput(
      op::FullyConnected(Symbol::Variable("data"), {.num_hidden = 2}, "fc"), {}, "softmax");
  Module mod(net);
  mod.Bind({{"data", Shape{2, 3}}}, {{"softmax_label", Shape{2}}});
  const std::vector<float> w = {0.1f, -0.2f, 0.3f, 0.0f, 0.5f, -0.4f};
  const std::vector<float> b = {0.05f, -0.05f};
  mod.SetParams({{"fc_weight", NDArray::FromHost<float>(w, {2, 3})},
                 {"fc_bias", NDArray::FromHost<float>(b, {2})}},
                {});
  const float lr = 0.5f;
  mod.InitOptimizer(Sgd(lr));
  const std::vector<float> x = {1.0f, 2.0f, -1.0f, 0.5f, -1.5f, 2.0f};
  const std::vector<float> y = {1.0f, 0.0f};
  DataBatch batch;
  batch.data = {NDArray::FromHost<float>(x, {2, 3})};
  batch.label = {NDArray::FromHost<float>(y, {2})};
  mod.Forward(batch, true);
  mod.Backward();
  mod.Update();

  // The reference in double.
  double gw[2][3] = {}, gb[2] = {};
  std::vector<double> probs;
  for (int r = 0; r < 2; ++r) {
    double z[2];
    for (int c = 0; c < 2; ++c) {
      z[c] = b[c];
      for (int k = 0; k < 3; ++k) z[c] += static_cast<double>(w[c * 3 + k]) * x[r * 3 + k];
    }
    const double m = std::max(z[0], z[1]);
    const double e0 = std::exp(z[0] - m), e1 = std::exp(z[1] - m);
    const double p[2] = {e0 / (e0 + e1), e1 / (e0 + e1)};
    for (int c = 0; c < 2; ++c) {
      probs.push_back(p[c]);
      const double d = p[c] - (static_cast<int>(y[r]) == c ? 1.0 : 0.0);
      gb[c] += d;
      for (int k = 0; k < 3; ++k) gw[c][k] += d * x[r * 3 + k];
    }
  }
  const std::vector<float> out = Host(mod.GetOutputs()[0]);
  for (size_t i = 0; i < probs.size(); ++i) EXPECT_NEAR(out[i], probs[i], 1e-6);
  auto [args, aux] = mod.GetParams();
  const std::vector<float> w1 = Host(args.at("fc_weight"));
  const std::vector<float> b1 = Host(args.at("fc_bias"));
  for (int c = 0; c < 2; ++c) {
    EXPECT_NEAR(b1[c], b[c] - lr * 0.5 * gb[c], 1e-6);
    for (int k = 0; k < 3; ++k)
      EXPECT_NEAR(w1[c * 3 + k], w[c * 3 + k] - lr * 0.5 * gw[c][k], 1e-6);
  }
  EXPECT_EQ(mod.optimizer().num_update(), 1);
}

TEST(Module, FitOnSyntheticDataGeneralises) {
  auto train = Synthetic(512, 4, /*stream=*/0, 32);
  auto test = Synthetic(256, 4, /*stream=*/1, 32, false);
  Module mod(SmallMlp(4));
  mod.Bind(train->ProvideData(), train->ProvideLabel());
  mod.InitParams(*Xavier(), 0);
  mod.InitOptimizer(Sgd(0.1f, 0.9f));
  FitOptions fit;
  fit.num_epochs = 4;
  fit.metrics = {"accuracy", "cross_entropy"};
  std::vector<EpochEndInfo> epochs;
  int64_t batches = 0;
  double first_loss = 0;
  fit.batch_end = [&](BatchEndInfo& info) {
    if (batches++ == 0) first_loss = info.loss;
    EXPECT_EQ(info.num_batches, 16);
    EXPECT_EQ(info.samples, 32);
  };
  fit.epoch_end = [&](EpochEndInfo& info) { epochs.push_back(info); };
  const FitResult result = mod.Fit(*train, test.get(), fit);
  EXPECT_EQ(result.status, FitResult::Status::kCompleted);
  EXPECT_EQ(batches, 64);
  ASSERT_EQ(epochs.size(), 4u);
  // 4 classes: an untrained network's cross-entropy is about log(4).
  EXPECT_NEAR(first_loss, std::log(4.0), 0.7);
  EXPECT_LT(epochs.back().loss, 0.3);
  EXPECT_EQ(epochs.back().val[0].first, "accuracy");
  EXPECT_GE(epochs.back().val[0].second, 0.9);  // held-out data of the same distribution
  const auto scores = mod.Score(*test, {"accuracy"});
  EXPECT_DOUBLE_EQ(scores[0].second, epochs.back().val[0].second);
  EXPECT_EQ(mod.optimizer().num_update(), 64);
}

TEST(Module, GradReqAddEqualsWriteBecauseGradientsAreZeroedAfterUpdate) {
  std::vector<std::vector<float>> finals;
  for (const char* req : {"write", "add"}) {
    auto train = Synthetic(128, 4, 0, 32);
    Module mod(SmallMlp(4));
    mod.Bind(train->ProvideData(), train->ProvideLabel(), true, req);
    mod.InitParams(*Xavier(), 5);
    mod.InitOptimizer(Sgd(0.1f, 0.9f));
    FitOptions fit;
    fit.num_epochs = 2;
    mod.Fit(*train, nullptr, fit);
    finals.push_back(Host(mod.GetParams().first.at("fc1_weight")));
  }
  EXPECT_EQ(finals[0], finals[1]);
}

TEST(Module, LrMultZeroFreezesAParameter) {
  Symbol weight = Symbol::Variable("fc_weight", {.lr_mult = 0});
  Symbol net = op::SoftmaxOutput(
      op::FullyConnected(Symbol::Variable("data"), {.num_hidden = 4, .weight = weight}, "fc"), {},
      "softmax");
  auto train = Synthetic(64, 4, 0, 32);
  Module mod(net);
  mod.Bind(train->ProvideData(), train->ProvideLabel());
  mod.InitParams(*Xavier(), 0);
  mod.InitOptimizer(Sgd(0.5f));
  const auto before = mod.GetParams().first;
  const std::vector<float> w0 = Host(before.at("fc_weight"));
  const std::vector<float> b0 = Host(before.at("fc_bias"));
  FitOptions fit;
  mod.Fit(*train, nullptr, fit);
  const auto after = mod.GetParams().first;
  EXPECT_EQ(Host(after.at("fc_weight")), w0);
  EXPECT_NE(Host(after.at("fc_bias")), b0);
}

TEST(Module, GlobalNormClippingBoundsTheStep) {
  auto train = Synthetic(32, 4, 0, 32);
  Module mod(SmallMlp(4));
  mod.Bind(train->ProvideData(), train->ProvideLabel());
  mod.InitParams(*Xavier(), 0);
  proto::Optimizer cfg = Sgd(1.0f);
  cfg.set_clip_global_norm(1e-3f);
  mod.InitOptimizer(cfg);
  const auto before = mod.GetParams().first;
  FitOptions fit;
  mod.Fit(*train, nullptr, fit);
  const auto after = mod.GetParams().first;
  double sq = 0;
  for (const auto& [name, a] : before) {
    const auto v0 = Host(a), v1 = Host(after.at(name));
    for (size_t i = 0; i < v0.size(); ++i) sq += (double(v1[i]) - v0[i]) * (double(v1[i]) - v0[i]);
  }
  // Step = lr * rescale_grad (1/32) * clipped gradient of norm <= 1e-3.
  EXPECT_GT(sq, 0);
  EXPECT_LE(std::sqrt(sq), 1e-3 / 32 * 1.001);
}

TEST(Module, DataNotMatchingTheSymbolIsAClearError) {
  Symbol net = op::SoftmaxOutput(op::FullyConnected(Symbol::Variable("x"), {.num_hidden = 4}, "fc"),
                                 {}, "softmax");
  Module mod(net);
  try {
    mod.Bind({{"data", Shape{8, kFeatures}}}, {{"softmax_label", Shape{8}}});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the data input 'data' is not an argument of the symbol"));
    EXPECT_THAT(e.what(), HasSubstr("x, fc_weight, fc_bias, softmax_label"));
    EXPECT_THAT(e.what(), HasSubstr("data.data_name"));
  }
  // Right names, but a label of the wrong length: the inference error names the inputs.
  Module mod2(SmallMlp(4));
  try {
    mod2.Bind({{"data", Shape{8, kFeatures}}}, {{"softmax_label", Shape{5}}});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the model's inputs do not match the data"));
    EXPECT_THAT(e.what(), HasSubstr("softmax_label(5)"));
  }
}

TEST(Module, ParamLoadReportNamesMissingUnexpectedAndMismatchedKeys) {
  Module mod(SmallMlp(4));
  mod.Bind({{"data", Shape{8, kFeatures}}}, {{"softmax_label", Shape{8}}});
  const NamedArrays given = {
      {"fc1_weight", NDArray::Ones({32, kFeatures})},
      {"fc2_weight", NDArray::Ones({5, 32})},  // the file's model had 5 classes
      {"conv9_weight", NDArray::Ones({3})},
  };
  const ParamLoadReport report = mod.InitParams(*Xavier(), 0, given, {});
  EXPECT_EQ(report.loaded, std::vector<std::string>{"fc1_weight"});
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"conv9_weight"});
  EXPECT_EQ(report.missing, (std::vector<std::string>{"fc1_bias", "fc2_bias"}));
  const std::string text = report.ToString();
  EXPECT_THAT(text, HasSubstr("Skip loading parameter 'fc2_weight' due to incompatible shapes: "
                              "(5,32) in the file but (4,32) in the model"));
  EXPECT_THAT(text, HasSubstr("not in the file (they keep their initial values): fc1_bias"));
  EXPECT_THAT(text, HasSubstr("does not have (ignored): conv9_weight"));
  EXPECT_EQ(Host(mod.GetParams().first.at("fc1_weight")), std::vector<float>(32 * kFeatures, 1));
  // Strict loading refuses the same arrays; nothing that fits at all is an error too.
  EXPECT_THROW(mod.SetParams(given, {}), ConfigError);
  EXPECT_THROW(mod.InitParams(*Xavier(), 0, {{"other", NDArray::Ones({2})}}, {}), ConfigError);
}

TEST(Module, MXNetCheckpointRoundTrip) {
  auto train = Synthetic(64, 4, 0, 32);
  Module mod(SmallMlp(4));
  mod.Bind(train->ProvideData(), train->ProvideLabel());
  mod.InitParams(*Xavier(), 9);
  const std::string prefix = (std::filesystem::temp_directory_path() / "loom_module_test").string();
  const std::string path = mod.SaveCheckpoint(prefix, 3);
  EXPECT_EQ(path, prefix + "-0003.params");
  const MXNetCheckpoint back = Module::LoadCheckpoint(prefix, 3);
  EXPECT_EQ(back.symbol.ToJSON(), mod.symbol().ToJSON());
  const auto [args, aux] = mod.GetParams();
  ASSERT_EQ(back.arg_params.size(), args.size());
  for (const auto& [name, a] : args) EXPECT_EQ(Host(back.arg_params.at(name)), Host(a)) << name;
  EXPECT_TRUE(back.aux_params.empty());
  // A fresh module takes them strictly.
  Module other(back.symbol);
  other.Bind(train->ProvideData(), train->ProvideLabel());
  EXPECT_TRUE(other.SetParams(back.arg_params, back.aux_params).clean());
  std::filesystem::remove(prefix + "-symbol.json");
  std::filesystem::remove(path);
}

TEST(Module, PredictDropsPaddingAndScoreHandlesAnotherBatchSize) {
  auto train = Synthetic(64, 4, 0, 32);
  Module mod(SmallMlp(4));
  mod.Bind(train->ProvideData(), train->ProvideLabel());
  mod.InitParams(*Xavier(), 0);
  auto data = Synthetic(50, 4, 1, 16, false);  // 4 batches, the last padded by 14 rows
  const NDArray pred = mod.Predict(*data);
  ASSERT_EQ(pred.shape(), (Shape{50, 4}));
  const std::vector<float> p = Host(pred);
  for (int r = 0; r < 50; ++r) {
    EXPECT_NEAR(p[r * 4] + p[r * 4 + 1] + p[r * 4 + 2] + p[r * 4 + 3], 1.0, 1e-5);
  }
  // The same rows through the bound batch size give the same probabilities (up to the GEMM's
  // rounding, which depends on the batch size).
  auto same = Synthetic(50, 4, 1, 32, false);
  const std::vector<float> q = Host(mod.Predict(*same));
  ASSERT_EQ(q.size(), p.size());
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(q[i], p[i], 1e-6);
  const auto scores = mod.Score(*data, {"accuracy"});
  EXPECT_GE(scores[0].second, 0.0);
  EXPECT_LE(scores[0].second, 1.0);
}

TEST(Module, NonFiniteOutputsStopFitNamingEpochAndBatch) {
  auto train = Synthetic(64, 4, 0, 32);
  Module mod(SmallMlp(4));
  mod.Bind(train->ProvideData(), train->ProvideLabel());
  mod.InitParams(*Xavier(), 0);
  mod.InitOptimizer(Sgd(0.1f));
  std::vector<float> nan(32 * kFeatures, std::numeric_limits<float>::quiet_NaN());
  mod.SetParams({{"fc1_weight", NDArray::FromHost<float>(nan, {32, kFeatures})}}, {},
                /*allow_missing=*/true);
  FitOptions fit;
  fit.num_epochs = 2;
  try {
    mod.Fit(*train, nullptr, fit);
    FAIL() << "expected DivergedError";
  } catch (const DivergedError& e) {
    EXPECT_EQ(e.epoch(), 0);
    EXPECT_EQ(e.batch(), 0);
    EXPECT_THAT(e.what(), HasSubstr("training diverged at epoch 1 batch 1"));
    EXPECT_THAT(e.what(), HasSubstr("NaN"));
  }
}

TEST(Module, StopFromACallbackReportsThePosition) {
  auto train = Synthetic(128, 4, 0, 32);  // 4 batches per epoch
  Module mod(SmallMlp(4));
  mod.Bind(train->ProvideData(), train->ProvideLabel());
  mod.InitParams(*Xavier(), 0);
  mod.InitOptimizer(Sgd(0.1f));
  FitOptions fit;
  fit.num_epochs = 3;
  fit.batch_end = [](BatchEndInfo& info) { info.stop = info.epoch == 1 && info.batch == 1; };
  FitResult r = mod.Fit(*train, nullptr, fit);
  EXPECT_EQ(r.status, FitResult::Status::kStopped);
  EXPECT_EQ(r.epoch, 1);
  EXPECT_EQ(r.batch_in_epoch, 2);
  EXPECT_EQ(mod.optimizer().num_update(), 6);
  fit.batch_end = nullptr;
  fit.max_updates = 8;
  fit.begin_epoch = 1;
  fit.begin_batch = 2;
  std::vector<int64_t> ended;
  fit.epoch_end = [&](EpochEndInfo& e) { ended.push_back(e.epoch); };
  r = mod.Fit(*train, nullptr, fit);
  EXPECT_EQ(r.status, FitResult::Status::kMaxUpdates);
  EXPECT_EQ(r.epoch, 2);  // the limit fell on the last batch of epoch 1 (0-based): it is finished
  EXPECT_EQ(r.batch_in_epoch, 0);
  EXPECT_EQ(ended, std::vector<int64_t>{1});
}

}  // namespace
}  // namespace loom::train
