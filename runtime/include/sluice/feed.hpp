// Change feeds: subscribe to a stage's key states. A subscription with no
// cursor first receives every key's state (a snapshot, read in chunks and
// made consistent with the changes that happened meanwhile), then a
// `snapshot_end` carrying the cursor, then each committed change as it
// happens. A cursor resumes after the last change received; one whose
// changes have left the stage's changelog gets `reset` and a new snapshot.
// What `GET /v1/feed/STAGE` serves (sluice::node::subscribe).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice {

/// What a subscription asks for.
struct feed_options {
  /// Where to resume: the `cursor` of the last event received. Empty: a
  /// snapshot first. Opaque; a malformed one is an invalid_argument error.
  std::string cursor;
  std::string prefix;            ///< only keys starting with this
  std::vector<std::string> keys; ///< only these keys (empty: every key)
  /// Only states whose fields match, as a JSON filter policy (the
  /// topology's filter language): `{"field": ["v1", "v2"], "a.b": [3]}`.
  /// A field is a member of the state's JSON (dotted for nested ones); a
  /// state matches when every listed field has one of its values. A
  /// removal passes (the removed state has no fields to test).
  std::string filter;
  /// Only changes made by events whose attributes match, as a JSON filter
  /// policy (the topology's subscription filters, SNS style):
  /// `{"tier": ["gold", "silver"]}`: every listed attribute present with
  /// one of its values. A snapshot event is tested with the attributes of
  /// the event that last changed its key.
  std::string attributes;
  /// Who subscribes, for the console (e.g. "127.0.0.1:52814").
  std::string client;
  std::size_t snapshot_chunk = 1024; ///< keys read per read transaction
  /// States as the behaviour stores them (`feed_event::state`, bytes),
  /// not rendered as JSON: for typed clients that decode them, and the
  /// fastest cold start (no renderer). A field filter still renders them
  /// to test them.
  bool raw_state = false;
};

/// What a feed event is.
enum class feed_event_kind {
  snapshot,     ///< a key's state as of the snapshot
  snapshot_end, ///< the snapshot is complete (sent even when empty)
  change,       ///< a key's new state
  removed,      ///< a key's state was removed
  reset,        ///< the cursor cannot resume: a new snapshot follows
  progress,     ///< the cursor moved past changes the filters left out
};

/// "snapshot", "snapshot_end", "change", "removed", "reset", "progress".
const char* to_string(feed_event_kind kind) noexcept;

/// One event of a subscription.
struct feed_event {
  feed_event_kind kind = feed_event_kind::change; ///< what it is
  std::string key;        ///< the key (snapshot, change, removed)
  std::string state_json; ///< its state as JSON (snapshot, change)
  std::string state;      ///< its state as stored (raw_state only)
  std::string event_id;   ///< the event that made the change
  /// That event's attributes (snapshot: the last change's).
  std::map<std::string, std::string> attributes;
  std::int64_t ts_ns = 0;    ///< when it was committed (ns since the epoch)
  std::uint64_t version = 0; ///< the key's state version
  std::uint64_t offset = 0;  ///< its place in its shard's changelog
  std::uint32_t shard = 0;   ///< the key's shard
  /// Where to resume after this event; empty for snapshot events (a
  /// subscription interrupted mid-snapshot starts over).
  std::string cursor;
  std::string reason;     ///< reset: why the cursor could not resume
  std::uint64_t keys = 0; ///< snapshot_end: keys the snapshot sent
};

/// A live subscription. Pulls from the store at its own pace: a slow
/// reader holds no more than one batch and never slows the pipeline. Use
/// from one thread at a time.
class feed_subscription {
public:
  virtual ~feed_subscription() = default;
  /// Appends up to `max` events to `out`; when none is ready, waits up to
  /// `wait` for a commit. Returns with nothing when the wait passed (send
  /// a heartbeat). Errors: unavailable once the node stops; storage or
  /// corrupt when the store fails.
  virtual result<void> next(std::vector<feed_event>& out, std::size_t max,
                            std::chrono::milliseconds wait) = 0;
  /// The cursor after the last event returned (empty during a snapshot).
  virtual const std::string& cursor() const = 0;
};

/// A live subscription as the console shows it.
struct feed_subscriber {
  std::uint64_t id = 0;          ///< numbered from 1 per node
  std::string stage;             ///< the stage it follows
  std::string client;            ///< feed_options::client
  std::string phase;             ///< "snapshot", "catch-up" or "live"
  std::int64_t since_ns = 0;     ///< when it subscribed
  std::uint64_t delivered = 0;   ///< events sent so far
  std::uint64_t position = 0;    ///< the last offset it passed
  std::uint64_t head = 0;        ///< the stage's last offset when it last read
  std::uint64_t lag_changes = 0; ///< changes between them
  double lag_seconds = 0;        ///< age of the oldest change it has not passed
};

} // namespace sluice
