// What changes between two topologies: topics, stages and their
// subscriptions (filters, priority rules), retry, supervision and flow
// settings. For `sluice topology diff OLD NEW`, and for checking a new
// topology before a node takes it. Pure functions.
#pragma once

#include <string>
#include <vector>

#include "sluice/topology.hpp"

namespace sluice {

/// One difference between two topologies.
struct topology_change {
  /// Whether the subject is new, gone, or different.
  enum class kind { added, removed, changed };
  kind what = kind::changed; ///< added, removed or changed
  /// What it is about: "topic parsed", "stage enrich", "stage parse:
  /// subscription to registry", "pipeline".
  std::string subject;
  /// What differs: "max_in_flight 2048 -> 1024", or a description of an
  /// added or removed subject.
  std::string detail;
};

/// The differences from `from` to `to`, in topology order: pipeline
/// settings, topics, then stages (removed, added, changed).
std::vector<topology_change> diff_topologies(const topology& from,
                                             const topology& to);

/// One line: "+ stage audit: ...", "- topic x", "~ stage parse: ...".
std::string describe(const topology_change& c);

/// A subscription in words: "registry where ecosystem in [npm, pypi],
/// urgent when priority in [1]".
std::string describe(const subscription& s);

} // namespace sluice
