// Table layout: widths from the content, shrunk to fit.
#include "table.hpp"

#include <algorithm>
#include <cstdio>

namespace sluice::cli {

std::string human(double v) {
  char buf[32];
  if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  else if (v >= 1e4)
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else if (v > 0 && v < 10 && v != static_cast<double>(static_cast<long>(v)))
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else
    std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

table& table::column(std::string header, bool right) {
  cols_.push_back({std::move(header), right});
  return *this;
}

table& table::row(std::vector<std::string> cells) {
  cells.resize(cols_.size());
  rows_.push_back(std::move(cells));
  return *this;
}

void table::print(std::ostream& out, std::size_t width) const {
  std::vector<std::size_t> w(cols_.size());
  for (std::size_t c = 0; c < cols_.size(); ++c) {
    w[c] = cols_[c].header.size();
    for (auto& r : rows_)
      w[c] = std::max(w[c], r[c].size());
  }
  auto total = [&] {
    std::size_t t = 0;
    for (auto x : w)
      t += x;
    return t + (w.empty() ? 0 : w.size() - 1) * 2;
  };
  // Shrink the widest left-aligned column until the rows fit.
  while (total() > width) {
    std::size_t widest = cols_.size();
    for (std::size_t c = 0; c < cols_.size(); ++c)
      if (!cols_[c].right && (widest == cols_.size() || w[c] > w[widest]))
        widest = c;
    if (widest == cols_.size() || w[widest] <= 8)
      break;
    --w[widest];
  }
  auto cell = [&](const std::string& text, std::size_t c) {
    std::string t = text;
    if (t.size() > w[c])
      t = t.substr(0, w[c] - 1) + "~";
    std::string pad(w[c] - t.size(), ' ');
    return cols_[c].right ? pad + t : t + pad;
  };
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t c = 0; c < cols_.size(); ++c)
      l += (c ? "  " : "") + cell(cells[c], c);
    while (!l.empty() && l.back() == ' ')
      l.pop_back();
    out << l << '\n';
  };
  std::vector<std::string> headers;
  for (auto& c : cols_)
    headers.push_back(c.header);
  line(headers);
  std::vector<std::string> rule;
  for (std::size_t c = 0; c < cols_.size(); ++c)
    rule.push_back(std::string(w[c], '-'));
  line(rule);
  for (auto& r : rows_)
    line(r);
}

} // namespace sluice::cli
