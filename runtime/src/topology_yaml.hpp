// Strict, located reading of YAML for the topology loader: every value read
// knows its file, line and field path, so a config error can name all three.
// Private; every reader returns a `sluice::result`, whose error is the
// finished message. The schema's leaf values are in topology_values.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sluice/result.hpp"

namespace sluice::topology_yaml {

/// The largest value a u32 setting takes.
inline constexpr std::uint64_t u32_max =
    std::numeric_limits<std::uint32_t>::max();

/// "file:line" (1-based) or just "file" when the mark is unknown.
std::string location(const std::string& file, const YAML::Mark& mark);

/// The candidate nearest to `word` by edit distance, if it is near enough to
/// be a plausible typo.
std::optional<std::string_view>
closest_match(std::string_view word,
              const std::vector<std::string_view>& candidates);

/// "200ms", "30s", "5m" -> milliseconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// "a, b, c".
std::string join(const std::vector<std::string>& items, std::string_view sep);

/// The whole file, or nullopt when it cannot be read.
std::optional<std::string> read_text(const std::filesystem::path& path);

/// Parses exactly one YAML document; syntax errors name `file` and the line.
result<YAML::Node> parse_document(const std::string& text,
                                  const std::string& file);

class strict_map;

/// A YAML node plus where it came from: its file and its field path
/// (e.g. "stages[1].subscribe[0].topic"). Readers return located errors.
class field {
public:
  field(YAML::Node node, std::string file, std::string path);

  const YAML::Node& node() const { return node_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  /// "file:line" of this node.
  std::string where() const { return location(file_, mark_); }
  /// 1-based line, or 0 when unknown.
  int line() const;

  /// The error "file:line: path: what" about this node.
  error fail(const std::string& what, errc code = errc::config) const;

  /// A child named by key ("a.b") or by index ("a[2]").
  field member(const YAML::Node& node, std::string_view key) const;
  field element(const YAML::Node& node, std::size_t index) const;

  /// A non-empty scalar.
  result<std::string> text() const;
  /// A decimal integer in [min, max].
  result<std::uint64_t> integer(std::uint64_t min, std::uint64_t max) const;
  /// true or false.
  result<bool> boolean() const;
  /// The elements of a list.
  result<std::vector<field>> items() const;
  /// The elements of a list; a lone scalar counts as a one-element list.
  result<std::vector<field>> items_or_scalar() const;
  /// The (key, value) pairs of a map; keys are scalars, never repeated.
  result<std::vector<std::pair<field, field>>> entries() const;
  /// A map whose keys must all be in `known`.
  result<strict_map> fields(std::vector<std::string_view> known) const;

private:
  YAML::Node node_;
  YAML::Mark mark_; ///< where errors point; the key's for an empty value
  std::string file_;
  std::string path_;
};

/// A map read strictly: unknown keys fail (suggesting the closest known one).
class strict_map {
public:
  /// Reads the map `self`; an unknown or repeated key is an error.
  static result<strict_map> read(const field& self,
                                 std::vector<std::string_view> known);

  const field& self() const { return self_; }
  std::optional<field> get(std::string_view key) const;
  /// Fails with "path.key: required field is missing" when absent.
  result<field> require(std::string_view key) const;

private:
  explicit strict_map(const field& self) : self_(self) {}

  field self_;
  std::vector<std::pair<std::string, field>> values_;
};

} // namespace sluice::topology_yaml
