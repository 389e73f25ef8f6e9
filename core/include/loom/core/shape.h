// An array's shape: up to any number of dimensions, each an int64.
//
//   loom::Shape s{32, 3, 224, 224};
//   s.ndim();            // 4
//   s.Size();            // 32*3*224*224
//   s.ToString();        // "(32,3,224,224)"
//   loom::Shape p = loom::Shape::Parse("(8L, 3L)");   // every style MXNet wrote
//
// In shape inference (MXNet 1.x semantics) a Shape with ndim() == 0 is unknown, and a dimension of
// 0 is an unknown dimension; IsKnown() is true when neither holds. Value type: thread-safe to copy.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::span<const int64_t> dims) : dims_(dims.begin(), dims.end()) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int ndim() const { return static_cast<int>(dims_.size()); }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  /// Dimension i counted from the end when negative (-1 = last); throws loom::Error out of range.
  int64_t at(int i) const;
  /// Product of the dimensions (1 for ndim 0).
  int64_t Size() const;
  /// ndim > 0 and no dimension is 0 (unknown).
  bool IsKnown() const;
  /// Product of dimensions [begin, end).
  int64_t Size(int begin, int end) const;

  void push_back(int64_t d) { dims_.push_back(d); }
  const std::vector<int64_t>& dims() const { return dims_; }
  auto begin() const { return dims_.begin(); }
  auto end() const { return dims_.end(); }

  /// "(2,3)"; "()" for ndim 0.
  std::string ToString() const;
  /// Parses "(2,3)", "(2, 3)", "[2,3]", "(8L, 3L)", "(5,)", "5", "()"; throws loom::ShapeError
  /// naming the text when it is not a shape.
  static Shape Parse(std::string_view text);

  friend bool operator==(const Shape&, const Shape&) = default;

 private:
  std::vector<int64_t> dims_;
};

}  // namespace loom
