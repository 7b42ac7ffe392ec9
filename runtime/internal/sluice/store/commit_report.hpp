// What one commit of the store did (`store::commit`'s answer): what it
// consumed, rejected, retried and deferred, what it appended and where,
// its replication records, and what completion tracking needs. Plain
// values, read by the store actor and the stage supervisors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sluice/store/keys.hpp"
#include "sluice/store/replication.hpp"
#include "sluice/store/write_batch.hpp"

namespace sluice {

/// A queue entry identified by stage.
struct queue_ref {
  std::uint32_t stage_id = 0; ///< the stage whose queue holds the entry
  keys::queue_pos pos;        ///< the entry's position in that queue
  /// When its root event was accepted (ns since the Unix epoch; 0 when
  /// unknown), for the end-to-end latency.
  std::int64_t ingest_ts_ns = 0;
};

/// A failed event that stays queued until `due_ns`.
struct retry_ref {
  queue_ref ref;           ///< the failed event's queue entry
  std::int64_t due_ns = 0; ///< when it is tried again (ns since the epoch)
};

/// A timer op of an applied completion, for the stage's supervisor.
struct timer_change {
  std::uint32_t stage_id = 0; ///< the stage the timer belongs to
  std::string key;            ///< the key that set or cancelled it
  /// The op as applied. A durable set's `event_bytes` is cleared: the
  /// event is stored, and the stage supervisor needs only the due time.
  timer_op op;
};

/// A completion a commit applied, as the node's completion tracking needs
/// it (`write_batch::report_settled`).
struct settled_event {
  std::string event_id;        ///< the processed event's id
  std::uint32_t queued = 0;    ///< its emits queued on this node
  std::uint32_t forwarded = 0; ///< its emits put into the outbox
  bool dead_lettered = false;  ///< it went to dead letters
};

/// What a commit did, for waking stage supervisors and releasing credits.
struct commit_report {
  /// Events appended per stage id, indexed by priority.
  std::map<std::uint32_t, std::array<std::uint64_t, 2>> appended;
  std::vector<queue_ref> consumed; ///< completions that were applied
  /// Completions from a state version behind the stored one: the key's
  /// actor is out of date; its queue entry is still there.
  std::vector<queue_ref> rejected;
  /// Completions whose queue entry is gone (consumed by someone else, or
  /// dropped): nothing to redo.
  std::vector<queue_ref> duplicates;
  std::vector<retry_ref> retried;   ///< failed; stay queued until due
  std::vector<completion> deferred; ///< wait for an earlier version; resend
  /// Dead letters written: a completion's, the batch's own, and those of
  /// timer records that did not parse.
  std::size_t dead_letters = 0;
  std::size_t redriven = 0; ///< reconciler re-drives applied
  /// Timer ops of the applied completions, in commit order.
  std::vector<timer_change> timers;
  std::size_t timers_fired = 0; ///< durable timers moved into queues
  /// Appends that went to the outbox: their key's shard is owned by
  /// another node.
  std::size_t outboxed = 0;
  /// Events dropped because their id was published once before.
  std::size_t deduplicated = 0;
  /// The batch's appends not written for that reason (with those that
  /// follow one: `queue_append::dedupe_follow`), as indexes into
  /// `write_batch::appends`, ascending.
  std::vector<std::size_t> skipped_appends;
  /// Shards became dispatchable here (acquired or reclaimed): stage supervisors
  /// read their queues again from the start.
  bool rewind = false;
  /// Records written: appends, source offsets, dead letters, timer ops
  /// and applied completions (rejected, duplicate and deferred ones are
  /// not).
  std::size_t records = 0;
  /// With `store_options::replicated`: per shard the commit changed, the
  /// seq of the replication record it wrote.
  std::map<std::uint32_t, std::uint64_t> replicated;
  /// The epoch each of those records was written at (same shards).
  std::map<std::uint32_t, std::uint64_t> replicated_epochs;
  /// Per shard, a seq of its log the commit's answer waits for besides
  /// its own records: a publish-once retry dropped because an earlier
  /// opening of the store queued the event in that shard's log, whose
  /// record may not be replicated yet.
  std::map<std::uint32_t, std::uint64_t> awaits;
  /// Outbox entries written that belong to no shard here (events fed or
  /// published through this member for keys owned elsewhere).
  std::vector<keys::queue_pos> member_outbox;
  /// What each of `write_batch::copies` did, in the same order.
  std::vector<replica_report> copies;
  /// With `write_batch::report_settled`: the applied completions, in
  /// order, and the indexes into `write_batch::appends` that went to the
  /// outbox (ascending).
  std::vector<settled_event> settled;
  std::vector<std::size_t> outboxed_appends;
};

} // namespace sluice
