// A fixed-size array chosen at construction, stored inline up to N elements and on the heap
// beyond. Used for an operation's variable list and its queue nodes, which are sized once.
#pragma once

#include <cstddef>
#include <memory>

namespace loom::detail {

template <typename T, size_t N>
class SmallArray {
 public:
  SmallArray() = default;
  explicit SmallArray(size_t size) { Resize(size); }
  SmallArray(const SmallArray&) = delete;
  SmallArray& operator=(const SmallArray&) = delete;

  void Resize(size_t size) {
    size_ = size;
    if (size > N) {
      heap_ = std::make_unique<T[]>(size);
      data_ = heap_.get();
    } else {
      heap_.reset();
      data_ = inline_;
    }
  }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  T inline_[N] = {};
  std::unique_ptr<T[]> heap_;
  T* data_ = inline_;
  size_t size_ = 0;
};

}  // namespace loom::detail
