// Typosquatting detection for package.score: an exact-trick pass (separator
// swaps, look-alike characters, case) and an edit-distance pass over the
// popular names of the same ecosystem.
#include "typosquat.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "text.hpp"

namespace sluice::examples::package_trust {
namespace {

bool is_separator(char c) {
  return c == '-' || c == '_' || c == '.';
}

// PEP 503: lower case, runs of '-', '_', '.' become one '-'.
std::string pep503(std::string_view name) {
  std::string out;
  for (char c : to_lower(name)) {
    if (is_separator(c)) {
      if (out.empty() || out.back() != '-')
        out.push_back('-');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The form names are compared in: PyPI's own normalisation, else lower case.
std::string comparable(std::string_view ecosystem, std::string_view name) {
  return ecosystem == "pypi" ? pep503(name) : to_lower(name);
}

std::string without_separators(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!is_separator(c))
      out.push_back(c);
  }
  return out;
}

// Folds characters that look alike: 0/o, 1/l/i, 3/e, 5/s, rn/m, vv/w.
std::string look_alike(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == 'r' && i + 1 < s.size() && s[i + 1] == 'n') {
      out.push_back('m');
      ++i;
    } else if (c == 'v' && i + 1 < s.size() && s[i + 1] == 'v') {
      out.push_back('w');
      ++i;
    } else if (c == '0') {
      out.push_back('o');
    } else if (c == '1' || c == 'i') {
      out.push_back('l');
    } else if (c == '3') {
      out.push_back('e');
    } else if (c == '5') {
      out.push_back('s');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Siblings of one family differ only after their last separator and share a
// real prefix: "mypy-boto3-sso" / "mypy-boto3-s3", "nvidia-cudnn-cu11" / -cu12.
bool family_siblings(std::string_view a, std::string_view b) {
  const auto cut_a = a.find_last_of("-_.");
  const auto cut_b = b.find_last_of("-_.");
  return cut_a != std::string_view::npos && cut_a >= 4 && cut_a == cut_b
         && a.substr(0, cut_a) == b.substr(0, cut_b);
}

std::size_t allowed_edits(std::size_t length) {
  if (length < 5)
    return 0;
  return length < 9 ? 1 : 2;
}

} // namespace

popular_names popular_names::parse(std::string_view text) {
  popular_names out;
  for (std::string_view line : split(text, '\n')) {
    line = trim(line);
    if (line.empty() || line.front() == '#')
      continue;
    const auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos)
      continue;
    const std::string eco(line.substr(0, space));
    const std::string name(trim(line.substr(space + 1)));
    if (name.empty() || !out.index_[eco].insert(name).second)
      continue;
    entry e{name, comparable(eco, name), {}, {}};
    e.bare = without_separators(e.normal);
    e.folded = look_alike(e.bare);
    out.names_[eco].push_back(std::move(e));
  }
  for (auto& [eco, entries] : out.names_) {
    std::sort(entries.begin(), entries.end(),
              [](const entry& a, const entry& b) { return a.name < b.name; });
  }
  return out;
}

const popular_names& popular_names::bundled() {
  static const popular_names list = parse(bundled_popular_names_text());
  return list;
}

bool popular_names::contains(std::string_view ecosystem,
                             std::string_view name) const {
  const auto it = index_.find(ecosystem);
  return it != index_.end() && it->second.count(name) != 0;
}

const std::vector<popular_names::entry>&
popular_names::entries(std::string_view ecosystem) const {
  static const std::vector<entry> none;
  const auto it = names_.find(ecosystem);
  return it == names_.end() ? none : it->second;
}

std::size_t popular_names::size() const {
  return std::accumulate(
      names_.begin(), names_.end(), std::size_t{0},
      [](std::size_t n, const auto& kv) { return n + kv.second.size(); });
}

std::size_t edit_distance(std::string_view a, std::string_view b,
                          std::size_t limit) {
  // Three rows (two back for transpositions), reused across calls: this
  // runs against every popular name of an ecosystem for every package.
  thread_local std::vector<std::size_t> prev2, prev, cur;
  prev2.assign(b.size() + 1, 0);
  prev.resize(b.size() + 1);
  cur.assign(b.size() + 1, 0);
  std::iota(prev.begin(), prev.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    std::size_t row_min = cur[0];
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
      row_min = std::min(row_min, cur[j]);
    }
    // Distances only grow down the rows (bar one transposition step):
    // once two rows exceed the limit, the answer does too.
    if (row_min > limit && i > 1
        && *std::min_element(prev.begin(), prev.end()) > limit) {
      return limit + 1;
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  return edit_distance(a, b, std::numeric_limits<std::size_t>::max() - 1);
}

std::optional<typosquat_match> find_typosquat(const popular_names& list,
                                              std::string_view ecosystem,
                                              std::string_view name) {
  if (name.empty() || list.contains(ecosystem, name))
    return std::nullopt;
  const std::string mine = comparable(ecosystem, name);
  const std::string mine_bare = without_separators(mine);
  const std::string mine_folded = look_alike(mine_bare);

  std::optional<typosquat_match> best;
  for (const popular_names::entry& target : list.entries(ecosystem)) {
    if (target.normal == mine) {
      // Same project on PyPI; elsewhere a case variant of the name.
      if (ecosystem == "pypi")
        return std::nullopt;
      return typosquat_match{target.name, "case variant", 0};
    }
    if (target.bare == mine_bare) {
      return typosquat_match{target.name, "separator swap", 0};
    }
    if (target.folded == mine_folded) {
      return typosquat_match{target.name, "look-alike characters", 0};
    }
    const std::size_t limit =
        allowed_edits(std::min(mine.size(), target.normal.size()));
    const std::size_t gap = mine.size() > target.normal.size()
                                ? mine.size() - target.normal.size()
                                : target.normal.size() - mine.size();
    if (limit == 0 || gap > limit)
      continue;
    const std::size_t d = edit_distance(mine, target.normal, limit);
    if (d == 0 || d > limit || (best && d >= best->distance))
      continue;
    if (d == 2 && mine.front() != target.normal.front())
      continue;
    if (family_siblings(mine, target.normal))
      continue;
    best = typosquat_match{
        target.name, std::to_string(d) + (d == 1 ? " edit" : " edits"), d};
  }
  return best;
}

} // namespace sluice::examples::package_trust
