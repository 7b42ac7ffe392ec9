// Encodes events to `sluice.v1.Event` protobuf bytes and back. Stateless;
// safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/result.hpp"

namespace sluice {

/// Serializes `ev` as `sluice.v1.Event`.
std::string encode_event(const event& ev);

/// Parses `sluice.v1.Event` bytes. Malformed bytes give `errc::corrupt`
/// naming `where` (e.g. "queue.parse[normal:1234]").
result<event> decode_event(std::string_view bytes, std::string_view where);

/// Parses `sluice.v1.EventBatch` bytes (several events, as POST /v1/events
/// takes them); malformed bytes give `errc::corrupt` naming `where`.
result<std::vector<event>> decode_event_batch(std::string_view bytes,
                                              std::string_view where);

/// Serializes `events` as `sluice.v1.EventBatch`.
std::string encode_event_batch(const std::vector<event>& events);

} // namespace sluice
