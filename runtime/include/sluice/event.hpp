// The event as behaviours see it: a plain value type, no protobuf, no CAF.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace sluice {

/// Two priority classes. Urgent overtakes normal at every hop: the durable
/// queue order, the actor mailbox and the store's commit batch.
enum class priority : std::uint8_t { urgent = 0, normal = 1 };

/// The name of `p`: "urgent" or "normal", a static string.
const char* to_string(priority p) noexcept;

/// One event. `id` is unique and stable across retries; `key` decides
/// ordering and ownership; `attributes` feed subscription filters.
struct event {
  /// Unique per event and stable across retries. A feed record's is the
  /// file's base name and line (`npm:12`); an emitted event's is derived
  /// from its parent's.
  std::string id;
  /// The topic it was published or emitted on; routing sets it.
  std::string topic;
  /// The ordering and ownership key: one key's events run in order, by
  /// the key's actor. An emit without one gets its parent's key.
  std::string key;
  /// The tenant it belongs to. Carried along (an emit without one gets its
  /// parent's), not interpreted by the runtime.
  std::string tenant;
  /// Its priority class; the subscription that routes it to a stage may
  /// override it. An urgent event's emits are urgent too.
  sluice::priority priority = priority::normal;
  /// Name/value pairs for subscription filters and priority rules. An emit
  /// without any gets its parent's.
  std::map<std::string, std::string> attributes;
  std::string payload; ///< the bytes the behaviour handles; opaque to Sluice
  std::uint64_t content_hash = 0; ///< xxh3-64 of `payload`
  std::uint32_t attempt = 0;      ///< tries before this one (0: first)
  /// When the source produced it (ns since the Unix epoch; 0 when
  /// unknown). Emits keep their parent's.
  std::int64_t origin_ts_ns = 0;
  /// When this node accepted it (ns since the Unix epoch): set at publish
  /// when 0, and by the feed. Emits keep their parent's, so stage latencies
  /// are end to end.
  std::int64_t ingest_ts_ns = 0;
  /// Sent by the reconciler: the stage re-derives its output for the key
  /// from the key's state (`behaviour::reconcile`); there is no payload.
  bool reconcile = false;
  /// A fired timer: the name it was set under (`context::set_timer`); the
  /// payload is the one given there. Empty for every other event.
  std::string timer;
  /// Processed even if its payload is unchanged: `skip_unchanged` does not
  /// skip it (an on-demand refresh a user asked for). Emits do not inherit
  /// it.
  bool refresh = false;
};

/// xxh3-64 of a byte string, the content hash used by skip-unchanged.
std::uint64_t content_hash(const std::string& bytes) noexcept;

} // namespace sluice
