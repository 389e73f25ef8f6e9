// Parameter parsing in every string style MXNet wrote, Python-style rendering, and the registry.
#include <gtest/gtest.h>

#include "loom/core/op_param.h"
#include "loom/core/operator.h"

namespace loom {
namespace {

enum class Mode { kA, kB };

struct TestParam {
  int64_t count = 0;
  bool flag = false;
  double rate = 0.5;
  Shape kernel;
  std::optional<int> axis;
  Mode mode = Mode::kA;
  std::optional<Mode> maybe_mode;
  DType dtype = DType::kFloat32;
  std::vector<std::optional<int64_t>> begin;
  static void Declare(ParamDeclarer<TestParam>& d) {
    d("count", &TestParam::count).Min(1).Describe("required");
    d("flag", &TestParam::flag).Default(false).Describe("bool");
    d("rate", &TestParam::rate).Default(0.5).Min(0).Max(1).Describe("float");
    d("kernel", &TestParam::kernel).Default(Shape{}).Describe("tuple");
    d("axis", &TestParam::axis).Default(std::nullopt).Describe("optional int");
    d("mode", &TestParam::mode).Default(Mode::kA).Enum<Mode>({{"a", Mode::kA}, {"b", Mode::kB}})
        .Describe("enum");
    d("maybe_mode", &TestParam::maybe_mode).Default(std::nullopt)
        .Enum<Mode>({{"a", Mode::kA}, {"b", Mode::kB}}).Describe("optional enum");
    d("dtype", &TestParam::dtype).Default(DType::kFloat32).Describe("dtype");
    d("begin", &TestParam::begin).Default({}).Describe("tuple of optional ints");
  }
};

TestParam Parse(const StrMap& dict) {
  return std::any_cast<TestParam>(ParamSchema::Of<TestParam>().Parse(dict));
}

TEST(OpParam, ParsesEveryMXNetStyle) {
  TestParam p = Parse({{"count", "8L"}, {"flag", "True"}, {"rate", "1e-3"},
                       {"kernel", "(8L, 3L)"}, {"axis", "-1"}, {"mode", "b"},
                       {"maybe_mode", "None"}, {"dtype", "float16"}, {"begin", "(0, None, -2)"}});
  EXPECT_EQ(p.count, 8);
  EXPECT_TRUE(p.flag);
  EXPECT_DOUBLE_EQ(p.rate, 0.001);
  EXPECT_EQ(p.kernel, (Shape{8, 3}));
  EXPECT_EQ(p.axis, -1);
  EXPECT_EQ(p.mode, Mode::kB);
  EXPECT_FALSE(p.maybe_mode.has_value());
  EXPECT_EQ(p.dtype, DType::kFloat16);
  EXPECT_EQ(p.begin, (std::vector<std::optional<int64_t>>{0, std::nullopt, -2}));
  for (const char* text : {"true", "1", "True"}) EXPECT_TRUE(Parse({{"count", "1"}, {"flag", text}}).flag);
  for (const char* text : {"false", "0", "False"}) EXPECT_FALSE(Parse({{"count", "1"}, {"flag", text}}).flag);
  EXPECT_EQ(Parse({{"count", "1"}, {"kernel", "(3, 3)"}}).kernel, (Shape{3, 3}));
  EXPECT_EQ(Parse({{"count", "1"}, {"kernel", "(3,3)"}}).kernel, (Shape{3, 3}));
  EXPECT_EQ(Parse({{"count", "1"}, {"kernel", "[3,3]"}}).kernel, (Shape{3, 3}));
  EXPECT_EQ(Parse({{"count", "1"}, {"kernel", "(-1)"}}).kernel, (Shape{-1}));
  EXPECT_EQ(Parse({{"count", "1"}, {"kernel", "(5,)"}}).kernel, (Shape{5}));
  EXPECT_EQ(Parse({{"count", "1"}, {"kernel", "()"}}).kernel, (Shape{}));
  EXPECT_EQ(Parse({{"count", "1"}, {"dtype", "2"}}).dtype, DType::kFloat16);  // type code
  EXPECT_EQ(Parse({{"count", "1"}, {"maybe_mode", "a"}}).maybe_mode, Mode::kA);
}

TEST(OpParam, DefaultsApplyAndRequiredFieldsAreChecked) {
  TestParam p = Parse({{"count", "2"}, {"unrelated_attribute", "x"}});
  EXPECT_FALSE(p.flag);
  EXPECT_DOUBLE_EQ(p.rate, 0.5);
  EXPECT_FALSE(p.axis.has_value());
  try {
    Parse({});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("required parameter 'count' is missing"),
              std::string::npos);
  }
}

TEST(OpParam, ErrorsNameParameterTypeAndText) {
  auto message = [](const StrMap& dict) {
    try {
      Parse(dict);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"count", "abc"}}).find("parameter 'count' (int): expected an int but got 'abc'"),
            std::string::npos);
  EXPECT_NE(message({{"count", "0"}}).find("expected a value >= 1 but got '0'"), std::string::npos);
  EXPECT_NE(message({{"count", "1"}, {"rate", "2"}}).find("expected a value <= 1"),
            std::string::npos);
  EXPECT_NE(message({{"count", "1"}, {"flag", "yes"}}).find("expected a boolean"),
            std::string::npos);
  EXPECT_NE(message({{"count", "1"}, {"mode", "c"}}).find("expected one of {a, b} but got 'c'"),
            std::string::npos);
  EXPECT_NE(message({{"count", "1"}, {"kernel", "(3,"}}).find("expected a shape"),
            std::string::npos);
  EXPECT_NE(message({{"count", "1"}, {"dtype", "float128"}}).find("float128"), std::string::npos);
}

TEST(OpParam, SchemaListsFieldsWithDefaults) {
  ParamSchema s = ParamSchema::Of<TestParam>();
  ASSERT_EQ(s.fields().size(), 9u);
  EXPECT_EQ(s.fields()[0].default_text, "required");
  EXPECT_EQ(s.fields()[1].default_text, "False");
  EXPECT_EQ(s.fields()[2].default_text, "0.5");
  EXPECT_EQ(s.fields()[3].default_text, "()");
  EXPECT_EQ(s.fields()[4].default_text, "None");
  EXPECT_EQ(s.fields()[5].default_text, "a");
  EXPECT_EQ(s.fields()[5].type, "enum");
  EXPECT_TRUE(s.Has("kernel"));
  EXPECT_FALSE(s.Has("kernels"));
}

TEST(OpParam, FormatsLikePython) {
  // Python's str() of the values, which MXNet's front end writes into symbol files.
  EXPECT_EQ(FormatParam(true), "True");
  EXPECT_EQ(FormatParam(int64_t{128}), "128");
  EXPECT_EQ(FormatParam(1.0), "1.0");
  EXPECT_EQ(FormatParam(0.5), "0.5");
  EXPECT_EQ(FormatParam(0.001), "0.001");
  EXPECT_EQ(FormatParam(0.0001), "0.0001");
  EXPECT_EQ(FormatParam(1e-5), "1e-05");
  EXPECT_EQ(FormatParam(-1.0), "-1.0");
  EXPECT_EQ(FormatParam(1e16), "1e+16");
  EXPECT_EQ(FormatParam(123456789012345.0), "123456789012345.0");
  EXPECT_EQ(FormatParam(2.5e-7), "2.5e-07");
  EXPECT_EQ(FormatParam(Shape{3, 3}), "(3, 3)");
  EXPECT_EQ(FormatParam(Shape{5}), "(5,)");
  EXPECT_EQ(FormatParam(Shape{}), "()");
  EXPECT_EQ(FormatParam(DType::kFloat16), "float16");
}

TEST(OpRegistry, DuplicateNamesAndAliasesFailLoudly) {
  OpRegistry& reg = OpRegistry::Global();
  reg.Register("_test_registry_op", "here.cc", 1).Describe("test").Alias("_test_registry_alias");
  EXPECT_EQ(&reg.Get("_test_registry_alias"), &reg.Get("_test_registry_op"));
  try {
    reg.Register("_test_registry_op", "there.cc", 2);
    FAIL();
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("registered twice"), std::string::npos);
    EXPECT_NE(what.find("there.cc:2"), std::string::npos);
    EXPECT_NE(what.find("here.cc:1"), std::string::npos);
  }
  EXPECT_THROW(reg.Register("_test_registry_op2", "x.cc", 3).Alias("_test_registry_op"), Error);
  EXPECT_EQ(reg.Find("_no_such_op"), nullptr);
}

TEST(OpRegistry, ShapeMergeFollowsMXNetUnknowns) {
  Shape a{0, 10};
  EXPECT_TRUE(MergeShape(&a, Shape{12, 0}));
  EXPECT_EQ(a, (Shape{12, 10}));
  Shape b;
  EXPECT_TRUE(MergeShape(&b, Shape{2, 3}));
  EXPECT_EQ(b, (Shape{2, 3}));
  EXPECT_FALSE(MergeShape(&b, Shape{2, 4}));
  EXPECT_FALSE(MergeShape(&b, Shape{2, 3, 1}));
  DType t = DType::kUnknown;
  EXPECT_TRUE(MergeType(&t, DType::kFloat16));
  EXPECT_FALSE(MergeType(&t, DType::kFloat32));
}

}  // namespace
}  // namespace loom
