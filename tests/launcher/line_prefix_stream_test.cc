// LinePrefixStream: every line tagged, and each line handed to the target in one write (the lines
// of ranks sharing a pipe must not break into each other).
#include "launcher/src/train/line_prefix_stream.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace loom::train::detail {
namespace {

// A target that records every chunk it is given.
class ChunkRecorder : public std::streambuf {
 public:
  std::vector<std::string> chunks;

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    chunks.emplace_back(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type ch) override {
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      chunks.emplace_back(1, traits_type::to_char_type(ch));
    }
    return traits_type::not_eof(ch);
  }
};

TEST(LinePrefixStream, TagsEveryLineAndWritesEachInOnePiece) {
  ChunkRecorder recorder;
  std::ostream target(&recorder);
  {
    LinePrefixStream tagged(target, "[rank 1] ");
    tagged << "rank " << 1 << " of " << 2 << "\n" << "epoch 1\r" << "epoch 2\n\n" << "tail";
    tagged.flush();
    EXPECT_EQ(recorder.chunks,
              (std::vector<std::string>{"[rank 1] rank 1 of 2\n", "[rank 1] epoch 1\r",
                                        "[rank 1] epoch 2\n", "\n", "[rank 1] tail"}));
    tagged << " end";
  }
  EXPECT_EQ(recorder.chunks.back(), " end") << "a partial line is written when the stream goes";
}

}  // namespace
}  // namespace loom::train::detail
