#include "corpus.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <utility>

#include "loom/scheduler/error.h"

namespace loom::lm {
namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
// ASCII punctuation; bytes of UTF-8 sequences count as word characters.
bool IsPunct(char c) { return std::ispunct(static_cast<unsigned char>(c)) != 0; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Length of the run of equal characters starting at s[i] (forwards) and ending at s[i]
// (backwards).
size_t RunForward(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size() && s[j] == s[i]) ++j;
  return j - i;
}
size_t RunBackward(std::string_view s, size_t i) {
  size_t j = i + 1;
  while (j > 0 && s[j - 1] == s[i]) --j;
  return i + 1 - j;
}

// One whitespace-free chunk: leading punctuation runs, the word, trailing punctuation runs.
void SplitChunk(std::string_view chunk, std::vector<std::string>* out) {
  size_t begin = 0;
  while (begin < chunk.size() && IsPunct(chunk[begin])) {
    const size_t n = RunForward(chunk, begin);
    out->emplace_back(chunk.substr(begin, n));
    begin += n;
  }
  std::vector<std::string> trailing;
  size_t end = chunk.size();
  while (end > begin && IsPunct(chunk[end - 1])) {
    const size_t n = std::min(RunBackward(chunk, end - 1), end - begin);
    trailing.emplace_back(chunk.substr(end - n, n));
    end -= n;
  }
  if (end > begin) out->push_back(Lower(chunk.substr(begin, end - begin)));
  out->insert(out->end(), trailing.rbegin(), trailing.rend());
}

}  // namespace

std::vector<Fortune> ReadFortunes(const std::vector<std::string>& paths) {
  std::vector<Fortune> fortunes;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot open the fortune file '" + path + "'");
    const size_t before = fortunes.size();
    Fortune current{path, 0, {}};
    std::string line;
    int number = 0;
    auto finish = [&] {
      if (!current.lines.empty()) fortunes.push_back(std::move(current));
      current = Fortune{path, 0, {}};
    };
    while (std::getline(in, line)) {
      ++number;
      while (!line.empty() && IsSpace(line.back())) line.pop_back();
      if (line == "%") {
        finish();
        continue;
      }
      if (std::all_of(line.begin(), line.end(), IsSpace)) continue;
      if (current.lines.empty()) current.line = number;
      current.lines.push_back(line);
    }
    if (in.bad()) throw IoError("error while reading the fortune file '" + path + "'");
    finish();
    if (fortunes.size() == before) {
      throw DataError("the fortune file '" + path +
                      "' holds no fortune (expected text with fortunes separated by '%' lines)");
    }
  }
  return fortunes;
}

std::vector<std::string> Tokenize(std::string_view line) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    size_t j = i;
    while (j < line.size() && !IsSpace(line[j])) ++j;
    if (j > i) SplitChunk(line.substr(i, j - i), &tokens);
    i = j;
  }
  return tokens;
}

Split SplitFortunes(const std::vector<Fortune>& fortunes, int val_every) {
  LOOM_CHECK(val_every >= 2, "SplitFortunes: expected val_every >= 2 but got ", val_every);
  Split split;
  for (size_t k = 0; k < fortunes.size(); ++k) {
    auto& target = (k + 1) % static_cast<size_t>(val_every) == 0 ? split.val : split.train;
    for (const std::string& line : fortunes[k].lines) {
      std::vector<std::string> tokens = Tokenize(line);
      if (!tokens.empty()) target.push_back(std::move(tokens));
    }
  }
  return split;
}

Vocab Vocab::Build(const std::vector<std::vector<std::string>>& sentences, int min_count) {
  LOOM_CHECK(min_count >= 1, "Vocab::Build: expected min_count >= 1 but got ", min_count);
  std::map<std::string, int64_t, std::less<>> counts;
  for (const auto& sentence : sentences) {
    for (const std::string& word : sentence) ++counts[word];
  }
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& [word, count] : counts) {
    if (count >= min_count) kept.emplace_back(word, count);
  }
  // counts is ordered by word, so a stable sort by count keeps ties in byte order.
  std::stable_sort(kept.begin(), kept.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  Vocab vocab;
  vocab.words_ = {"<pad>", "<unk>", "<eos>"};
  for (auto& [word, count] : kept) {
    if (word == "<pad>" || word == "<unk>" || word == "<eos>") continue;
    vocab.words_.push_back(word);
  }
  for (size_t i = 0; i < vocab.words_.size(); ++i) {
    vocab.ids_.emplace(vocab.words_[i], static_cast<int>(i));
  }
  return vocab;
}

int Vocab::Id(std::string_view word) const {
  const auto it = ids_.find(word);
  return it == ids_.end() || it->second == kPad ? kUnk : it->second;
}

const std::string& Vocab::Word(int id) const {
  LOOM_CHECK(id >= 0 && id < static_cast<int>(words_.size()), "Vocab::Word: id ", id,
             " is outside [0, ", words_.size(), ")");
  return words_[static_cast<size_t>(id)];
}

std::vector<std::vector<int>> Encode(const std::vector<std::vector<std::string>>& sentences,
                                     const Vocab& vocab) {
  std::vector<std::vector<int>> out;
  out.reserve(sentences.size());
  for (const auto& sentence : sentences) {
    std::vector<int> ids;
    ids.reserve(sentence.size() + 1);
    for (const std::string& word : sentence) ids.push_back(vocab.Id(word));
    ids.push_back(Vocab::kEos);
    out.push_back(std::move(ids));
  }
  return out;
}

BatchPlan MakeBatches(const std::vector<std::vector<int>>& sentences,
                      const std::vector<int64_t>& buckets, int64_t batch_size,
                      std::mt19937_64* rng) {
  LOOM_CHECK(!buckets.empty(), "MakeBatches: expected at least one bucket");
  for (size_t i = 0; i < buckets.size(); ++i) {
    LOOM_CHECK(buckets[i] > 0 && (i == 0 || buckets[i] > buckets[i - 1]),
               "MakeBatches: expected increasing positive bucket lengths but bucket ", i, " is ",
               buckets[i]);
  }
  LOOM_CHECK(batch_size > 0, "MakeBatches: expected a positive batch_size but got ", batch_size);

  BatchPlan plan;
  std::vector<std::vector<size_t>> members(buckets.size());
  for (size_t s = 0; s < sentences.size(); ++s) {
    const auto len = static_cast<int64_t>(sentences[s].size());
    const auto it = std::lower_bound(buckets.begin(), buckets.end(), len);
    if (it == buckets.end()) {
      ++plan.discarded;
      continue;
    }
    members[static_cast<size_t>(it - buckets.begin())].push_back(s);
  }
  for (size_t k = 0; k < buckets.size(); ++k) {
    std::vector<size_t>& rows = members[k];
    if (rng != nullptr) std::shuffle(rows.begin(), rows.end(), *rng);
    const int64_t seq_len = buckets[k];
    for (size_t first = 0; first < rows.size(); first += static_cast<size_t>(batch_size)) {
      Batch batch;
      batch.seq_len = seq_len;
      batch.batch_size = batch_size;
      batch.data.assign(static_cast<size_t>(seq_len * batch_size), Vocab::kPad);
      batch.label.assign(batch.data.size(), Vocab::kPad);
      const size_t last = std::min(rows.size(), first + static_cast<size_t>(batch_size));
      for (size_t r = first; r < last; ++r) {
        const std::vector<int>& ids = sentences[rows[r]];
        const auto b = static_cast<int64_t>(r - first);
        for (size_t t = 0; t < ids.size(); ++t) {
          const auto at = static_cast<size_t>(static_cast<int64_t>(t) * batch_size + b);
          batch.data[at] = static_cast<float>(t == 0 ? Vocab::kEos : ids[t - 1]);
          batch.label[at] = static_cast<float>(ids[t]);
        }
        batch.num_tokens += static_cast<int64_t>(ids.size());
      }
      batch.num_sentences = static_cast<int64_t>(last - first);
      plan.batches.push_back(std::move(batch));
    }
  }
  if (rng != nullptr) std::shuffle(plan.batches.begin(), plan.batches.end(), *rng);
  return plan;
}

}  // namespace loom::lm
