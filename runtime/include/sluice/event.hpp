// The event as behaviours see it: a plain value type, no protobuf, no CAF.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace sluice {

/// Two priority classes. Urgent overtakes normal at every hop: the durable
/// queue order, the actor mailbox and the store's commit batch.
enum class priority : std::uint8_t { urgent = 0, normal = 1 };

const char* to_string(priority p) noexcept;

/// One event. `id` is unique and stable across retries; `key` decides
/// ordering and ownership; `attributes` feed subscription filters.
struct event {
  std::string id;
  std::string topic;
  std::string key;
  std::string tenant;
  sluice::priority priority = priority::normal;
  std::map<std::string, std::string> attributes;
  std::string payload;
  std::uint64_t content_hash = 0; ///< xxh3-64 of `payload`
  std::uint32_t attempt = 0;      ///< tries before this one (0: first)
  std::int64_t origin_ts_ns = 0;
  std::int64_t ingest_ts_ns = 0;
  /// Sent by the reconciler: the stage re-derives its output for the key
  /// from the key's state (`behaviour::reconcile`); there is no payload.
  bool reconcile = false;
};

/// xxh3-64 of a byte string, the content hash used by skip-unchanged.
std::uint64_t content_hash(const std::string& bytes) noexcept;

} // namespace sluice
