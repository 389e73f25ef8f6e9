#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "loom/core/dtype.h"
#include "loom/core/shape.h"
#include "loom/scheduler/error.h"

namespace loom {

int64_t Shape::at(int i) const {
  int n = ndim();
  int k = i < 0 ? i + n : i;
  LOOM_CHECK_TYPED(ShapeError, k >= 0 && k < n, "axis ", i, " is out of range for shape ",
                   ToString());
  return dims_[k];
}

int64_t Shape::Size() const { return Size(0, ndim()); }

int64_t Shape::Size(int begin, int end) const {
  int64_t n = 1;
  for (int i = begin; i < end; ++i) n *= dims_[i];
  return n;
}

bool Shape::IsKnown() const {
  return !dims_.empty() && std::none_of(dims_.begin(), dims_.end(), [](int64_t d) { return d == 0; });
}

std::string Shape::ToString() const {
  std::string s = "(";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(dims_[i]);
  }
  return s + ")";
}

Shape Shape::Parse(std::string_view text) {
  auto fail = [&]() -> Shape {
    throw ShapeError("expected a shape such as (2,3) but got '" + std::string(text) + "'");
  };
  size_t i = 0, n = text.size();
  auto skip_space = [&] {
    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip_space();
  char close = 0;
  if (i < n && (text[i] == '(' || text[i] == '[')) {
    close = text[i] == '(' ? ')' : ']';
    ++i;
  }
  Shape shape;
  bool expect_value = true;
  for (;;) {
    skip_space();
    if (i == n) {
      if (close) return fail();
      break;
    }
    if (close && text[i] == close) {
      ++i;
      skip_space();
      if (i != n) return fail();
      break;
    }
    if (!expect_value) {
      if (text[i] != ',') return fail();
      ++i;
      expect_value = true;
      continue;
    }
    if (text[i] == ',') return fail();
    int64_t value = 0;
    const char* first = text.data() + i;
    auto [ptr, ec] = std::from_chars(first, text.data() + n, value);
    if (ec != std::errc()) return fail();
    i = ptr - text.data();
    if (i < n && (text[i] == 'L' || text[i] == 'l')) ++i;  // Python 2 longs: "8L"
    shape.push_back(value);
    expect_value = false;
  }
  return shape;
}

namespace {
constexpr std::array<const char*, static_cast<size_t>(DType::kCount)> kDTypeNames = {
    "float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"};
constexpr std::array<size_t, static_cast<size_t>(DType::kCount)> kDTypeSizes = {4, 8, 2, 1,
                                                                                 4, 1, 8, 1};
static_assert(static_cast<int>(DType::kCount) == 8, "update the dtype name and size tables");
}  // namespace

const char* ToString(DType type) {
  if (type == DType::kUnknown) return "unknown";
  return kDTypeNames.at(static_cast<size_t>(type));
}

size_t DTypeSize(DType type) {
  if (type == DType::kUnknown) return 0;
  return kDTypeSizes.at(static_cast<size_t>(type));
}

DType ParseDType(std::string_view name) {
  for (size_t i = 0; i < kDTypeNames.size(); ++i) {
    if (name == kDTypeNames[i]) return static_cast<DType>(i);
  }
  if (name == "float") return DType::kFloat32;
  if (name == "double") return DType::kFloat64;
  if (name == "half") return DType::kFloat16;
  if (name == "int") return DType::kInt32;
  if (name == "long") return DType::kInt64;
  throw DTypeError("expected a dtype (float32, float64, float16, uint8, int32, int8, int64, bool) "
                   "but got '" + std::string(name) + "'");
}

DType DTypeFromCode(int code) {
  LOOM_CHECK_TYPED(DTypeError, code >= 0 && code < static_cast<int>(DType::kCount),
                   "expected a dtype code from 0 to ", static_cast<int>(DType::kCount) - 1,
                   " but got ", code);
  return static_cast<DType>(code);
}

bool IsFloat(DType type) {
  return type == DType::kFloat32 || type == DType::kFloat64 || type == DType::kFloat16;
}

}  // namespace loom
