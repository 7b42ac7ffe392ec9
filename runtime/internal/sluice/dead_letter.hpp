// Building dead-letter records: the quarantine of events (and raw input)
// that failed for good, with the reason. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice {

/// One failed try of an event, as kept in retry records and dead letters.
struct attempt_record {
  std::uint32_t attempt = 0; ///< 1-based within the round of retries
  std::int64_t at_ns = 0;    ///< when it failed: wall clock, ns since epoch
  std::string error;         ///< the failure's message
};

/// A `sluice.v1.DeadLetter` for an event of `stage` with every try it had.
/// `event_bytes` that do not decode as an Event are kept raw; `damaged`
/// ones (they failed their checksum) too, even when they decode: they are
/// not the event that was stored, and are never redriven as one.
std::string dead_letter_record(const std::string& stage, const std::string& key,
                               const std::string& event_bytes,
                               const std::vector<attempt_record>& attempts,
                               bool damaged = false);

/// A `sluice.v1.DeadLetter` for input that never became an event, e.g. a
/// malformed feed line; `source` says where it came from ("npm.tsv:17").
std::string raw_dead_letter_record(const std::string& source,
                                   const std::string& raw, std::int64_t at_ns,
                                   const std::string& error);

} // namespace sluice
