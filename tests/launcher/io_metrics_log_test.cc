// metrics.jsonl: exact lines (number formats, null for NaN/Inf, string escapes), valid JSON by an
// independent parser, appending across writers, and each line on disk as soon as Write returns.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io_test_util.h"
#include "loom/core/json.h"
#include "loom/scheduler/error.h"
#include "loom/train/metrics_log.h"

namespace loom::train {
namespace {

using ::testing::HasSubstr;
using testing::RawRead;
using testing::ScratchDir;

TEST(IoMetricsLog, NumbersAreIntegersShortestDecimalsOrNull) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(MetricsJsonLine({{"epoch", 3}, {"update", 469}, {"neg", -12}, {"zero", -0.0}}),
            R"({"epoch":3,"update":469,"neg":-12,"zero":0})");
  EXPECT_EQ(MetricsJsonLine({{"acc", 0.8512}, {"lr", 0.1}, {"tiny", 1e-7}, {"third", 1.0 / 3}}),
            R"({"acc":0.8512,"lr":0.1,"tiny":1e-07,"third":0.3333333333333333})");
  EXPECT_EQ(MetricsJsonLine({{"big", 1e20}, {"max_exact", 9007199254740992.0}}),
            R"({"big":1e+20,"max_exact":9007199254740992})");
  EXPECT_EQ(MetricsJsonLine({{"loss", std::nan("")}, {"p", inf}, {"n", -inf}}),
            R"({"loss":null,"p":null,"n":null})");
  EXPECT_EQ(MetricsJsonLine({}), "{}");
}

TEST(IoMetricsLog, TagsComeFirstAndStringsAreEscaped) {
  const std::string line = MetricsJsonLine(
      {{"v", 1}}, {{"phase", "train"}, {"note", "a \"quoted\" back\\slash\nnew\ttab\x01 é"}});
  EXPECT_EQ(line, R"({"phase":"train","note":"a \"quoted\" back\\slash\nnew\ttab\u0001 é","v":1})");
  const JsonValue parsed = ParseJson(line, "line");
  EXPECT_EQ(parsed.Get("note").AsString(), "a \"quoted\" back\\slash\nnew\ttab\x01 é");
  EXPECT_EQ(parsed.Get("v").AsInt(), 1);
  EXPECT_EQ(MetricsJsonLine({{"we\"ird key", 2}}), R"({"we\"ird key":2})");
}

TEST(IoMetricsLog, AppendsOneFlushedLinePerWrite) {
  ScratchDir dir;
  const std::string path = dir / "metrics.jsonl";
  {
    MetricsLog log(path);
    log.Write({{"epoch", 1}, {"train_accuracy", 0.5}}, {{"phase", "train"}});
    // On disk before the log is closed.
    EXPECT_EQ(RawRead(path), "{\"phase\":\"train\",\"epoch\":1,\"train_accuracy\":0.5}\n");
    log.Write({{"epoch", 1}, {"val_accuracy", std::nan("")}}, {{"phase", "val"}});
  }
  MetricsLog again(path);  // a resumed run appends
  again.Write({{"epoch", 2}});
  const std::string text = RawRead(path);
  EXPECT_EQ(text,
            "{\"phase\":\"train\",\"epoch\":1,\"train_accuracy\":0.5}\n"
            "{\"phase\":\"val\",\"epoch\":1,\"val_accuracy\":null}\n"
            "{\"epoch\":2}\n");
  size_t start = 0;
  int lines = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1, ++lines) {
    EXPECT_EQ(ParseJson(text.substr(start, end - start), "metrics.jsonl").kind(),
              JsonValue::Kind::kObject);
  }
  EXPECT_EQ(lines, 3);
}

TEST(IoMetricsLog, UnopenablePathIsIoErrorNamingIt) {
  ScratchDir dir;
  EXPECT_THAT([&] { MetricsLog log(dir / "missing/metrics.jsonl"); },
              ::testing::ThrowsMessage<IoError>(HasSubstr(dir / "missing/metrics.jsonl")));
}

}  // namespace
}  // namespace loom::train
