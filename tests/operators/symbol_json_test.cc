// Symbol files: MXNet 1.9's exact format, round trips, legacy upgrades and malformed input.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "loom/core/attr_scope.h"
#include "loom/core/name_manager.h"
#include "loom/core/operator.h"
#include "loom/core/symbol.h"
#include "loom/operators/symbol_ops.h"

namespace loom {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Data(const std::string& name) { return std::string(LOOM_TEST_DATA_DIR) + "/" + name; }

// What fails when loading `json`: the error message (first line).
std::string LoadError(const std::string& json) {
  try {
    Symbol::FromJSON(json, "bad.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(SymbolJSON, WritesMXNetFormatExactly) {
  // MXNet 1.9.1's tojson() of this symbol (test_attr.py's Convolution), verbatim.
  NameScope names;
  Symbol data = Symbol::Variable("data", {.attr = {{"mood", "angry"}}});
  Symbol conv = op::Convolution(data, {.kernel = Shape{1, 1}, .num_filter = 1,
                                       .attr = {{"__mood__", "so so"}, {"wd_mult", "x"}}}, "conv");
  const char* expected = R"json({
  "nodes": [
    {
      "op": "null", 
      "name": "data", 
      "attrs": {"mood": "angry"}, 
      "inputs": []
    }, 
    {
      "op": "null", 
      "name": "conv_weight", 
      "attrs": {
        "__mood__": "so so", 
        "__wd_mult__": "x", 
        "kernel": "(1, 1)", 
        "num_filter": "1"
      }, 
      "inputs": []
    }, 
    {
      "op": "null", 
      "name": "conv_bias", 
      "attrs": {
        "__mood__": "so so", 
        "__wd_mult__": "x", 
        "kernel": "(1, 1)", 
        "num_filter": "1"
      }, 
      "inputs": []
    }, 
    {
      "op": "Convolution", 
      "name": "conv", 
      "attrs": {
        "__mood__": "so so", 
        "__wd_mult__": "x", 
        "kernel": "(1, 1)", 
        "num_filter": "1"
      }, 
      "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]
    }
  ], 
  "arg_nodes": [0, 1, 2], 
  "node_row_ptr": [0, 1, 2, 3, 4], 
  "heads": [[3, 0, 0]], 
  "attrs": {"mxnet_version": ["int", 10901]}
})json";
  EXPECT_EQ(conv.ToJSON(), expected);
}

TEST(SymbolJSON, ScalarArithmeticAndGroupsAsMXNetWritesThem) {
  NameScope names;
  Symbol a = Symbol::Variable("a");
  Symbol g = Symbol::Group({a, a * 2});
  const char* expected = R"json({
  "nodes": [
    {
      "op": "null", 
      "name": "a", 
      "inputs": []
    }, 
    {
      "op": "_mul_scalar", 
      "name": "_mulscalar0", 
      "attrs": {"scalar": "2"}, 
      "inputs": [[0, 0, 0]]
    }
  ], 
  "arg_nodes": [0], 
  "node_row_ptr": [0, 1, 2], 
  "heads": [[0, 0, 0], [1, 0, 0]], 
  "attrs": {"mxnet_version": ["int", 10901]}
})json";
  EXPECT_EQ(g.ToJSON(), expected);
  // The names and scalars MXNet 1.9.1 gives to each overloaded operator.
  Symbol b = Symbol::Variable("b");
  EXPECT_EQ((a + b).name(), "_plus0");
  EXPECT_EQ((a - b).name(), "_minus0");
  EXPECT_EQ((a / b).name(), "_div0");
  EXPECT_EQ((a + 1).name(), "_plusscalar0");
  EXPECT_EQ((1 + a).name(), "_plusscalar1");
  EXPECT_EQ((1 - a).name(), "_rminusscalar0");
  EXPECT_EQ((2 / a).name(), "_rdivscalar0");
  EXPECT_EQ((a * 2.5).Attr("scalar"), "2.5");
  EXPECT_EQ((-a).Attr("scalar"), "-1.0");
  EXPECT_EQ((a + b).Attr("op_name"), "elemwise_add");
}

TEST(SymbolJSON, MXNet14FileRoundTripsByteForByte) {
  std::string original = ReadFile(Data("mxnet-json/clojure-mnist-mlp-mxnet1.4.json"));
  std::string resaved = Symbol::FromJSON(original).ToJSON();
  std::string expected = original;
  expected.replace(expected.find("10400"), 5, "10901");
  EXPECT_EQ(resaved, expected);
  EXPECT_EQ(resaved, ReadFile(Data("mxnet-json/expected/clojure-mnist-mlp-mxnet1.4.resaved.json")));
}

// A variadic operator for this test only (Concat's layout, without its shape rules).
LOOM_REGISTER_OP(_test_json_variadic).Describe("test").VariadicInputs("num_args");

TEST(SymbolJSON, LongInputListsAreMultiLine) {
  // As MXNet 1.9.1 writes Concat(*[a] * 11): more than 10 entries, one per line.
  NameScope names;
  Symbol a = Symbol::Variable("a");
  Symbol s = Symbol::Op("_test_json_variadic").Inputs(std::vector<Symbol>(11, a));
  std::string entries;
  for (int i = 0; i < 11; ++i) entries += std::string(i ? ", " : "") + "\n        [0, 0, 0]";
  std::string expected = R"json({
  "nodes": [
    {
      "op": "null", 
      "name": "a", 
      "inputs": []
    }, 
    {
      "op": "_test_json_variadic", 
      "name": "_test_json_variadic0", 
      "attrs": {"num_args": "11"}, 
      "inputs": [)json" + entries + R"json(
      ]
    }
  ], 
  "arg_nodes": [0], 
  "node_row_ptr": [0, 1, 2], 
  "heads": [[1, 0, 0]], 
  "attrs": {"mxnet_version": ["int", 10901]}
})json";
  EXPECT_EQ(s.ToJSON(), expected);
  EXPECT_EQ(Symbol::FromJSON(expected).ToJSON(), expected);
}

TEST(SymbolJSON, AttributesSurviveRoundTrips) {
  NameScope names;
  Symbol data = Symbol::Variable("data", {.shape = Shape{2, 3}, .dtype = DType::kFloat16,
                                          .lr_mult = 0.5, .init = R"(["zero", {}])"});
  Symbol fc;
  {
    AttrScope group({{"ctx_group", "stage1"}});
    fc = op::FullyConnected(data, {.num_hidden = 4, .attr = {{"weird \"key\"", "a\\b\nc"}}}, "fc");
  }
  Symbol back = Symbol::FromJSON(fc.ToJSON());
  EXPECT_EQ(back.ToJSON(), fc.ToJSON());
  EXPECT_EQ(back.AttrDict(), fc.AttrDict());
  EXPECT_EQ(back.Attr("ctx_group"), "stage1");
  EXPECT_EQ(back.GetInternals()["data"].Attr("__dtype__"), "2");
  EXPECT_EQ(back.GetInternals()["data"].Attr("__shape__"), "(2, 3)");
  // dmlc writes control characters raw; they must read back (found by the fuzzer).
  Symbol odd = Symbol::Variable("x\x0ey") + 1;
  EXPECT_EQ(Symbol::FromJSON(odd.ToJSON()).ToJSON(), odd.ToJSON());
}

TEST(SymbolJSON, ReadsOlderNodeKeys) {
  // 0.9-0.11 files use "attr"; inputs may have two elements; node_row_ptr is optional.
  const char* json = R"({"nodes": [
      {"op": "null", "name": "data", "inputs": []},
      {"op": "null", "name": "fc_weight", "attr": {"num_hidden": "3"}, "inputs": []},
      {"op": "FullyConnected", "name": "fc", "attr": {"num_hidden": "3", "no_bias": "True"},
       "inputs": [[0, 0], [1, 0]]}],
    "arg_nodes": [0, 1], "heads": [[2, 0]], "attrs": {"mxnet_version": ["int", 1100]}})";
  Symbol s = Symbol::FromJSON(json);
  EXPECT_EQ(s.ListArguments(), (std::vector<std::string>{"data", "fc_weight"}));
  EXPECT_EQ(s.InferShape({{"data", Shape{2, 5}}})->arguments[1], (Shape{3, 5}));
}

TEST(SymbolJSON, LegacyHiddenKeysAreUpgradedAsMXNetDoes) {
  // A 0.8 file (param/attr/backward_source_id): ctx_group and lr_mult become __ctx_group__ and
  // __lr_mult__, and an operator's weight_lr_mult moves to its weight variable (MXNet 1.9.1's
  // output checked with the oracle).
  const char* json = R"({"nodes": [
      {"op": "null", "param": {}, "name": "data", "inputs": [], "backward_source_id": -1,
       "attr": {"ctx_group": "stage1", "lr_mult": "0.2"}},
      {"op": "null", "param": {}, "name": "fc1_weight", "inputs": [], "backward_source_id": -1,
       "attr": {"ctx_group": "stage1", "wd_mult": "0.3", "weight_lr_mult": "1.2"}},
      {"op": "null", "param": {}, "name": "fc1_bias", "inputs": [], "backward_source_id": -1,
       "attr": {"ctx_group": "stage1", "wd_mult": "0.3", "weight_lr_mult": "1.2"}},
      {"op": "FullyConnected", "param": {"no_bias": "False", "num_hidden": "128"}, "name": "fc1",
       "inputs": [[0, 0], [1, 0], [2, 0]], "backward_source_id": -1,
       "attr": {"ctx_group": "stage1", "wd_mult": "0.3", "weight_lr_mult": "1.2"}}],
    "arg_nodes": [0, 1, 2], "heads": [[3, 0]]})";
  Symbol s = Symbol::FromJSON(json);
  // MXNet 1.9.1's attr_dict() of the loaded symbol.
  std::map<std::string, StrMap> expected = {
      {"data", {{"__ctx_group__", "stage1"}, {"ctx_group", "stage1"}, {"__lr_mult__", "0.2"},
                {"lr_mult", "0.2"}}},
      {"fc1_weight", {{"__lr_mult__", "1.2"}, {"lr_mult", "1.2"}, {"__ctx_group__", "stage1"},
                      {"ctx_group", "stage1"}, {"__wd_mult__", "0.3"}, {"wd_mult", "0.3"},
                      {"weight_lr_mult", "1.2"}}},
      {"fc1_bias", {{"__ctx_group__", "stage1"}, {"ctx_group", "stage1"}, {"__wd_mult__", "0.3"},
                    {"wd_mult", "0.3"}, {"weight_lr_mult", "1.2"}}},
      {"fc1", {{"__ctx_group__", "stage1"}, {"ctx_group", "stage1"}, {"__wd_mult__", "0.3"},
               {"wd_mult", "0.3"}, {"no_bias", "False"}, {"num_hidden", "128"}}}};
  EXPECT_EQ(s.AttrDict(), expected);
}

TEST(SymbolJSON, MalformedFilesGiveClearErrors) {
  auto has = [](const std::string& what, const std::string& part) {
    return what.find(part) != std::string::npos;
  };
  std::string e = LoadError("{\"nodes\": [}");
  EXPECT_TRUE(has(e, "bad.json:1:12: expected a value but got '}'")) << e;
  e = LoadError("{\"nodes\": []");
  EXPECT_TRUE(has(e, "bad.json:1:13: expected ',' or '}' but got the end of the input")) << e;
  e = LoadError(R"({"nodes": [], "arg_nodes": []})");
  EXPECT_TRUE(has(e, "expected key \"heads\"")) << e;
  e = LoadError(R"({"nodes": [{"op": "Foo", "name": "x", "inputs": []}], "arg_nodes": [],
                    "heads": [[0, 0, 0]]})");
  EXPECT_TRUE(has(e, "bad.json:1:19: node 0 ('x'): unknown operator 'Foo'")) << e;
  e = LoadError(R"({"nodes": [{"op": "null", "name": "x", "inputs": []},
      {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "ten"},
       "inputs": [[0, 0, 0]]}], "arg_nodes": [0], "heads": [[1, 0, 0]]})");
  EXPECT_TRUE(has(e, "node 'fc' (FullyConnected): parameter 'num_hidden' (int): expected an int "
                     "but got 'ten'")) << e;
  e = LoadError(R"({"nodes": [{"op": "null", "name": "x", "inputs": []},
      {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "2"},
       "inputs": [[0, 0, 0]]}], "arg_nodes": [0], "heads": [[1, 0, 0]],
       "attrs": {"mxnet_version": ["int", 10901]}})");
  EXPECT_TRUE(has(e, "node 'fc' (FullyConnected): expected 3 inputs (data, weight, bias) but got 1"))
      << e;
  e = LoadError(R"({"nodes": [{"op": "null", "name": "x", "inputs": [[1, 0, 0]]},
      {"op": "null", "name": "y", "inputs": []}], "arg_nodes": [0], "heads": [[0, 0, 0]]})");
  EXPECT_TRUE(has(e, "refers to node 1 but only nodes 0 to -1 come before it")) << e;
  e = LoadError(R"({"nodes": [{"op": "null", "name": "x", "inputs": []}], "arg_nodes": [0],
                    "heads": [[0, 1, 0]]})");
  EXPECT_TRUE(has(e, "heads read output 1 of node 'x', which has 1 output(s)")) << e;
  e = LoadError(R"({"nodes": [{"op": "null", "name": "x", "inputs": []}], "arg_nodes": [0],
                    "heads": [[0, 0, 0]], "extra": 1})");
  EXPECT_TRUE(has(e, "unknown key \"extra\" in the top level")) << e;
  e = LoadError(R"({"nodes": [{"op": "null", "name": "x", "inputs": [], "attrs": {"a": 1}}],
                    "arg_nodes": [0], "heads": [[0, 0, 0]]})");
  EXPECT_TRUE(has(e, "expected a string but got number")) << e;
  e = LoadError(std::string(300, '[') + std::string(300, ']'));
  EXPECT_TRUE(has(e, "expected at most 256 nested arrays and objects")) << e;
  e = LoadError(R"({"nodes": [{"op": "null", "name": "x", "inputs": []}], "arg_nodes": [0],
                    "heads": [[0, 0, 0]], "attrs": {"is_np_shape": ["int", 1]}})");
  EXPECT_TRUE(has(e, "NumPy shape semantics")) << e;
  EXPECT_THROW(Symbol::Load("/nonexistent/model.json"), Error);
}

}  // namespace
}  // namespace loom
