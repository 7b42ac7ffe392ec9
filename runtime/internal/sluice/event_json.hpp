// One event from a JSON object, as the webhook (`POST /v1/events`) and
// JSON-lines feeds take it: {"topic", "key", "id", "tenant", "payload",
// "attributes", "priority"}. The callers give events without an "id" one
// of their own (a body hash and index, a file and line).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "sluice/event.hpp"
#include "sluice/result.hpp"

namespace sluice {

/// The event `j` describes. "key" is required and "topic" too unless
/// `default_topic` is given; "payload" is any JSON (a string is taken as
/// it is, anything else as compact JSON); "attributes" an object of
/// strings; "priority" "urgent" or "normal". An error names `where` and
/// the field.
result<event> event_from_json(const nlohmann::json& j, const std::string& where,
                              const std::string& default_topic = {});

} // namespace sluice
