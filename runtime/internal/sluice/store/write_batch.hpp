// The contents of one write transaction (`store::commit`): new events,
// processed events with everything they change, re-drives and timer fires.
// Plain values, built by any thread and applied by the store's writer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/store/keys.hpp"
#include "sluice/store/replication.hpp"

namespace sluice {

/// One event for a stage's durable queue; the store assigns its seq.
struct queue_append {
  std::uint32_t stage_id = 0; ///< the stage whose queue gets the event
  /// The priority class it is queued under; the event carries the same.
  sluice::priority priority = priority::normal;
  std::string event_bytes; ///< sluice.v1.Event
  /// The event's key, for placement; empty: read from `event_bytes` when
  /// a placement needs it.
  std::string key{};
  /// Publish once: the event's id. An id recorded in `seen` before (or
  /// earlier in the batch) makes the store drop this append and the
  /// `dedupe_follow` ones after it; a new id is recorded with it.
  std::string dedupe_id{};
  /// Another route of the event of the last `dedupe_id` append: dropped
  /// with it.
  bool dedupe_follow = false;
  /// The node's ticket for a published event whose completion it tracks
  /// (0: none): the store actor tells it where the append went.
  std::uint64_t done_ticket = 0;
  /// An event appended again because its shard was lost before the commit
  /// that first queued it here was replicated: that commit's position in
  /// the shard's log. It goes with the outbox entry to the new owner,
  /// which drops the event if its copy held that position (the epoch
  /// history, `store::receive_forwarded`).
  std::optional<repl_position> written_at{};
  /// Appended again for a lost shard (`written_at` says from where): its
  /// publish-once id, recorded with the first commit, is not checked
  /// again, only recorded as this member's own (the event waits in its
  /// outbox now, durable here).
  bool appended_again = false;
};

/// A timer a behaviour set or cancelled (`context::set_timer`), applied
/// with the completion of the event that asked for it.
struct timer_op {
  /// The timer's name within its key: an op replaces the pending timer of
  /// this name, whichever its kind.
  std::string name;
  bool cancel = false;  ///< cancel a pending timer of this name
  bool durable = false; ///< a set that is kept in LMDB (`timers`)
  /// When it fires (sets only): wall-clock ns since the Unix epoch.
  std::int64_t due_ns = 0;
  /// The class its event is queued under when it fires (sets only): that
  /// of the event that set it.
  sluice::priority priority = priority::normal;
  std::string event_bytes; ///< the sluice.v1.Event it fires (sets only)
};

/// Everything one processed event changes, committed all or nothing.
struct completion {
  std::uint32_t stage_id = 0;     ///< the stage that processed the event
  std::string key;                ///< the key it was processed for
  keys::queue_pos consumed;       ///< the queue entry it removes
  std::uint64_t base_version = 0; ///< state version the actor started from
  std::string key_state;          ///< sluice.v1.KeyState, stored at base+1
  std::string key_status;         ///< sluice.v1.KeyStatus; empty: unchanged
  /// The emitted events, routed: one append per subscribing stage, in
  /// emit order.
  std::vector<queue_append> emits;
  std::string dead_letter; ///< sluice.v1.DeadLetter; empty: none
  /// sluice.v1.RetryRecord: the event failed and waits for another try.
  /// Its queue entry stays; the record goes into `retries`.
  std::string retry;
  std::int64_t retry_due_ns = 0; ///< when the retry is due
  bool clear_retry = false;      ///< the key's pending retry is settled
  /// Index into `emits` of the entry `key_status` waits for (-1: none);
  /// the store records that entry's queue position in the status.
  int status_emit = -1;
  bool touch_state = true; ///< false: no key (an undecodable event)
  /// The stage keeps no state (`state: none`): no state record is read or
  /// written and no version checked; the queue entry, the status, retries,
  /// dead letters and emits are applied as for any completion.
  bool stateless = false;
  /// An unchanged event's acknowledgement: the version is checked, but the
  /// state is not rewritten, and `key_status` is written only if the key's
  /// status waits for this very entry (so it moves on); else it is left.
  bool ack_only = false;
  /// Timers set or cancelled by the event, in call order. Durable sets are
  /// written to LMDB; every op is reported to the stage's supervisor, which
  /// keeps in-memory timers.
  std::vector<timer_op> timers;
  bool urgent = false;           ///< commit without waiting for more
  std::int64_t ingest_ts_ns = 0; ///< when the root event was accepted
  std::uint32_t deferrals = 0;   ///< times the store put it back
  /// The processed event's id (its emits' ids start with it), for the
  /// node's completion tracking (`commit_report::settled`).
  std::string event_id{};
};

/// A stuck key the reconciler re-drives: `event_bytes` (a reconcile
/// event) is appended to `stage_id`'s queue and the key's status replaced
/// by `new_status`, but only if its status still is `seen_status` and the
/// queue entry that status waits for is still missing. Checked and written
/// in the commit's transaction, so a key that moved meanwhile is left be.
struct redrive {
  std::string key;                  ///< the stuck key
  std::string seen_status;          ///< sluice.v1.KeyStatus as the scan read it
  std::uint32_t waits_stage_id = 0; ///< the stage the status waits in
  /// The reconcile event, for the queue of the stage whose output was
  /// lost.
  queue_append append;
  /// sluice.v1.KeyStatus to store once it applies; the store adds the
  /// position of the appended entry, which the status then waits for.
  std::string new_status;
};

/// A source's progress, committed with the events it produced.
struct source_progress {
  std::string source; ///< the source's name, its key in `offsets`
  std::string record; ///< sluice.v1.SourceOffset
};

/// Fires the durable timers of `stage_id` due at or before `up_to_ns`: each
/// moves from `timers` into the stage's queue as an event.
struct timer_fire {
  std::uint32_t stage_id = 0; ///< the stage whose timers fire
  /// Fire those due at or before this time (ns since the Unix epoch).
  std::int64_t up_to_ns = 0;
};

/// The contents of one write transaction.
struct write_batch {
  /// New events (published or fed), each for one stage's queue.
  std::vector<queue_append> appends;
  /// Source offsets, committed with the events they cover.
  std::vector<source_progress> progress;
  /// Processed events; each is applied, deferred or rejected on its own
  /// (see `store::commit`).
  std::vector<completion> completions;
  /// sluice.v1.DeadLetter records of input that never became an event,
  /// stored under stage id 0.
  std::vector<std::string> dead_letters;
  std::vector<redrive> redrives;       ///< reconciler re-drives
  std::vector<timer_fire> timer_fires; ///< due durable timers to queue
  /// Follower (a store with replication): batches of log records shipped
  /// by owners, applied to this member's replica copies in the same
  /// transaction (one fsync for all), each reported on its own in
  /// `commit_report::copies`; see `store::apply_replicated`.
  std::vector<std::vector<replog_entry>> copies;
  /// Report what each applied completion and append settled
  /// (`commit_report::settled`, `outboxed_appends`): the node tracks the
  /// completion of published events. Off: nothing is reported.
  bool report_settled = false;

  /// True when the batch holds nothing to write.
  bool empty() const noexcept {
    return appends.empty() && progress.empty() && completions.empty()
           && dead_letters.empty() && redrives.empty() && timer_fires.empty()
           && copies.empty();
  }
  /// The number of items in all lists together (a shipped batch counts
  /// its records): the batch's size in records, as the node's commit
  /// batch limit counts it.
  std::size_t size() const noexcept {
    auto n = appends.size() + progress.size() + completions.size()
             + dead_letters.size() + redrives.size() + timer_fires.size();
    for (auto& c : copies)
      n += c.size();
    return n;
  }
};

} // namespace sluice
