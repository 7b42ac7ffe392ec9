// Strict, located reading of YAML for the topology loader: every value read
// knows its file, line and field path, so a config error can name all three.
// Also the schema's leaf values (names, priorities, filters, retry). Private;
// failures are thrown as `config_failure` and become `sluice::error` values at
// the public boundary (topology.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sluice/result.hpp"
#include "sluice/topology.hpp"

namespace sluice::topology_yaml {

/// Carries a finished error from deep inside the loader to its boundary.
struct config_failure {
  sluice::error err;
};

[[noreturn]] void raise(errc code, std::string message);

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
YAML::Node parse_document(const std::string& text, const std::string& file);

class strict_map;

/// A YAML node plus where it came from: its file and its field path
/// (e.g. "stages[1].subscribe[0].topic"). Readers fail with located errors.
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

  [[noreturn]] void fail(const std::string& what,
                         errc code = errc::config) const;

  /// A child named by key ("a.b") or by index ("a[2]").
  field member(const YAML::Node& node, std::string_view key) const;
  field element(const YAML::Node& node, std::size_t index) const;

  /// A non-empty scalar.
  std::string text() const;
  /// A decimal integer in [min, max].
  std::uint64_t integer(std::uint64_t min, std::uint64_t max) const;
  /// true or false.
  bool boolean() const;
  /// The elements of a list.
  std::vector<field> items() const;
  /// The elements of a list; a lone scalar counts as a one-element list.
  std::vector<field> items_or_scalar() const;
  /// The (key, value) pairs of a map; keys are scalars, never repeated.
  std::vector<std::pair<field, field>> entries() const;
  /// A map whose keys must all be in `known`.
  strict_map fields(std::vector<std::string_view> known) const;

private:
  YAML::Node node_;
  YAML::Mark mark_; ///< where errors point; the key's for an empty value
  std::string file_;
  std::string path_;
};

/// A map read strictly: unknown keys fail (suggesting the closest known one).
class strict_map {
public:
  strict_map(const field& self, std::vector<std::string_view> known);

  const field& self() const { return self_; }
  std::optional<field> get(std::string_view key) const;
  /// Fails with "path.key: required field is missing" when absent.
  field require(std::string_view key) const;

private:
  field self_;
  std::vector<std::pair<std::string, field>> values_;
};

// ---- leaf values of the topology schema ----

/// A stage name: [a-z0-9_]+, at most 64 characters.
std::string check_stage_name(const field& f);
/// A topic name: non-empty, no whitespace.
std::string check_topic_name(const field& f);
/// "urgent" or "normal".
priority parse_priority(const field& f);
/// attribute -> accepted values (a list, or one scalar).
filter_policy parse_filter(const field& f);
/// `{ attribute: a, urgent: [values] }` into `rule`.
void parse_priority_from(const field& f, priority_rule& rule);
/// `{ max_attempts: n, backoff: MIN..MAX }`.
retry_policy parse_retry(const field& f);
/// `{ strategy: one_for_one, max_restarts: n, within: 10s }` over `base`.
supervision_policy parse_supervision(const field& f, supervision_policy base);
/// A duration such as 500ms, 30s or 10m.
std::chrono::milliseconds parse_duration_field(const field& f);

} // namespace sluice::topology_yaml
