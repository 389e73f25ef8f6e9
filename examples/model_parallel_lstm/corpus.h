// The language model's data: fortune files read into lines, word-level tokens, a vocabulary built
// from the training split, and time-major batches bucketed by sentence length (MXNet's
// BucketSentenceIter for the model-parallel LSTM example, on Debian's fortune files).
//
//   auto fortunes = loom::lm::ReadFortunes({"/usr/share/games/fortunes/fortunes"});
//   loom::lm::Split split = loom::lm::SplitFortunes(fortunes, /*val_every=*/10);
//   loom::lm::Vocab vocab = loom::lm::Vocab::Build(split.train, /*min_count=*/2);
//   auto train = loom::lm::Encode(split.train, vocab);      // one id sequence per sentence
//   std::mt19937_64 rng(0);
//   loom::lm::BatchPlan plan = loom::lm::MakeBatches(train, {8, 16, 24, 32}, 20, &rng);
//   // plan.batches[i].data / .label: (bucket, batch) time-major ids, 0 = padding
//
// A fortune file holds fortunes separated by lines that are exactly "%". Every non-empty line of
// a fortune is one sentence. Tokens are lower-cased words; punctuation at either end of a word is
// split off (a run of one character, "--" or "...", stays one token); apostrophes and hyphens
// inside a word stay. Ids: 0 <pad>, 1 <unk>, 2 <eos>, then the words by falling count (ties in
// byte order). A sentence of n words becomes the input <eos> w1 .. wn and the label w1 .. wn <eos>
// (length n + 1), so every word and the sentence end are predicted.
//
// Everything here is a pure function of its arguments (and the rng's state); no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace loom::lm {

/// One fortune: its lines (trailing whitespace removed, empty lines kept out) and where it
/// starts.
struct Fortune {
  std::string file;
  int line = 0;  ///< 1-based line of its first line
  std::vector<std::string> lines;
};

/// Reads fortune files in order. @throws loom::IoError naming the path when a file cannot be
/// read; loom::DataError naming the path when a file holds no fortune.
std::vector<Fortune> ReadFortunes(const std::vector<std::string>& paths);

/// Splits one line into tokens (see the file comment).
std::vector<std::string> Tokenize(std::string_view line);

/// Sentences as token lists, split by fortune: every val_every-th fortune (the 10th, 20th, ...
/// for val_every 10) goes to validation, the rest to training, so no fortune is in both.
struct Split {
  std::vector<std::vector<std::string>> train;
  std::vector<std::vector<std::string>> val;
};
/// @throws loom::Error for val_every < 2.
Split SplitFortunes(const std::vector<Fortune>& fortunes, int val_every);

class Vocab {
 public:
  static constexpr int kPad = 0;
  static constexpr int kUnk = 1;
  static constexpr int kEos = 2;

  /// Words seen at least min_count times in `sentences` (min_count >= 1).
  static Vocab Build(const std::vector<std::vector<std::string>>& sentences, int min_count);

  /// The word's id, kUnk for words not in the vocabulary.
  int Id(std::string_view word) const;
  const std::string& Word(int id) const;
  int64_t size() const { return static_cast<int64_t>(words_.size()); }

 private:
  std::vector<std::string> words_;
  std::map<std::string, int, std::less<>> ids_;
};

/// Each sentence as ids with <eos> appended (w1 .. wn <eos>).
std::vector<std::vector<int>> Encode(const std::vector<std::vector<std::string>>& sentences,
                                     const Vocab& vocab);

/// One batch of one bucket, time-major: data and label hold seq_len * batch_size ids, element
/// (t, b) at t * batch_size + b; padding (positions past a sentence's end and whole empty rows of
/// a bucket's last batch) is Vocab::kPad in both.
struct Batch {
  int64_t seq_len = 0;
  int64_t batch_size = 0;
  std::vector<float> data;
  std::vector<float> label;
  int64_t num_sentences = 0;  ///< rows holding a sentence
  int64_t num_tokens = 0;     ///< labels that are not padding
};

struct BatchPlan {
  std::vector<Batch> batches;
  int64_t discarded = 0;  ///< sentences longer than the largest bucket (left out)
};

/// Sorts each encoded sentence (w1 .. wn <eos>) into the smallest bucket that holds it and cuts
/// each bucket into batches of batch_size sentences (the last one padded with empty rows). With an
/// rng, sentences are shuffled within their buckets and the batches shuffled; without, they keep
/// their order and the batches go bucket by bucket. Buckets must be increasing and positive.
/// @throws loom::Error for bad buckets or batch_size.
BatchPlan MakeBatches(const std::vector<std::vector<int>>& sentences,
                      const std::vector<int64_t>& buckets, int64_t batch_size,
                      std::mt19937_64* rng);

}  // namespace loom::lm
