// The model-parallel LSTM example's data path (examples/model_parallel_lstm/corpus.h): fortune
// files, tokens, the split, the vocabulary and bucketed time-major batches, on the fixture
// tests/data/lm/small_fortunes.txt with hand-derived expectations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "corpus.h"
#include "loom/scheduler/error.h"

namespace loom::lm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kSmall = std::string(LOOM_TEST_DATA_DIR) + "/lm/small_fortunes.txt";

using Sentences = std::vector<std::vector<std::string>>;

TEST(LmCorpus, TokenizeSplitsPunctuationOffWordsAndLowercases) {
  EXPECT_THAT(
      Tokenize("Hello, World!  It's a \"test\" -- ok..."),
      ElementsAre("hello", ",", "world", "!", "it's", "a", "\"", "test", "\"", "--", "ok", "..."));
  EXPECT_THAT(Tokenize("\t\t-- Mark Twain, \"The Disappearance\""),
              ElementsAre("--", "mark", "twain", ",", "\"", "the", "disappearance", "\""));
  EXPECT_THAT(Tokenize("(well-known).\""), ElementsAre("(", "well-known", ")", ".", "\""));
  EXPECT_THAT(Tokenize("   "), ElementsAre());
}

TEST(LmCorpus, ReadsFortunesSeparatedByPercentLines) {
  const std::vector<Fortune> f = ReadFortunes({kSmall});
  ASSERT_EQ(f.size(), 6u);
  EXPECT_THAT(f[0].lines, ElementsAre("The cat sat on the mat.", "The dog sat on the log."));
  EXPECT_EQ(f[0].line, 1);
  EXPECT_THAT(f[1].lines, ElementsAre("\tA cat is not a dog.", "\t\t-- Anon"));
  EXPECT_EQ(f[1].line, 4);
  EXPECT_THAT(f[2].lines, ElementsAre("The mat is on the floor..."));  // the blank line skipped
  EXPECT_EQ(f[2].line, 8);
  EXPECT_EQ(f[5].file, kSmall);
  // Several files are read in order.
  EXPECT_EQ(ReadFortunes({kSmall, kSmall}).size(), 12u);
}

TEST(LmCorpus, FileErrorsNameThePath) {
  try {
    ReadFortunes({"/nonexistent/fortunes"});
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'/nonexistent/fortunes'"));
  }
  const std::string empty = std::string(LOOM_TEST_DATA_DIR) + "/lm/empty_fortunes.txt";
  try {
    ReadFortunes({empty});
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr(empty));
    EXPECT_THAT(e.what(), HasSubstr("holds no fortune"));
  }
}

TEST(LmCorpus, EveryNthFortuneIsValidation) {
  const Split s = SplitFortunes(ReadFortunes({kSmall}), 3);
  // Fortunes 3 and 6 (of 6) go to validation; fortune 2 has two lines, one of them "-- Anon".
  ASSERT_EQ(s.train.size(), 6u);
  ASSERT_EQ(s.val.size(), 2u);
  EXPECT_THAT(s.val[0], ElementsAre("the", "mat", "is", "on", "the", "floor", "..."));
  EXPECT_THAT(s.val[1], ElementsAre("is", "the", "cat", "on", "the", "mat", "?"));
  EXPECT_THAT(s.train[3], ElementsAre("--", "anon"));
  EXPECT_THROW(SplitFortunes({}, 1), Error);
}

TEST(LmCorpus, VocabularyFromTrainingCountsWithUnk) {
  const Split s = SplitFortunes(ReadFortunes({kSmall}), 3);
  const Vocab v = Vocab::Build(s.train, 2);
  // Counts in the training part: a 5, the 5, . 4, cat 3, dog 3, then 2 each for " , is log mat on
  // sat; falling count, ties in byte order, after <pad> <unk> <eos>.
  const std::vector<std::string> expected = {"<pad>", "<unk>", "<eos>", "a",  "the",
                                             ".",     "cat",   "dog",   "\"", ",",
                                             "is",    "log",   "mat",   "on", "sat"};
  ASSERT_EQ(v.size(), static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(v.Word(static_cast<int>(i)), expected[i]);
  EXPECT_EQ(v.Id("the"), 4);
  EXPECT_EQ(v.Id("anon"), Vocab::kUnk);            // seen once
  EXPECT_EQ(v.Id("floor"), Vocab::kUnk);           // validation only
  EXPECT_EQ(Vocab::Build(s.train, 1).size(), 20);  // + not -- anon ! old
  EXPECT_THAT(Encode(s.val, v)[1], ElementsAre(10, 4, 6, 13, 4, 12, 1, 2));
}

TEST(LmCorpus, BatchesAreTimeMajorAndPadded) {
  const Split s = SplitFortunes(ReadFortunes({kSmall}), 3);
  const auto val = Encode(s.val, Vocab::Build(s.train, 2));
  const BatchPlan plan = MakeBatches(val, {4, 8}, 3, nullptr);
  EXPECT_EQ(plan.discarded, 0);
  ASSERT_EQ(plan.batches.size(), 1u);
  const Batch& b = plan.batches[0];
  EXPECT_EQ(b.seq_len, 8);
  EXPECT_EQ(b.batch_size, 3);
  EXPECT_EQ(b.num_sentences, 2);
  EXPECT_EQ(b.num_tokens, 16);
  auto column = [](const std::vector<float>& v, int r) {
    std::vector<int> out;
    for (int t = 0; t < 8; ++t) out.push_back(static_cast<int>(v[static_cast<size_t>(t * 3 + r)]));
    return out;
  };
  // Input <eos> w1 .. wn, label w1 .. wn <eos>; the third row is padding.
  EXPECT_THAT(column(b.data, 0), ElementsAre(2, 4, 12, 10, 13, 4, 1, 1));
  EXPECT_THAT(column(b.label, 0), ElementsAre(4, 12, 10, 13, 4, 1, 1, 2));
  EXPECT_THAT(column(b.data, 1), ElementsAre(2, 10, 4, 6, 13, 4, 12, 1));
  EXPECT_THAT(column(b.label, 1), ElementsAre(10, 4, 6, 13, 4, 12, 1, 2));
  EXPECT_THAT(column(b.label, 2), ElementsAre(0, 0, 0, 0, 0, 0, 0, 0));

  // Sentences longer than the largest bucket are left out and counted.
  const BatchPlan short_plan = MakeBatches(val, {4, 7}, 3, nullptr);
  EXPECT_EQ(short_plan.discarded, 2);
  EXPECT_TRUE(short_plan.batches.empty());
  EXPECT_THROW(MakeBatches(val, {8, 4}, 3, nullptr), Error);
  EXPECT_THROW(MakeBatches(val, {8}, 0, nullptr), Error);
}

TEST(LmCorpus, ShuffledBatchesHoldEverySentenceOnceInTheSmallestBucket) {
  std::vector<std::vector<int>> sentences;
  for (int n = 1; n <= 40; ++n) {
    sentences.push_back(std::vector<int>(static_cast<size_t>(n % 13 + 1), n + 2));
  }
  std::mt19937_64 rng(5);
  const BatchPlan plan = MakeBatches(sentences, {4, 8, 16}, 4, &rng);
  std::vector<int> seen;
  for (const Batch& b : plan.batches) {
    int64_t sentences_in_batch = 0;
    for (int64_t r = 0; r < b.batch_size; ++r) {
      const int first = static_cast<int>(b.label[static_cast<size_t>(r)]);
      if (first == 0) continue;
      ++sentences_in_batch;
      const int n = first - 2;  // sentence n: n % 13 + 1 tokens, each n + 2
      seen.push_back(n);
      const int len = n % 13 + 1;
      // The smallest bucket that holds the sentence.
      EXPECT_EQ(b.seq_len, len <= 4 ? 4 : len <= 8 ? 8 : 16) << "sentence " << n;
    }
    EXPECT_EQ(sentences_in_batch, b.num_sentences);
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int> all(40);
  for (int i = 0; i < 40; ++i) all[static_cast<size_t>(i)] = i + 1;
  EXPECT_EQ(seen, all);
}

}  // namespace
}  // namespace loom::lm
