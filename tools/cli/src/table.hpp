// Private: aligned text tables that fit a terminal's width, and short
// number formats, for the console and the run summary.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace sluice::cli {

/// 1234 -> "1234", 12345 -> "12.3k", 1234567 -> "1.2M".
std::string human(double v);

/// Columns with a header; numbers right-aligned, text left-aligned. When
/// the rows are wider than `width`, the widest text column is cut (with a
/// trailing "~") until they fit.
class table {
public:
  /// Adds a column; `right` aligns it to the right (numbers).
  table& column(std::string header, bool right = false);
  /// Adds a row of cells, one per column.
  table& row(std::vector<std::string> cells);
  /// Writes the header, a rule and the rows, each at most `width` wide.
  void print(std::ostream& out, std::size_t width = 80) const;
  /// True when no row was added.
  bool empty() const noexcept { return rows_.empty(); }

private:
  struct col {
    std::string header;
    bool right;
  };
  std::vector<col> cols_;
  std::vector<std::vector<std::string>> rows_;
};

} // namespace sluice::cli
