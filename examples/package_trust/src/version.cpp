// Version parsing and ordering for the package_trust example. Debian versions
// are ordered as Debian Policy 5.6.12 describes; others by their numeric
// components, with prereleases below releases.
#include "version.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "text.hpp"

namespace sluice::examples::package_trust {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s) {
    if (!is_digit(c))
      return false;
  }
  return true;
}

std::uint64_t to_number(std::string_view digits) {
  std::uint64_t n = 0;
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  for (char c : digits) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    n = n > (max - d) / 10 ? max : n * 10 + d; // saturate
  }
  return n;
}

// The leading "1.2.3" of `s` (after an optional 'v'), and where it ends.
std::vector<std::uint64_t> leading_numbers(std::string_view s,
                                           std::size_t* end = nullptr) {
  std::vector<std::uint64_t> nums;
  std::size_t i = 0;
  if (s.size() > 1 && (s[0] == 'v' || s[0] == 'V') && is_digit(s[1]))
    i = 1;
  while (i < s.size() && is_digit(s[i])) {
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i]))
      ++i;
    nums.push_back(to_number(s.substr(start, i - start)));
    if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
      ++i;
    } else {
      break;
    }
  }
  if (end != nullptr)
    *end = i;
  return nums;
}

bool pep440_prerelease(std::string_view rest) {
  std::string r = to_lower(rest);
  while (!r.empty() && (r[0] == '.' || r[0] == '-' || r[0] == '_')) {
    r.erase(0, 1);
  }
  for (std::string_view tag :
       {"alpha", "beta", "preview", "pre", "rc", "a", "b", "c", "dev"}) {
    if (starts_with(r, tag))
      return true;
  }
  return contains(r, "dev");
}

bool loose_prerelease(std::string_view rest) {
  const std::string r = to_lower(rest);
  for (std::string_view tag :
       {"alpha", "beta", "rc", "pre", "dev", "snapshot"}) {
    if (contains(r, tag))
      return true;
  }
  return false;
}

// Debian Policy's character order: '~' first, then the end of the part,
// then letters, then everything else.
int debian_order(char c) {
  if (c == '~')
    return -1;
  if (is_digit(c))
    return 0;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return c;
  return c + 256;
}

int debian_compare_part(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !is_digit(a[i]))
           || (j < b.size() && !is_digit(b[j]))) {
      const int ac = i < a.size() ? debian_order(a[i]) : 0;
      const int bc = j < b.size() ? debian_order(b[j]) : 0;
      if (ac != bc)
        return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0')
      ++i;
    while (j < b.size() && b[j] == '0')
      ++j;
    int first_diff = 0;
    while (i < a.size() && is_digit(a[i]) && j < b.size() && is_digit(b[j])) {
      if (first_diff == 0)
        first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && is_digit(a[i]))
      return 1;
    if (j < b.size() && is_digit(b[j]))
      return -1;
    if (first_diff != 0)
      return first_diff;
  }
  return 0;
}

int sign(int v) {
  return (v > 0) - (v < 0);
}

} // namespace

Version parse_version(std::string_view ecosystem, std::string_view raw) {
  Version v;
  std::string_view s = trim(raw);
  v.set_raw(std::string(s));
  if (s.empty())
    return v;

  if (ecosystem == "debian") {
    if (const auto colon = s.find(':');
        colon != std::string_view::npos && all_digits(s.substr(0, colon))) {
      v.set_epoch(static_cast<std::uint32_t>(to_number(s.substr(0, colon))));
      s.remove_prefix(colon + 1);
    }
    if (const auto dash = s.rfind('-'); dash != std::string_view::npos) {
      v.set_revision(std::string(s.substr(dash + 1)));
      s = s.substr(0, dash);
    }
  } else if (ecosystem == "pypi") {
    if (const auto bang = s.find('!');
        bang != std::string_view::npos && all_digits(s.substr(0, bang))) {
      v.set_epoch(static_cast<std::uint32_t>(to_number(s.substr(0, bang))));
      s.remove_prefix(bang + 1);
    }
  } else if (ecosystem == "npm") {
    if (!s.empty() && s.front() == '=')
      s.remove_prefix(1);
    s = s.substr(0, s.find('+')); // build metadata does not order
  }
  v.set_upstream(std::string(s));

  std::size_t end = 0;
  const auto nums = leading_numbers(s, &end);
  v.set_parsed(!nums.empty());
  v.set_components(static_cast<std::uint32_t>(nums.size()));
  if (nums.size() > 0)
    v.set_major(nums[0]);
  if (nums.size() > 1)
    v.set_minor(nums[1]);
  if (nums.size() > 2)
    v.set_patch(nums[2]);

  const std::string_view rest = s.substr(end);
  if (ecosystem == "debian") {
    v.set_prerelease(contains(s, "~"));
  } else if (ecosystem == "npm") {
    v.set_prerelease(starts_with(rest, "-"));
  } else if (ecosystem == "pypi") {
    v.set_prerelease(pep440_prerelease(rest));
  } else {
    v.set_prerelease(loose_prerelease(rest));
  }
  return v;
}

int compare_versions(std::string_view ecosystem, std::string_view a,
                     std::string_view b) {
  const Version va = parse_version(ecosystem, a);
  const Version vb = parse_version(ecosystem, b);
  if (va.epoch() != vb.epoch())
    return va.epoch() < vb.epoch() ? -1 : 1;
  if (ecosystem == "debian") {
    if (int c = debian_compare_part(va.upstream(), vb.upstream()); c != 0) {
      return sign(c);
    }
    if (int c = debian_compare_part(va.revision(), vb.revision()); c != 0) {
      return sign(c);
    }
    return sign(va.raw().compare(vb.raw()));
  }
  const auto na = leading_numbers(va.upstream());
  const auto nb = leading_numbers(vb.upstream());
  for (std::size_t i = 0; i < std::max(na.size(), nb.size()); ++i) {
    const std::uint64_t x = i < na.size() ? na[i] : 0;
    const std::uint64_t y = i < nb.size() ? nb[i] : 0;
    if (x != y)
      return x < y ? -1 : 1;
  }
  if (va.prerelease() != vb.prerelease())
    return va.prerelease() ? -1 : 1;
  return sign(va.raw().compare(vb.raw()));
}

} // namespace sluice::examples::package_trust
