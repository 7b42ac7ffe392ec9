// The LMDB store of one node: named databases, big-endian tuple keys, and
// one write transaction per batch (group commit). One thread writes (the
// store actor); any thread may read, concurrently with the writer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/placement.hpp"
#include "sluice/result.hpp"
#include "sluice/store/cluster_records.hpp"
#include "sluice/store/keys.hpp"

namespace sluice {

/// How a data directory is opened.
struct store_options {
  /// The data directory, holding LMDB's data.mdb and lock.mdb. Must not be
  /// empty; created (with its parents) unless `read_only`.
  std::string dir;
  std::uint64_t map_size = std::uint64_t{64} << 30; ///< virtual; file grows
  bool sync = true;       ///< fsync every commit (false: the OS decides)
  bool read_only = false; ///< for export and inspection beside a writer
  /// A cluster member's shard ownership: loaded from the `shards`
  /// database at open, consulted by every append (events for shards owned
  /// elsewhere go to the `outbox`) and completion (a shard owned elsewhere
  /// is fenced). Null: a single node, every key is local.
  std::shared_ptr<sluice::placement> place{};
};

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

  /// True when the batch holds nothing to write.
  bool empty() const noexcept {
    return appends.empty() && progress.empty() && completions.empty()
           && dead_letters.empty() && redrives.empty() && timer_fires.empty();
  }
  /// The number of items in all lists together: the batch's size in
  /// records, as the node's commit batch limit counts it.
  std::size_t size() const noexcept {
    return appends.size() + progress.size() + completions.size()
           + dead_letters.size() + redrives.size() + timer_fires.size();
  }
};

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
  /// Shards became dispatchable here (acquired or reclaimed): stage supervisors
  /// read their queues again from the start.
  bool rewind = false;
  /// Records written: appends, source offsets, dead letters, timer ops
  /// and applied completions (rejected, duplicate and deferred ones are
  /// not).
  std::size_t records = 0;
};

/// A pending durable timer as stored in `timers`.
struct stored_timer {
  std::string key;         ///< the key that set it
  std::string name;        ///< its name within the key
  std::int64_t due_ns = 0; ///< when it fires (ns since the Unix epoch)
  std::string event_bytes; ///< the sluice.v1.Event it fires
};

/// A pending retry as stored in `retries`.
struct stored_retry {
  std::string key;         ///< the key whose event failed
  keys::queue_pos pos;     ///< the failed event's entry; it stays queued
  std::int64_t due_ns = 0; ///< when the next try is due (ns since epoch)
  std::string record;      ///< sluice.v1.RetryRecord
};

/// A stored key state: its version and `sluice.v1.KeyState` bytes.
struct stored_state {
  /// The state version: one more with every completion that wrote it.
  std::uint64_t version = 0;
  std::string key_state; ///< sluice.v1.KeyState
};

/// A queued event as read from a stage queue.
struct queued_event {
  keys::queue_pos pos; ///< its position in the stage's queue
  std::string bytes;   ///< sluice.v1.Event
};

/// A stage's name, id and behaviour as recorded in `meta`.
struct stage_record {
  std::string name; ///< the stage's name in the topology
  /// Its id, given on first registration and kept after (from 1; stage id
  /// 0 stands for ingest).
  std::uint32_t id = 0;
  std::string behaviour; ///< the behaviour it was last registered with
};

/// The LMDB environment of one data directory. Open once per process.
class store {
public:
  /// Opens (and with !read_only, creates) the data directory. Errors name
  /// the directory and what is wrong with it.
  static result<std::unique_ptr<store>> open(const store_options& opts);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// The data directory it was opened with (`store_options::dir`).
  const std::string& dir() const noexcept;

  // -- writer thread only ---------------------------------------------------

  /// The id of stage `name`, recorded on first use.
  result<std::uint32_t> register_stage(const std::string& name,
                                       const std::string& behaviour);

  /// Applies `batch` in one transaction and fsyncs (when sync is on).
  /// Completions whose base version is ahead of the stored one are
  /// deferred; those behind it, or whose queue entry is gone, are rejected.
  result<commit_report> commit(write_batch batch);

  /// A dead letter's address: its stage id (0 for ingest) and seq.
  using dead_letter_ref = std::pair<std::uint32_t, std::uint64_t>;

  /// Moves dead letters back into their stage's queue, as new entries at
  /// their event's priority with the attempt count raised by one, and
  /// deletes them, in one transaction. An unknown id, or one that holds no
  /// event (input that never decoded), is an error naming it, and nothing
  /// moves. Safe beside a running node (LMDB serializes writers).
  result<std::size_t>
  redrive_dead_letters(const std::vector<dead_letter_ref>& ids);

  /// Deletes dead letters in one transaction; an unknown id is an error and
  /// nothing is deleted.
  result<std::size_t>
  drop_dead_letters(const std::vector<dead_letter_ref>& ids);

  /// Deletes every queue entry of `stage_id`. For tests and tools.
  result<void> clear_queue(std::uint32_t stage_id);

  /// Deletes one queue entry behind the runtime's back. For fault-injection
  /// tests (a lost message); false when it was not there.
  result<bool> delete_entry(std::uint32_t stage_id, keys::queue_pos pos);

  // -- any thread -----------------------------------------------------------

  /// All stages recorded in this directory.
  result<std::vector<stage_record>> stages() const;

  /// Up to `max` entries of one priority class with seq >= `from.seq`.
  result<std::vector<queued_event>> read_queue(std::uint32_t stage_id,
                                               keys::queue_pos from,
                                               std::size_t max) const;

  /// Entries queued in all stages together, read in one snapshot: zero
  /// means the node has nothing left to do.
  result<std::uint64_t> queued_total() const;

  /// Queued entries per priority class [urgent, normal].
  result<std::array<std::uint64_t, 2>>
  queue_depth(std::uint32_t stage_id) const;

  /// The stored state of (stage, key), or nullopt when the key is new.
  result<std::optional<stored_state>> read_state(std::uint32_t stage_id,
                                                 const std::string& key) const;

  /// Calls `fn(key, state)` for every key of a stage in key order; stops
  /// early when fn returns false.
  result<void> scan_states(
      std::uint32_t stage_id,
      const std::function<bool(const std::string&, const stored_state&)>& fn)
      const;

  /// A source's recorded progress (`sluice.v1.SourceOffset` bytes).
  result<std::optional<std::string>>
  read_progress(const std::string& source) const;

  /// `sluice.v1.KeyStatus` bytes of a key, if any.
  result<std::optional<std::string>> read_status(const std::string& key) const;

  /// Calls `fn(key, KeyStatus bytes, waits)` for every key with a status, in
  /// key order, in one snapshot. `waits` tells whether the queue entry a
  /// PHASE_QUEUED status points at is still queued (false for others).
  /// Stops early when fn returns false.
  result<void> scan_status(
      const std::function<bool(const std::string&, const std::string&, bool)>&
          fn) const;

  /// The queued event at `pos` of a stage, if it is still queued.
  result<std::optional<std::string>> read_entry(std::uint32_t stage_id,
                                                keys::queue_pos pos) const;

  /// The pending retry of (stage, key), if any.
  result<std::optional<stored_retry>> read_retry(std::uint32_t stage_id,
                                                 const std::string& key) const;

  /// Every pending retry of a stage.
  result<std::vector<stored_retry>> scan_retries(std::uint32_t stage_id) const;

  /// When the stage's earliest pending durable timer is due; nullopt when
  /// it has none.
  result<std::optional<std::int64_t>>
  next_timer_due(std::uint32_t stage_id) const;

  /// Durable timers pending in all stages together.
  result<std::uint64_t> timers_pending() const;

  /// The pending durable timers of (stage, key), by name.
  result<std::vector<stored_timer>> read_timers(std::uint32_t stage_id,
                                                const std::string& key) const;

  /// Calls `fn(stage_id, seq, DeadLetter bytes)` for every dead letter.
  result<void>
  scan_dead_letters(const std::function<bool(std::uint32_t, std::uint64_t,
                                             const std::string&)>& fn) const;

  /// Overwrites raw bytes in a named database. For fault-injection tests.
  result<void> put_raw(const std::string& db, const std::string& key,
                       const std::string& value);

  // -- cluster: outbox, forwarded events, shard ownership, hand-off -------
  // Writers: the store actor's thread only. Readers: any thread.

  /// This data directory's shard records (`shards`), by shard.
  result<std::vector<shard_record>> shard_records() const;

  /// Raises and returns the node's incarnation (`meta`): one more at every
  /// start, so the cluster tells a restarted node from its former self.
  result<std::uint64_t> next_incarnation();

  /// The incarnation last recorded; 0 when the directory never belonged
  /// to a cluster member.
  result<std::uint64_t> incarnation() const;

  /// Makes a new cluster's first node own every shard at epoch 1. Refused
  /// (errc::invalid_argument) when the directory already records shards.
  result<void> claim_all_shards();

  /// Up to `max` outbox entries from `from` on, urgent before normal.
  result<std::vector<outbox_entry>> read_outbox(keys::queue_pos from,
                                                std::size_t max) const;

  /// Outbox entries waiting to be forwarded.
  result<std::uint64_t> outbox_depth() const;

  /// Deletes acknowledged outbox entries.
  result<void> delete_outbox(const std::vector<keys::queue_pos>& done);

  /// Appends events another node forwarded, in one transaction: those of
  /// shards not owned here are refused (the sender retries), those at or
  /// below the sender's watermark for their shard and priority class are
  /// dropped as duplicates (the outbox sends urgent entries first, so seqs
  /// rise within a class), the rest are queued and raise the watermark.
  result<forward_receipt> receive_forwarded(const std::string& sender,
                                            std::vector<forwarded_event> evs);

  /// Starts handing `shards` off to `target` under `transfer`: persisted,
  /// so a restart resumes it; the shards stop being dispatched, and new
  /// events for them go to the outbox.
  result<void> mark_leaving(const std::vector<std::uint32_t>& shards,
                            const std::string& target, std::uint64_t transfer);

  /// Calls `fn` for every record of `shards` in one read snapshot: queued
  /// events first (every stage, queue order), then states, retries,
  /// statuses, durable timers and forwarding watermarks. Stops early when
  /// fn returns false.
  result<void>
  scan_handoff(const std::vector<std::uint32_t>& shards,
               const std::function<bool(handoff_record&)>& fn) const;

  /// Receiving side: deletes whatever an interrupted transfer of `shards`
  /// left here (they must not be owned here), before a transfer starts.
  result<void> begin_import(const std::vector<std::uint32_t>& shards);

  /// Writes transferred records (of shards not owned here yet). Queued
  /// events get fresh seqs in their original order; statuses and retries
  /// are pointed at the new positions.
  result<void> import_handoff(std::vector<handoff_record> recs);

  /// Receiving side: the transfer is complete; the shards are owned here
  /// at `epoch` from now on. The report asks the stage supervisors to rewind.
  result<commit_report> acquire_shards(const std::vector<std::uint32_t>& shards,
                                       std::uint64_t epoch);

  /// Sending side, once the receiver owns them: deletes every record of
  /// `shards` and their shard records; they become remote.
  result<void> release_shards(const std::vector<std::uint32_t>& shards);

  /// Sending side, when the receiver refused: the shards are owned and
  /// dispatched here again. The report asks the stage supervisors to rewind.
  result<commit_report>
  reclaim_shards(const std::vector<std::uint32_t>& shards);

  // -- publish-once ids ----------------------------------------------------

  /// Forgets publish-once ids recorded before `before_ns` (ns since the
  /// Unix epoch); returns how many. Writer thread only (or before the
  /// store actor runs).
  result<std::size_t> prune_seen(std::int64_t before_ns);

  // -- the on-demand catalog ---------------------------------------------

  /// What the `catalog` database was indexed from (a file's path, size and
  /// modification time, as the caller identified it), or "" when empty.
  result<std::string> catalog_source() const;

  /// Replaces the catalog with `entries` (key, sluice.v1.Event), recorded
  /// as indexed from `source`, in one transaction. Writer thread only (or
  /// before the store actor runs).
  result<std::size_t> index_catalog(
      const std::string& source,
      const std::vector<std::pair<std::string, std::string>>& entries);

  /// The catalog's event (sluice.v1.Event) for `key`, if it has one.
  result<std::optional<std::string>>
  catalog_entry(const std::string& key) const;

  struct impl;

private:
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace sluice
