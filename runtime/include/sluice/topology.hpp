// The pipeline topology: topics, stages and subscriptions, loaded from YAML.
// Plain values; immutable once loaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/result.hpp"
#include "sluice/supervision.hpp"

namespace sluice {

/// SNS-style filter policy: for each attribute, the values it accepts. An
/// event matches when every listed attribute is present with one of the
/// listed values. An empty policy matches everything.
struct filter_policy {
  std::map<std::string, std::set<std::string>> accept;

  bool matches(const std::map<std::string, std::string>& attributes) const;
};

/// How a subscription decides the priority class of the events it takes.
struct priority_rule {
  /// When set, events whose attribute `attribute` has one of `urgent_values`
  /// become urgent; all others keep their own priority.
  std::string attribute;
  std::set<std::string> urgent_values;
  /// When set, every event taken by this subscription gets this class.
  std::optional<sluice::priority> fixed;

  sluice::priority apply(const event& ev) const;
};

/// A stage's interest in one topic.
struct subscription {
  std::string topic;
  filter_policy filter;
  priority_rule priority;
};

/// Retry policy for failed events (exponential backoff with jitter).
struct retry_policy {
  std::uint32_t max_attempts = 5;
  std::chrono::milliseconds backoff_min{200};
  std::chrono::milliseconds backoff_max{30000};
};

/// One named step of a pipeline.
struct stage_spec {
  std::string name;
  std::string behaviour; ///< a name in the registry
  std::vector<subscription> subscribe;
  std::vector<std::string> emits; ///< topics it may emit to (declared)
  retry_policy retry;
  /// How the stage supervisor restarts crashed key actors, and how many
  /// restarts it tolerates before the stage stops and escalates.
  supervision_policy supervision;
  /// The reconciler re-drives a key that waits longer than this for an
  /// event of this stage that is no longer queued.
  std::chrono::milliseconds stuck_after{std::chrono::minutes(5)};
  bool skip_unchanged = false;
  std::uint32_t max_in_flight =
      2048; ///< credit: events dispatched, not committed
  std::uint32_t max_live_keys = 4096; ///< key actors kept before passivation
  std::string source_file;            ///< the YAML file that defined it
  int source_line = 0;                ///< 1-based line of its definition
};

/// Where the file feed (`--feed`) puts its events.
struct feed_spec {
  std::string topic;
};

/// A whole pipeline.
struct topology {
  std::string name;
  std::vector<std::string> topics;
  std::vector<stage_spec> stages;
  feed_spec feed;
  std::uint64_t max_payload_bytes = 1 << 20;
  /// The node supervisor's policy over its stage supervisors.
  supervision_policy supervision{restart_strategy::one_for_one, 3,
                                 std::chrono::milliseconds(60000)};
  /// How often the reconciler scans key status for stuck keys.
  std::chrono::milliseconds reconcile_every{std::chrono::seconds(30)};

  /// The stage named `name`, or nullptr.
  const stage_spec* find_stage(const std::string& name) const;

  /// Every (stage index, priority) that takes `ev` published on `topic`.
  struct route {
    std::size_t stage;
    sluice::priority priority;
  };
  std::vector<route> routes(const std::string& topic, const event& ev) const;
};

/// Loads `path`, following `include:` entries relative to it. Errors name the
/// file, the 1-based line and the field, e.g.
/// "pipeline.yaml:14: stages[1].subscribe[0].topic: unknown topic 'x'".
result<topology> load_topology(const std::string& path);

/// Parses YAML text; `origin` names it in errors. `include:` is resolved
/// against `base_dir`.
result<topology> parse_topology(const std::string& yaml_text,
                                const std::string& origin,
                                const std::string& base_dir = ".");

} // namespace sluice
