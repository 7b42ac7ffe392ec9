// Typosquatting checks: does a package name look like, but differ from, a
// popular name of the same ecosystem? Edit distance plus the usual tricks.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::examples::package_trust {

/// Popular names per ecosystem. Immutable once built; safe to share.
class popular_names {
public:
  /// Parses lines "<ecosystem> <name>"; blank lines and '#' comments skipped.
  static popular_names parse(std::string_view text);
  /// The list bundled with the example (data/popular_names.txt).
  static const popular_names& bundled();

  bool contains(std::string_view ecosystem, std::string_view name) const;
  /// A popular name with the forms it is compared in, computed once.
  struct entry {
    std::string name;
    std::string normal; ///< lower case; PEP 503 form for PyPI
    std::string bare;   ///< `normal` without '-', '_' and '.'
    std::string folded; ///< `bare` with look-alike characters folded
  };

  /// Entries of one ecosystem sorted by name; empty for an unknown one.
  const std::vector<entry>& entries(std::string_view ecosystem) const;
  std::size_t size() const;

private:
  std::map<std::string, std::vector<entry>, std::less<>> names_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> index_;
};

/// Optimal-string-alignment Damerau-Levenshtein distance: insertions,
/// deletions, substitutions and transpositions of neighbours cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The same, but returns limit + 1 as soon as the distance must exceed
/// `limit`.
std::size_t edit_distance(std::string_view a, std::string_view b,
                          std::size_t limit);

struct typosquat_match {
  std::string target;   ///< the popular name it resembles
  std::string how;      ///< e.g. "1 edit", "separator swap"
  std::size_t distance; ///< edit distance (0 for look-alike tricks)
};

/// A popular name that `name` imitates, or nothing. A name on the list is
/// never a typosquat. Distance limits grow with length: names under 5
/// characters are checked for tricks only, 5-8 characters allow 1 edit,
/// longer names 2; a 2-edit match must keep the first character, and
/// siblings of one family ("mypy-boto3-sso" / "mypy-boto3-s3") are not
/// matches. PyPI names are compared after PEP 503 normalisation.
std::optional<typosquat_match> find_typosquat(const popular_names& list,
                                              std::string_view ecosystem,
                                              std::string_view name);

/// Defined in a file CMake generates from data/popular_names.txt.
std::string_view bundled_popular_names_text();

} // namespace sluice::examples::package_trust
