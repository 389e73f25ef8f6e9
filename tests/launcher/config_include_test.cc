// `include:`: relative paths, merge rules, order, cycles, errors located in the included file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_util.h"
#include "loom/train/config.h"

namespace loom::train {
namespace {

using testing::ConfigErrorOf;
using testing::ConfigPath;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(ConfigInclude, ChildOverridesBaseFieldByField) {
  proto::Experiment e = LoadExperiment(ConfigPath("include/child.yaml"));
  EXPECT_EQ(e.name(), "child");
  EXPECT_EQ(e.include_size(), 0);  // resolved
  EXPECT_EQ(e.model().builtin(), "mlp");
  EXPECT_THAT(e.model().hidden(), ElementsAre(64));  // lists replace
  EXPECT_EQ(e.optimizer().name(), "sgd");
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.05f);       // scalars replace
  EXPECT_FLOAT_EQ(e.optimizer().momentum(), 0.9f);  // untouched keys stay
  EXPECT_EQ(e.trainer().epochs(), 5);
  EXPECT_THAT(e.trainer().metrics(), ElementsAre("accuracy", "cross_entropy"));
  EXPECT_THAT(e.trainer().group2ctx(),  // maps merge by key
              UnorderedElementsAre(Pair("embed", "cpu(0)"), Pair("decode", "cpu(2)"),
                                   Pair("head", "cpu(3)")));
}

TEST(ConfigInclude, PathsAreRelativeToTheIncludingFile) {
  proto::Experiment e = LoadExperiment(ConfigPath("include/sub/grandchild.yaml"));
  EXPECT_EQ(e.name(), "child");
  EXPECT_EQ(e.trainer().epochs(), 7);
  EXPECT_EQ(e.model().hidden_size(), 0);  // `hidden: ~` cleared the inherited list
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.05f);
}

TEST(ConfigInclude, ListOrderLaterFilesWin) {
  proto::Experiment e = LoadExperiment(ConfigPath("include/list.yaml"));
  EXPECT_EQ(e.optimizer().name(), "adam");
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.001f);
  EXPECT_FLOAT_EQ(e.optimizer().momentum(), 0.9f);
  EXPECT_EQ(e.trainer().epochs(), 2);
  EXPECT_EQ(e.name(), "base");
}

TEST(ConfigInclude, OverridesComeAfterAllFilesInOrder) {
  proto::Experiment e =
      LoadExperiment(ConfigPath("include/child.yaml"),
                     {"optimizer.lr=0.2", "trainer.epochs=1", "optimizer.lr=0.3"});
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.3f);
  EXPECT_EQ(e.trainer().epochs(), 1);
  EXPECT_FLOAT_EQ(e.optimizer().momentum(), 0.9f);
}

TEST(ConfigInclude, DiamondIsNotACycleAndEachFileIsMergedOnce) {
  // diamond_left and diamond_right both include base.yaml. base is merged once, where it is
  // first included, so diamond_right's include does not undo diamond_left's epochs: 11.
  proto::Experiment e = LoadExperiment(ConfigPath("include/diamond.yaml"));
  EXPECT_EQ(e.trainer().epochs(), 11);
  EXPECT_FLOAT_EQ(e.optimizer().momentum(), 0.5f);
  EXPECT_FLOAT_EQ(e.optimizer().lr(), 0.1f);
}

TEST(ConfigInclude, Cycles) {
  const std::string a = ConfigPath("include/cycle_a.yaml");
  const std::string b = ConfigPath("include/cycle_b.yaml");
  EXPECT_EQ(ConfigErrorOf([&] { LoadExperiment(a); }),
            "include cycle: " + a + " -> " + b + " -> " + a + " (" + b + ":1:11)");
  const std::string self = ConfigPath("include/self.yaml");
  EXPECT_EQ(ConfigErrorOf([&] { LoadExperiment(self); }),
            "include cycle: " + self + " -> " + self + " (" + self + ":1:10)");
}

TEST(ConfigInclude, MissingAndMalformedIncludes) {
  const std::string missing = ConfigPath("include/missing.yaml");
  EXPECT_EQ(ConfigErrorOf([&] { LoadExperiment(missing); }),
            "cannot read experiment file '" + ConfigPath("include/does_not_exist.yaml") +
                "': No such file or directory (" + missing + ":1:10)");
  const std::string bad = ConfigPath("include/bad_type.yaml");
  EXPECT_EQ(
      ConfigErrorOf([&] { LoadExperiment(bad); }),
      "include: expected a file path or a list of file paths but got a map (" + bad + ":1:10)");
}

TEST(ConfigInclude, ErrorsNameTheIncludedFile) {
  const std::string broken = ConfigPath("include/broken_base.yaml");
  EXPECT_EQ(ConfigErrorOf([] { LoadExperiment(ConfigPath("include/includes_broken.yaml")); }),
            "trainer.epochs: expected an integer but got 'ten' (" + broken + ":3:11)");
  const std::string invalid = ConfigPath("include/invalid_base.yaml");
  EXPECT_EQ(ConfigErrorOf([] { LoadExperiment(ConfigPath("include/includes_invalid.yaml")); }),
            "optimizer.name: expected one of sgd, nag, adam, adamw, rmsprop, adagrad but got "
            "'sgdd'; did you mean 'sgd'? (" +
                invalid + ":3:9)");
}

}  // namespace
}  // namespace loom::train
