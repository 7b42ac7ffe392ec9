// A stage's `settings:` in the topology: its behaviour's own options, as
// plain text values with typed, checked readers. Free of CAF and YAML.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/result.hpp"

namespace sluice {

/// The options a stage gives its behaviour (`settings:` in the topology, a
/// map of scalars or lists of scalars). The behaviour reads them in
/// `behaviour::configure`; every reader's error names the setting and what
/// it expected, and the loader puts the stage's file and line before it.
class stage_settings {
public:
  /// Sets `name` to `values` (one value for a scalar); replaces any value.
  void set(std::string name, std::vector<std::string> values);

  /// True when the stage gives no settings.
  bool empty() const { return values_.empty(); }
  /// True when the stage gives `name`.
  bool contains(std::string_view name) const;

  /// The text of `name`, or `fallback` when it is not given; an error when
  /// it is a list.
  result<std::string> text(std::string_view name, std::string fallback) const;
  /// The decimal integer `name` in [min, max], or `fallback`.
  result<std::uint64_t> integer(std::string_view name, std::uint64_t fallback,
                                std::uint64_t min, std::uint64_t max) const;
  /// `true` or `false`, or `fallback`.
  result<bool> boolean(std::string_view name, bool fallback) const;
  /// A duration such as 200ms, 30s, 5m, 1h, or `fallback`.
  result<std::chrono::milliseconds>
  duration(std::string_view name, std::chrono::milliseconds fallback) const;
  /// The values of `name` (a scalar is a one-value list); empty when it
  /// is not given.
  std::vector<std::string> list(std::string_view name) const;

  /// An error naming the first given setting not in `known`, and the
  /// known ones ("unknown setting 'x' (known: a, b)"; "takes no settings"
  /// when `known` is empty).
  result<void> only(std::initializer_list<std::string_view> known) const;

  /// Every setting, by name.
  const std::map<std::string, std::vector<std::string>, std::less<>>&
  all() const {
    return values_;
  }
  /// The settings in words, sorted by name: "min_in_degree 3, reference
  /// [libc6, perl]"; "(none)" when empty.
  std::string describe() const;

  /// Equal when every setting is.
  friend bool operator==(const stage_settings&,
                         const stage_settings&) = default;

private:
  result<std::string> one(std::string_view name) const;

  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

} // namespace sluice
