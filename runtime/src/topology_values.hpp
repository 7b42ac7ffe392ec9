// Private: the topology schema's leaf values (stage and topic names,
// priorities, filters, retry and supervision policies, durations), each read
// from a located YAML field into a `result` whose error names the field.
// Pure functions.
#pragma once

#include <chrono>
#include <string>

#include "sluice/result.hpp"
#include "sluice/topology.hpp"
#include "topology_yaml.hpp"

namespace sluice::topology_yaml {

/// A stage name: [a-z0-9_]+, at most 64 characters.
result<std::string> check_stage_name(const field& f);
/// A topic name: non-empty, no whitespace.
result<std::string> check_topic_name(const field& f);
/// "urgent" or "normal".
result<priority> parse_priority(const field& f);
/// attribute -> accepted values (a list, or one scalar).
result<filter_policy> parse_filter(const field& f);
/// `{ attribute: a, urgent: [values] }` into `rule`.
result<void> parse_priority_from(const field& f, priority_rule& rule);
/// `{ max_attempts: n, backoff: MIN..MAX }`.
result<retry_policy> parse_retry(const field& f);
/// `{ strategy: one_for_one, max_restarts: n, within: 10s }` over `base`.
result<supervision_policy> parse_supervision(const field& f,
                                             supervision_policy base);
/// A duration such as 500ms, 30s or 10m.
result<std::chrono::milliseconds> parse_duration_field(const field& f);

} // namespace sluice::topology_yaml
