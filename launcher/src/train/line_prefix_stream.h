// LinePrefixStream: an ostream that forwards to another and starts every line with a fixed tag,
// so that the interleaved output of the ranks of a job says where each line came from.
//
//   LinePrefixStream err(std::cerr, "[rank 1] ");
//   err << "loom train: allreduce #7 timed out\n";   // "[rank 1] loom train: allreduce ..."
//
// A line starts after '\n' and after '\r' (a progress bar redrawing its line keeps the tag); each
// line reaches the target in one write, and a partial line when the stream is flushed.
// Thread safety: as the stream it forwards to; one writer at a time.
#pragma once

#include <ostream>
#include <streambuf>
#include <string>

namespace loom::train::detail {

class LinePrefixBuf : public std::streambuf {
 public:
  LinePrefixBuf(std::ostream& target, std::string prefix)
      : target_(target), prefix_(std::move(prefix)) {}
  ~LinePrefixBuf() override { Emit(); }

 protected:
  // Characters gather in line_ and go out one whole line (tag included) per write, so that the
  // lines of ranks sharing a terminal or pipe never break into each other.
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    const char c = traits_type::to_char_type(ch);
    if (at_line_start_ && c != '\n' && c != '\r') line_ += prefix_;
    line_ += c;
    at_line_start_ = c == '\n' || c == '\r';
    if (at_line_start_) Emit();
    return target_ ? ch : traits_type::eof();
  }
  int sync() override {
    Emit();
    target_.flush();
    return target_ ? 0 : -1;
  }

 private:
  void Emit() {
    if (line_.empty()) return;
    target_.write(line_.data(), static_cast<std::streamsize>(line_.size()));
    line_.clear();
  }

  std::ostream& target_;
  std::string prefix_;
  std::string line_;
  bool at_line_start_ = true;
};

class LinePrefixStream : public std::ostream {
 public:
  LinePrefixStream(std::ostream& target, std::string prefix)
      : std::ostream(nullptr), buf_(target, std::move(prefix)) {
    rdbuf(&buf_);
  }

 private:
  LinePrefixBuf buf_;
};

}  // namespace loom::train::detail
