// Timestamps for people: nanoseconds since the Unix epoch as ISO-8601 UTC
// with milliseconds. Pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

/// 1796176800413424593 -> "2026-12-02T02:00:00.413Z"; "" for 0 or less.
std::string utc_time(std::int64_t ns_since_epoch);

} // namespace sluice
