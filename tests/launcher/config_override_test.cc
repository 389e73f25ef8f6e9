// Command-line overrides "a.b.c=value": scalars, lists, maps, nested sections, nulls, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_util.h"
#include "loom/train/config.h"

namespace loom::train {
namespace {

using testing::ConfigErrorOf;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

proto::Experiment Base() {
  return ParseExperiment(R"(model: {builtin: mlp, hidden: [256, 128]}
trainer:
  metrics: [accuracy]
  group2ctx: {embed: cpu(0)}
)",
                         "base.yaml");
}

std::string OverrideError(const std::string& text) {
  proto::Experiment e = Base();
  return ConfigErrorOf([&] { ApplyOverrides(&e, {text}); });
}

TEST(ConfigOverride, Scalars) {
  proto::Experiment e = Base();
  ApplyOverrides(
      &e, {"optimizer.lr=0.2", "trainer.epochs=3", "data.shuffle=false", "name=exp2",
           "trainer.seed=42", " data.batch_size = 32", "checkpoint.resume=runs/x/ckpt-final.pb"});
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.2f);
  EXPECT_EQ(e.trainer().epochs(), 3);
  EXPECT_FALSE(e.data().shuffle());
  EXPECT_EQ(e.name(), "exp2");
  EXPECT_EQ(e.trainer().seed(), 42u);
  EXPECT_EQ(e.data().batch_size(), 32);
  EXPECT_EQ(e.checkpoint().resume(), "runs/x/ckpt-final.pb");
}

TEST(ConfigOverride, ValueIsEverythingAfterTheFirstEquals) {
  proto::Experiment e = Base();
  ApplyOverrides(&e, {"name=a=b"});
  EXPECT_EQ(e.name(), "a=b");
}

TEST(ConfigOverride, ListsReplace) {
  proto::Experiment e = Base();
  ApplyOverrides(&e, {"trainer.metrics=[accuracy,cross_entropy]", "model.hidden=[10, 20, 30]"});
  EXPECT_THAT(e.trainer().metrics(), ElementsAre("accuracy", "cross_entropy"));
  EXPECT_THAT(e.model().hidden(), ElementsAre(10, 20, 30));
  ApplyOverrides(&e, {"model.hidden=[]"});
  EXPECT_EQ(e.model().hidden_size(), 0);
}

TEST(ConfigOverride, MapEntriesAndWholeMaps) {
  proto::Experiment e = Base();
  ApplyOverrides(&e, {"trainer.group2ctx.decode=cpu(1)"});
  EXPECT_THAT(e.trainer().group2ctx(),
              UnorderedElementsAre(Pair("embed", "cpu(0)"), Pair("decode", "cpu(1)")));
  ApplyOverrides(&e, {"trainer.group2ctx.embed=cpu(2)"});  // replaces that entry only
  EXPECT_THAT(e.trainer().group2ctx(),
              UnorderedElementsAre(Pair("embed", "cpu(2)"), Pair("decode", "cpu(1)")));
  ApplyOverrides(&e, {"trainer.group2ctx={head: cpu(3), decode: cpu(0)}"});  // merges
  EXPECT_THAT(e.trainer().group2ctx(),
              UnorderedElementsAre(Pair("embed", "cpu(2)"), Pair("decode", "cpu(0)"),
                                   Pair("head", "cpu(3)")));
  ApplyOverrides(&e, {"trainer.group2ctx.embed=~"});  // null removes the entry
  EXPECT_THAT(e.trainer().group2ctx(),
              UnorderedElementsAre(Pair("decode", "cpu(0)"), Pair("head", "cpu(3)")));
  ApplyOverrides(&e, {"trainer.group2ctx=~"});  // null clears the map
  EXPECT_TRUE(e.trainer().group2ctx().empty());
}

TEST(ConfigOverride, SectionsMergeFieldByField) {
  proto::Experiment e = Base();
  ApplyOverrides(&e, {"optimizer.lr_schedule.type=cosine", "optimizer={name: adam, lr: 0.002}",
                      "optimizer.lr_schedule={max_update: 100}"});
  EXPECT_EQ(e.optimizer().name(), "adam");
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.002f);
  EXPECT_EQ(e.optimizer().lr_schedule().type(), "cosine");
  EXPECT_EQ(e.optimizer().lr_schedule().max_update(), 100);
}

TEST(ConfigOverride, NullOrNothingResetsAField) {
  proto::Experiment e = Base();
  ApplyOverrides(&e, {"optimizer.lr=0.5", "model.builtin=~", "model.symbol=net-symbol.json"});
  EXPECT_FALSE(e.model().has_builtin());
  EXPECT_EQ(e.model().symbol(), "net-symbol.json");
  ApplyOverrides(&e, {"optimizer.lr="});
  EXPECT_FALSE(e.optimizer().has_lr());
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.01f);
}

TEST(ConfigOverride, UnknownKeys) {
  EXPECT_EQ(OverrideError("optimizer.lrr=0.1"),
            "override 'optimizer.lrr=0.1': unknown key 'optimizer.lrr', did you mean "
            "'optimizer.lr'?\n"
            "  valid keys in optimizer: name, lr, momentum, wd, rescale_grad, clip_gradient, "
            "clip_global_norm, beta1, beta2, epsilon, rho, lr_schedule");
  EXPECT_THAT(OverrideError("epochs=3"),
              StartsWith("override 'epochs=3': unknown key 'epochs', did you mean "
                         "'trainer.epochs'?\n  valid keys at the top level: "));
  EXPECT_THAT(OverrideError("optimizer={lrr: 1}"),
              StartsWith("override 'optimizer={lrr: 1}': unknown key 'optimizer.lrr', did you "
                         "mean 'optimizer.lr'?"));
}

TEST(ConfigOverride, BadValues) {
  EXPECT_EQ(OverrideError("trainer.epochs=ten"),
            "override 'trainer.epochs=ten': trainer.epochs: expected an integer but got 'ten'");
  EXPECT_EQ(OverrideError("trainer.metrics=accuracy"),
            "override 'trainer.metrics=accuracy': trainer.metrics: expected a list (e.g. [a, b]) "
            "of strings but got 'accuracy'");
  EXPECT_EQ(OverrideError("trainer.metrics=[accuracy"),
            "override 'trainer.metrics=[accuracy': the value is not valid YAML: end of sequence "
            "flow not found");
  EXPECT_EQ(OverrideError("trainer.epochs=, 3"),
            "override 'trainer.epochs=, 3': the value is not valid YAML: unexpected ','");
  EXPECT_EQ(OverrideError("trainer.epochs=99999999999"),
            "override 'trainer.epochs=99999999999': trainer.epochs: expected an integer between "
            "-2147483648 and 2147483647 but got '99999999999'");
}

TEST(ConfigOverride, BadPaths) {
  EXPECT_EQ(OverrideError("epochs"),
            "override 'epochs': expected key.path=value (e.g. optimizer.lr=0.1)");
  EXPECT_EQ(OverrideError("=3"), "override '=3': expected key.path=value (e.g. optimizer.lr=0.1)");
  EXPECT_EQ(OverrideError("optimizer..lr=1"),
            "override 'optimizer..lr=1': expected key.path=value with a name between each pair "
            "of dots");
  EXPECT_EQ(OverrideError("optimizer.lr.x=1"),
            "override 'optimizer.lr.x=1': optimizer.lr is a number and has no key 'x'");
  EXPECT_EQ(OverrideError("trainer.metrics.0=mse"),
            "override 'trainer.metrics.0=mse': trainer.metrics is a list: set it whole, e.g. "
            "trainer.metrics=[a,b]");
  EXPECT_EQ(OverrideError("include=base.yaml"),
            "override 'include=base.yaml': include: other files can be included only from a "
            "file");
}

TEST(ConfigOverride, ValidationErrorsNameTheOverride) {
  EXPECT_EQ(OverrideError("optimizer.name=adamm"),
            "override 'optimizer.name=adamm': optimizer.name: expected one of sgd, nag, adam, "
            "adamw, rmsprop, adagrad but got 'adamm'; did you mean 'adam'?");
  EXPECT_EQ(OverrideError("trainer.group2ctx.embed=tpu(0)"),
            "override 'trainer.group2ctx.embed=tpu(0)': trainer.group2ctx.embed: expected a "
            "device such as cpu, cpu(1) or gpu(0) but got 'tpu(0)'");
  EXPECT_EQ(OverrideError("model.symbol=net.json"),
            "override 'model.symbol=net.json': model.symbol: expected exactly one of "
            "model.builtin (mlp, lenet, resnet) and model.symbol (an MXNet symbol JSON file) but "
            "got both");
}

TEST(ConfigOverride, AppliedByLoadExperimentAfterTheFile) {
  proto::Experiment e =
      LoadExperiment(testing::ConfigPath("full.yaml"), {"trainer.metrics=[mse]", "data.val=~"});
  EXPECT_THAT(e.trainer().metrics(), ElementsAre("mse"));
  EXPECT_FALSE(e.data().has_val());
  EXPECT_EQ(ConfigErrorOf(
                [] { LoadExperiment(testing::ConfigPath("full.yaml"), {"data.batch_size=0"}); }),
            "override 'data.batch_size=0': data.batch_size: expected a positive integer but got 0");
}

}  // namespace
}  // namespace loom::train
