// Numeric CSV files: one sample per line, comma-separated numbers, one of them the label.
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "data/file_bytes.h"
#include "loom/scheduler/error.h"
#include "loom/train/data_iter.h"

namespace loom::train {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view Trim(std::string_view s, size_t* leading) {
  size_t b = 0;
  while (b < s.size() && IsBlank(s[b])) ++b;
  size_t e = s.size();
  while (e > b && IsBlank(s[e - 1])) --e;
  *leading = b;
  return s.substr(b, e - b);
}

}  // namespace

Dataset ReadCsv(const std::string& path, int label_column, bool header) {
  const detail::FileBytes file = detail::ReadDataFile(path);
  const std::string_view text = file.bytes;

  Dataset ds;
  ds.origin = path;
  ds.dtype = DType::kFloat32;
  int64_t columns = -1;    // of the first data line
  int64_t first_line = 0;  // its number
  size_t label_index = 0;
  std::vector<float> row;

  size_t pos = 0;
  int64_t line_number = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (header && line_number == 1) continue;
    size_t unused = 0;
    if (Trim(line, &unused).empty()) continue;

    row.clear();
    size_t field_start = 0;
    for (;;) {
      size_t comma = line.find(',', field_start);
      if (comma == std::string_view::npos) comma = line.size();
      size_t leading = 0;
      const std::string_view field = Trim(line.substr(field_start, comma - field_start), &leading);
      const size_t column = field_start + leading + 1;  // 1-based character column
      // from_chars takes no '+' sign; CSV writers may put one.
      const std::string_view number =
          field.size() > 1 && field[0] == '+' && field[1] != '-' ? field.substr(1) : field;
      float value = 0.0f;
      const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
      const bool whole = ec == std::errc() && ptr == number.data() + number.size();
      LOOM_CHECK_TYPED(DataError, whole && !field.empty() && std::isfinite(value), path, ":",
                       line_number, ":", column, ": expected a finite number in field ",
                       row.size() + 1, " but got '", field, "'",
                       ec == std::errc::result_out_of_range ? " (out of float range)" : "");
      row.push_back(value);
      if (comma == line.size()) break;
      field_start = comma + 1;
    }

    const auto n = static_cast<int64_t>(row.size());
    if (columns < 0) {
      columns = n;
      first_line = line_number;
      LOOM_CHECK_TYPED(DataError, columns >= 2, path, ":", line_number,
                       ": expected at least 2 columns (features and a label) but got ", columns);
      const int64_t index = label_column < 0 ? columns + label_column : label_column;
      LOOM_CHECK_TYPED(DataError, index >= 0 && index < columns, path, ":", line_number,
                       ": label_column ", label_column, " is outside the ", columns,
                       " columns of the file");
      label_index = static_cast<size_t>(index);
    }
    LOOM_CHECK_TYPED(DataError, n == columns, path, ":", line_number, ": expected ", columns,
                     " columns (as line ", first_line, ") but got ", n);
    for (size_t i = 0; i < row.size(); ++i) {
      if (i == label_index) {
        ds.labels.push_back(row[i]);
      } else {
        ds.floats.push_back(row[i]);
      }
    }
  }
  LOOM_CHECK_TYPED(DataError, columns > 0, "CSV file '", path, "' has no data lines",
                   header ? " after its header" : "");
  ds.sample_shape = Shape{columns - 1};
  return ds;
}

}  // namespace loom::train
