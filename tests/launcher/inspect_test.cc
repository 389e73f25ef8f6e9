// `loom inspect`: output against MXNet 1.9.1's results for real model files, exit statuses and
// one-line errors naming the file, node, operator and both values.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

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

std::string Data(const std::string& name) {
  return std::string(LOOM_TEST_DATA_DIR) + "/mxnet-json/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// The model files, with the input shapes of their README, whose expected output MXNet 1.9.1
// produced (tests/data/mxnet-json/make_expected.py).
struct Model {
  const char* file;
  std::vector<std::string> shapes;
};

class InspectModel : public ::testing::TestWithParam<Model> {};

TEST_P(InspectModel, MatchesMXNet) {
  const Model& m = GetParam();
  std::vector<std::string> args = {"inspect", Data(m.file), "--json"};
  for (const auto& s : m.shapes) {
    args.push_back("--shape");
    args.push_back(s);
  }
  std::string stem = std::string(m.file).substr(0, std::string(m.file).size() - 5);
  std::string saved = ::testing::TempDir() + "/" + stem + ".resaved.json";
  args.push_back("--save");
  args.push_back(saved);
  Result r = RunLoom(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, ReadFile(Data("expected/" + stem + ".inspect.json")));
  EXPECT_EQ(ReadFile(saved), ReadFile(Data("expected/" + stem + ".resaved.json")));
}

INSTANTIATE_TEST_SUITE_P(
    Interop, InspectModel,
    ::testing::Values(
        Model{"sagemaker-linreg-mxnet0.11.json", {"data=1,2"}},
        Model{"go-predictor-reshape-fc-mxnet0.9.4.json", {"data=1,10", "softmax_label=1,10"}},
        Model{"clojure-mnist-mlp-mxnet1.4.json", {"data=10,784"}},
        Model{"sagemaker-mnist-mlp-flatten-mxnet1.8.json", {"data=100,1,28,28"}},
        Model{"lstm-ptb-fused-rnn-mxnet0.11.json", {"data=60,1", "softmax_label=60,1"}},
        Model{"legacy-mlp-batchnorm-ctxgroup-v0.8.json", {"data=1,200"}},
        Model{"mtcnn-det1-pnet-v0.8.json", {"data=1,3,12,12"}},
        Model{"vgg16-reduced-ssd-base-mxnet1.2.json", {"data=32,3,300,300"}},
        Model{"squeezenet-v1.1-v0.8.json", {"data=1,3,224,224"}},
        Model{"densenet-121-mxnet0.11.1.json", {"data=1,3,224,224"}}),
    [](const auto& info) {
      std::string name = info.param.file;
      name = name.substr(0, name.size() - 5);
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(Inspect, TextOutputListsShapesAndDtypes) {
  Result r = RunLoom({"inspect", Data("clojure-mnist-mlp-mxnet1.4.json"), "--shape",
                      "data=10,784"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("arguments (8):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fc1_weight"), std::string::npos);
  EXPECT_NE(r.out.find("(128,784)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("float32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("outputs (1):"), std::string::npos);
  EXPECT_NE(r.out.find("softmax_output"), std::string::npos);
  EXPECT_NE(r.out.find("auxiliary states (0):"), std::string::npos);
}

TEST(Inspect, UnknownShapesAreNull) {
  Result r = RunLoom({"inspect", Data("clojure-mnist-mlp-mxnet1.4.json"), "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("{\"arguments\":[{\"name\":\"data\",\"shape\":null,\"dtype\":\"float32\"}"),
            0u) << r.out;
  Result text = RunLoom({"inspect", Data("clojure-mnist-mlp-mxnet1.4.json")});
  EXPECT_NE(text.out.find("not inferred (give their shapes with --shape NAME=D1,D2,...): data "),
            std::string::npos) << text.out;
}

TEST(Inspect, DtypeOverridesPropagate) {
  Result r = RunLoom({"inspect", Data("clojure-mnist-mlp-mxnet1.4.json"), "--json", "--dtype",
                  "data=float16", "--shape=data=2,784"});
  ASSERT_NE(r.status, 0);  // FullyConnected needs one dtype for data and weight
  EXPECT_NE(r.err.find("fc1: FullyConnected input 'weight' ('fc1_weight') has dtype float32 but "
                       "the other inputs and outputs have float16"),
            std::string::npos) << r.err;
}

void ExpectFailure(const Result& r, const std::vector<std::string>& parts) {
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  for (const auto& part : parts) EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
}

TEST(Inspect, InconsistentShapesNameFileNodeOperatorAndBothShapes) {
  std::string file = Data("clojure-mnist-mlp-mxnet1.4.json");
  ExpectFailure(RunLoom({"inspect", file, "--shape", "data=10,784", "--shape", "fc2_weight=64,100"}),
                {file + ": fc2: FullyConnected input 'weight' ('fc2_weight') has shape (64,100) "
                        "but expected (64,128) from num_hidden=64 and data (10,128)"});
}

TEST(Inspect, MalformedJsonNamesFileAndPosition) {
  std::string path = WriteTemp("broken.json", "{\n  \"nodes\": [\n    {\"op\": \"null\",}\n");
  ExpectFailure(RunLoom({"inspect", path}), {path + ":3:19: expected a key in quotes but got '}'"});
}

TEST(Inspect, UnknownOperatorAndBadParameterNameTheNode) {
  std::string unknown = WriteTemp("unknown-op.json", R"({"nodes": [
    {"op": "null", "name": "data", "inputs": []},
    {"op": "Frobnicate", "name": "frob0", "inputs": [[0, 0, 0]]}],
    "arg_nodes": [0], "heads": [[1, 0, 0]]})");
  ExpectFailure(RunLoom({"inspect", unknown}), {unknown + ":3:12: node 1 ('frob0'): unknown operator "
                                                      "'Frobnicate'"});
  std::string bad = WriteTemp("bad-param.json", R"({"nodes": [
    {"op": "null", "name": "data", "inputs": []},
    {"op": "Activation", "name": "act", "attrs": {"act_type": "swish"}, "inputs": [[0, 0, 0]]}],
    "arg_nodes": [0], "heads": [[1, 0, 0]], "attrs": {"mxnet_version": ["int", 10901]}})");
  ExpectFailure(RunLoom({"inspect", bad}),
                {bad + ":3:5: node 'act' (Activation): parameter 'act_type' (enum): expected one "
                       "of {relu, sigmoid, tanh, softrelu, softsign} but got 'swish'"});
}

TEST(Inspect, UsageErrors) {
  ExpectFailure(RunLoom({"inspect"}), {"expected a model file"});
  ExpectFailure(RunLoom({"inspect", "m.json", "--bogus"}), {"unknown option '--bogus'"});
  ExpectFailure(RunLoom({"inspect", "m.json", "--shape", "data"}), {"--shape expects NAME=VALUE"});
  ExpectFailure(RunLoom({"inspect", "m.json", "--shape", "data=a,b"}),
                {"expected dimensions such as 1,3,224,224 but got 'a,b'"});
  ExpectFailure(RunLoom({"inspect", "m.json", "--dtype", "data=float128"}), {"float128"});
  ExpectFailure(RunLoom({"inspect", "/nonexistent/m.json"}), {"cannot open symbol file"});
  ExpectFailure(RunLoom({"inspect", Data("clojure-mnist-mlp-mxnet1.4.json"), "--shape", "dta=1,2"}),
                {"'dta' (given (1,2)) is not an argument or auxiliary state"});
  ExpectFailure(RunLoom({"frobnicate"}), {"unknown command 'frobnicate'"});
}

// --group2ctx on MXNet's save_000800.json (T13/T35's net: stage1 = data, fc1, relu1; stage2 =
// the rest): every node's device, the copy of relu1's output into stage2, memory per device.
TEST(InspectGroup2Ctx, TextShowsDevicesCopiesAndMemoryPerDevice) {
  Result r = RunLoom({"inspect", Data("legacy-mlp-batchnorm-ctxgroup-v0.8.json"), "--shape",
                      "data=1,200", "--group2ctx", "stage1=cpu(1),stage2=cpu(2)"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("placement (bound on cpu(0), group2ctx stage1=cpu(1) stage2=cpu(2)) for "
                       "inference:"),
            std::string::npos)
      << r.out;
  auto has_row = [&](const std::string& node, const std::string& op, const std::string& dev) {
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string n, o, d;
      if (words >> n >> o >> d && n == node && o == op && d == dev) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_row("data", "null", "cpu(1)")) << r.out;
  EXPECT_TRUE(has_row("fc1", "FullyConnected", "cpu(1)")) << r.out;
  EXPECT_TRUE(has_row("relu1", "Activation", "cpu(1)")) << r.out;
  EXPECT_TRUE(has_row("fc2", "FullyConnected", "cpu(2)")) << r.out;
  EXPECT_TRUE(has_row("batchnorm0_moving_mean", "null", "cpu(2)")) << r.out;
  EXPECT_TRUE(has_row("softmax", "SoftmaxOutput", "cpu(2)")) << r.out;
  EXPECT_TRUE(has_row("relu1_0_copy", "_CrossDeviceCopy", "cpu(2)")) << r.out;
  EXPECT_NE(r.out.find("cross-device copies (1):\n  relu1_0_copy cpu(1) -> cpu(2)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("memory per device:\n  cpu(1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n  cpu(2)"), std::string::npos) << r.out;

  // With --train: backward nodes follow their forward nodes, and relu1's gradient goes back.
  Result t = RunLoom({"inspect", Data("legacy-mlp-batchnorm-ctxgroup-v0.8.json"), "--shape",
                      "data=1,200", "--group2ctx=stage1=cpu(1),stage2=cpu(2)", "--train"});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("for training:"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find(" cpu(2) -> cpu(1) (backward)\n"), std::string::npos) << t.out;
}

TEST(InspectGroup2Ctx, JsonListsNodesCopiesAndMemory) {
  Result r = RunLoom({"inspect", Data("legacy-mlp-batchnorm-ctxgroup-v0.8.json"), "--json",
                      "--shape", "data=1,200", "--group2ctx", "stage1=cpu(1)", "--group2ctx",
                      "stage2=cpu(2)", "--ctx", "cpu(3)"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(",\"placement\":{\"ctx\":\"cpu(3)\",\"group2ctx\":{\"stage1\":\"cpu(1)\","
                       "\"stage2\":\"cpu(2)\"},\"nodes\":[{\"name\":\"data\",\"op\":\"null\","
                       "\"device\":\"cpu(1)\",\"backward\":false}"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"copies\":[{\"name\":\"relu1_0_copy\",\"from\":\"cpu(1)\",\"to\":"
                       "\"cpu(2)\"}]"),
            std::string::npos)
      << r.out;
  // fc1's output (1,128) float32 is planned on cpu(1): at least 512 bytes there.
  const size_t at = r.out.find("\"memory_per_device\":[{\"device\":\"cpu(1)\",\"nodes\":");
  ASSERT_NE(at, std::string::npos) << r.out;
  const size_t planned = r.out.find("\"planned_bytes\":", at);
  EXPECT_GE(std::stoul(r.out.substr(planned + 16)), 512u) << r.out;
  EXPECT_NE(r.out.find("{\"device\":\"cpu(2)\"", at), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("cpu(3)\",\"nodes"), std::string::npos) << "nothing runs on cpu(3)";
}

TEST(InspectGroup2Ctx, GroupsNoNodeUsesAreIgnoredWithAWarning) {
  Result r = RunLoom({"inspect", Data("legacy-mlp-batchnorm-ctxgroup-v0.8.json"), "--shape",
                      "data=1,200", "--group2ctx", "stage1=cpu(1),stage2=cpu(2),stage3=cpu(3)"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err,
            "loom inspect: warning: --group2ctx group 'stage3' is used by no node (ignored, as "
            "MXNet does)\n");
  EXPECT_EQ(r.out.find("cpu(3)\n"), std::string::npos) << r.out;
}

TEST(InspectGroup2Ctx, Errors) {
  const std::string file = Data("legacy-mlp-batchnorm-ctxgroup-v0.8.json");
  // A group used by the graph but missing from the map names the node and the group.
  ExpectFailure(RunLoom({"inspect", file, "--shape", "data=1,200", "--group2ctx", "stage1=cpu(1)"}),
                {file + ": ", "group 'stage2' of ", "'fc2_weight'",
                 "has no device in group2ctx; the groups given are: stage1=cpu(1)"});
  ExpectFailure(RunLoom({"inspect", file, "--shape", "data=1,200", "--group2ctx",
                         "stage1=tpu(1),stage2=cpu(2)"}),
                {"--group2ctx stage1: expected a device such as cpu(1) or gpu(0) but got "
                 "'tpu(1)'"});
  ExpectFailure(RunLoom({"inspect", file, "--group2ctx", "stage1=cpu(one)"}),
                {"but got 'cpu(one)'"});
  ExpectFailure(RunLoom({"inspect", file, "--group2ctx", "stage1="}),
                {"--group2ctx stage1: expected a device such as cpu(1) or gpu(0) but got nothing"});
  ExpectFailure(RunLoom({"inspect", file, "--group2ctx", "stage1"}),
                {"--group2ctx expects NAME=VALUE but got 'stage1'"});
  ExpectFailure(RunLoom({"inspect", file, "--group2ctx", "a=cpu(1),a=cpu(2)"}),
                {"--group2ctx: group 'a' is given twice"});
  ExpectFailure(RunLoom({"inspect", file, "--group2ctx"}), {"--group2ctx expects a value"});
  ExpectFailure(RunLoom({"inspect", file, "--ctx", "cpu(1", "--group2ctx", "stage1=cpu(1)"}),
                {"--ctx: expected a device such as cpu(1) or gpu(0) but got 'cpu(1'"});
  ExpectFailure(RunLoom({"inspect", file, "--group2ctx", "stage1=cpu(1),stage2=cpu(2)"}),
                {file + ": --group2ctx needs every shape to plan memory, but these are not "
                        "inferred: data"});
}

TEST(Ops, ListsAndDescribesOperators) {
  Result all = RunLoom({"ops"});
  ASSERT_EQ(all.status, 0);
  EXPECT_NE(all.out.find("SoftmaxOutput Softmax\n"), std::string::npos) << all.out;
  Result one = RunLoom({"ops", "Convolution"});
  ASSERT_EQ(one.status, 0);
  EXPECT_NE(one.out.find("kernel : Shape(tuple), required"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("num_group : int, default=1"), std::string::npos) << one.out;
  ExpectFailure(RunLoom({"ops", "Nope"}), {"unknown operator 'Nope'"});
}

}  // namespace
}  // namespace loom
