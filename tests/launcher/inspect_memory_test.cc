// `loom inspect --train`: the executor's memory plans for inference and training, in text and in
// JSON, equal to what binding the model costs (Executor::SimpleBind's memory_plan()), with the
// bound arrays counted by hand.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "loom/core/executor.h"
#include "loom/launcher/cli.h"

namespace loom {
namespace {

struct Result {
  int status;
  std::string out, err;
};

Result RunLoom(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int status = RunCli(args, out, err);
  return {status, out.str(), err.str()};
}

const std::string kMlp =
    std::string(LOOM_TEST_DATA_DIR) + "/mxnet-json/clojure-mnist-mlp-mxnet1.4.json";

// The integer after "key": inside the JSON object named `section`.
size_t JsonNumber(const std::string& json, const std::string& section, const std::string& key) {
  const size_t at = json.find("\"" + section + "\":{");
  EXPECT_NE(at, std::string::npos) << json;
  std::smatch m;
  const std::string rest = json.substr(at);
  EXPECT_TRUE(std::regex_search(rest, m, std::regex("\"" + key + "\":([0-9]+)"))) << rest;
  return static_cast<size_t>(std::stoull(m[1]));
}

TEST(InspectMemory, JsonPlansMatchWhatBindingCosts) {
  Result r = RunLoom({"inspect", kMlp, "--shape", "data=10,784", "--train", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(",\"memory\":{\"inference\":{\"planned_bytes\":"), std::string::npos)
      << r.out;

  // The same plans from binding the model: inference without gradients, training with
  // gradients for every argument but the data and the label.
  Symbol net = Symbol::Load(kMlp);
  std::map<std::string, std::string, std::less<>> train_req;
  for (const std::string& a : net.ListArguments()) {
    train_req[a] = a == "data" || a == "softmax_label" ? "null" : "write";
  }
  Executor inference = Executor::SimpleBind(net, Context::CPU(), {{"data", {10, 784}}}, {}, "null");
  Executor training =
      Executor::SimpleBind(net, Context::CPU(), {{"data", {10, 784}}}, {}, train_req);
  for (const auto& [section, exe] :
       {std::pair<std::string, const Executor*>{"inference", &inference},
        {"training", &training}}) {
    SCOPED_TRACE(section);
    const MemoryPlanStats plan = exe->memory_plan();
    EXPECT_EQ(JsonNumber(r.out, section, "planned_bytes"), plan.planned_bytes);
    EXPECT_EQ(JsonNumber(r.out, section, "unplanned_bytes"), plan.unplanned_bytes);
    EXPECT_EQ(JsonNumber(r.out, section, "num_storage"), plan.num_storage);
    EXPECT_EQ(JsonNumber(r.out, section, "num_inplace"), plan.num_inplace);
  }
  // Bound arrays by hand: 784-128-64-10 weights and biases (109386 floats), data (10, 784) and
  // the label (10,); training adds a gradient per weight and bias.
  const size_t params = 128 * 784 + 128 + 64 * 128 + 64 + 10 * 64 + 10;
  EXPECT_EQ(JsonNumber(r.out, "inference", "external_bytes"), 4 * (params + 7840 + 10));
  EXPECT_EQ(JsonNumber(r.out, "training", "external_bytes"), 4 * (2 * params + 7840 + 10));
  EXPECT_GT(JsonNumber(r.out, "training", "planned_bytes"),
            JsonNumber(r.out, "inference", "planned_bytes"));
}

TEST(InspectMemory, TextListsBothPlans) {
  Result r = RunLoom({"inspect", kMlp, "--shape=data=10,784", "--train"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("memory (the executor's plan for these shapes):\n  inference  "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n  training   "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("without in-place and sharing"), std::string::npos) << r.out;
  // Without --train the output has no memory section (and matches MXNet's, inspect_test.cc).
  Result plain = RunLoom({"inspect", kMlp, "--shape=data=10,784", "--json"});
  EXPECT_EQ(plain.out.find("memory"), std::string::npos);
}

TEST(InspectMemory, TrainNeedsEveryShape) {
  Result r = RunLoom({"inspect", kMlp, "--train"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("--train needs every shape to plan memory, but these are not inferred: "
                       "data"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
}

}  // namespace
}  // namespace loom
