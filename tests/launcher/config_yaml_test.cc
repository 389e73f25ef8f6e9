// ExperimentToYaml: every key in schema order with its default, and exact round trips through
// ParseExperiment (values, set-or-not, awkward strings, float bits, long lists and maps).
#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <limits>
#include <regex>
#include <sstream>

#include "config_test_util.h"
#include "loom/train/config.h"

namespace loom::train {
namespace {

namespace pb = google::protobuf;
using ::testing::HasSubstr;

// The keys ExperimentToYaml must print, indented two spaces per level, in declaration order.
void ExpectedKeys(const pb::Descriptor* d, const std::string& path, int indent,
                  std::vector<std::string>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (path.empty() && f->name() == "include") continue;
    const std::string p = path.empty() ? f->name() : path + "." + f->name();
    out->push_back(std::string(indent, ' ') + f->name());
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated() &&
        p != "data.val") {
      ExpectedKeys(f->message_type(), p, indent + 2, out);
    }
  }
}

std::vector<std::string> PrintedKeys(const std::string& yaml) {
  std::vector<std::string> keys;
  std::istringstream in(yaml);
  std::string line;
  static const std::regex kKey(R"(^(\s*)([a-z_0-9]+):.*$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kKey)) keys.push_back(m[1].str() + m[2].str());
  }
  return keys;
}

proto::Experiment RoundTrip(const proto::Experiment& e) {
  return ParseExperiment(ExperimentToYaml(e), "config.yaml");
}

proto::Experiment Valid() {
  proto::Experiment e;
  e.mutable_model()->set_builtin("mlp");
  return e;
}

TEST(ConfigToYaml, EveryKeyInSchemaOrder) {
  std::vector<std::string> expected;
  ExpectedKeys(proto::Experiment::descriptor(), "", 0, &expected);
  EXPECT_EQ(PrintedKeys(ExperimentToYaml(proto::Experiment())), expected);
  EXPECT_GT(expected.size(), 90u);
}

TEST(ConfigToYaml, DefaultsAndUnsetFields) {
  const std::string yaml = ExperimentToYaml(proto::Experiment());
  EXPECT_THAT(yaml, HasSubstr("\nname: experiment\nmodel:\n  builtin: ~\n  symbol: ~\n  params: ~\n"
                              "  num_classes: 10\n  hidden: []\n  activation: relu\n"
                              "  dropout: 0.0\n  resnet_blocks: 2\n"));
  EXPECT_THAT(yaml, HasSubstr("\n  val: ~\n  batch_size: 128\n"));
  EXPECT_THAT(yaml, HasSubstr("\n  flatten: ~\n"));
  EXPECT_THAT(yaml, HasSubstr(R"(
optimizer:
  name: sgd
  lr: 0.01
  momentum: 0.0
  wd: 0.0
  rescale_grad: ~
  clip_gradient: -1.0
  clip_global_norm: -1.0
  beta1: 0.9
  beta2: 0.999
  epsilon: 1.0e-08
  rho: 0.9
  lr_schedule:
    type: none
    step: 1000
    steps: []
    factor: 0.1
    min_lr: 0.0
    max_update: 0
    warmup_steps: 0
    warmup_begin_lr: 0.0
trainer:
)"));
  EXPECT_THAT(yaml, HasSubstr("\n  seed: 0\n  deterministic: false\n  grad_req: write\n"
                              "  group2ctx: {}\n"));
  EXPECT_THAT(yaml, HasSubstr(R"(
checkpoint:
  every_epochs: 1
  every_updates: 0
  keep: 3
  resume: "no"
  mxnet_format: true
)"));
  EXPECT_THAT(yaml, ::testing::Not(HasSubstr("\ninclude:")));
}

TEST(ConfigToYaml, RoundTripsAFullExperiment) {
  proto::Experiment e = LoadExperiment(testing::ConfigPath("full.yaml"));
  const std::string yaml = ExperimentToYaml(e);
  EXPECT_THAT(yaml, HasSubstr("  hidden: [256, 128]\n"));
  EXPECT_THAT(yaml, HasSubstr("  group2ctx: {decode: cpu(0), embed: cpu(1)}\n"));
  EXPECT_THAT(yaml, HasSubstr("  context: \"cpu(0),cpu(1)\"\n"));
  EXPECT_THAT(yaml, HasSubstr("  seed: 18446744073709551615\n"));
  proto::Experiment back = ParseExperiment(yaml, "config.yaml");
  EXPECT_TRUE(pb::util::MessageDifferencer::Equivalent(e, back)) << e.DebugString() << "\n---\n"
                                                                 << back.DebugString();
  EXPECT_EQ(ExperimentToYaml(back), yaml);
  // Set-or-not survives where it means something.
  EXPECT_TRUE(back.data().has_val());
  EXPECT_TRUE(back.data().has_flatten());
  EXPECT_TRUE(back.optimizer().has_rescale_grad());
  EXPECT_FALSE(back.model().has_symbol());
  EXPECT_FALSE(back.model().has_params());

  proto::Experiment minimal = Valid();
  proto::Experiment minimal_back = RoundTrip(minimal);
  EXPECT_TRUE(pb::util::MessageDifferencer::Equivalent(minimal, minimal_back));
  EXPECT_FALSE(minimal_back.data().has_val());
  EXPECT_FALSE(minimal_back.data().has_flatten());
  EXPECT_FALSE(minimal_back.optimizer().has_rescale_grad());
}

TEST(ConfigToYaml, RoundTripsAwkwardStrings) {
  // clang-format off
  const std::vector<std::string> strings = {
      "", "yes", "No", "~", "null", "true", "123", "1e5", ".inf", "-x", "- x", "a: b", "a #b",
      "[x]", "{x}", "'q'", "\"dq\"", "back\\slash", "tab\tnl\ncr\r", "bell\a", "ünïcode ✓",
      " lead", "trail ", "*alias", "&anchor", "!tag", "%pct", "@at", "`bt", "x,y", "?", ":", "|",
      ">", "#", "a\"b'c", "cpu(0)", "/usr/share/datasets", "runs/x/ckpt-final.pb"};
  // clang-format on
  for (const auto& s : strings) {
    proto::Experiment e = Valid();
    e.mutable_data()->mutable_train()->set_dir(s);
    if (!s.empty()) e.mutable_trainer()->mutable_group2ctx()->insert({s, "cpu"});  // no "" group
    proto::Experiment back = RoundTrip(e);
    EXPECT_TRUE(back.data().train().has_dir());
    EXPECT_EQ(back.data().train().dir(), s);
    EXPECT_EQ(back.trainer().group2ctx().size(), s.empty() ? 0u : 1u);
    EXPECT_EQ(back.trainer().group2ctx().count(s), s.empty() ? 0u : 1u) << "key [" << s << "]";
  }
}

TEST(ConfigToYaml, RoundTripsFloatBitsAndIntegerLimits) {
  for (float lr :
       {1e-8f, 0.1f, 0.3f, 1.0f / 3, 3.4e38f, 1.17549435e-38f, 1e-45f, 0.0f, 123456.7f}) {
    proto::Experiment e = Valid();
    e.mutable_optimizer()->set_lr(lr);
    EXPECT_EQ(RoundTrip(e).optimizer().lr(), lr);
  }
  proto::Experiment e = Valid();
  e.mutable_trainer()->set_seed(std::numeric_limits<uint64_t>::max());
  e.mutable_trainer()->set_max_updates(std::numeric_limits<int64_t>::max());
  e.mutable_optimizer()->set_clip_gradient(-std::numeric_limits<float>::max());
  proto::Experiment back = RoundTrip(e);
  EXPECT_EQ(back.trainer().seed(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(back.trainer().max_updates(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(back.optimizer().clip_gradient(), -std::numeric_limits<float>::max());
}

TEST(ConfigToYaml, LongListsAndMapsInBlockStyle) {
  proto::Experiment e = Valid();
  for (int i = 1; i <= 40; ++i) e.mutable_model()->add_hidden(i * 100);
  for (int i = 0; i < 12; ++i) {
    (*e.mutable_trainer()->mutable_group2ctx())["group" + std::to_string(i)] =
        "cpu(" + std::to_string(i) + ")";
  }
  const std::string yaml = ExperimentToYaml(e);
  EXPECT_THAT(yaml, HasSubstr("\n  hidden:\n    - 100\n    - 200\n"));
  EXPECT_THAT(yaml, HasSubstr("\n    - 4000\n  activation: relu\n"));
  EXPECT_THAT(yaml, HasSubstr("\n  group2ctx:\n    group0: cpu(0)\n    group1: cpu(1)\n"
                              "    group10: cpu(10)\n"));
  proto::Experiment back = ParseExperiment(yaml, "config.yaml");
  EXPECT_TRUE(pb::util::MessageDifferencer::Equivalent(e, back));
}

}  // namespace
}  // namespace loom::train
