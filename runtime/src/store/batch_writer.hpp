// Private: applies one write_batch inside an open LMDB write transaction
// (store::commit). Its phases live in batch_*.cpp: appends and routing,
// completions, statuses and re-drives, timers. Used by the writer thread
// only, one instance per transaction.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "lmdb_env.hpp"
#include "shard_changes.hpp"

namespace sluice {

/// Applies a batch inside an open write transaction. Every method writes
/// into that transaction and records what it did in `report`; on an error
/// the caller aborts the transaction and restores the seq counter.
class batch_writer {
public:
  batch_writer(store::impl& p, MDB_txn* t) : p_(p), t_(t) {}

  // -- appends and routing (batch_append.cpp) -------------------------------

  /// Queues an event for its stage, or for the outbox when its shard is
  /// owned elsewhere; drops it when its publish-once id was seen before.
  /// True when it was written, false when dropped so.
  result<bool> append(const queue_append& a);
  /// What a publish-once id decides for its event's appends (every route
  /// of an event has its key, so its shard).
  struct once_decision {
    bool skip = false; ///< published before: every route is dropped
    /// Queued by an earlier opening of the store at this position of the
    /// shard's log, which is not known here to have survived: appended
    /// again naming it, so the shard's owner drops it if it did.
    std::optional<repl_position> unsure{};
  };
  /// Looks `id` up in `seen` (and earlier in this batch) for an event of
  /// `shard`. An id recorded by this opening, or with no log position
  /// (the event went to this member's own outbox), is a duplicate; one an
  /// earlier opening queued in a shard's log is a duplicate only if that
  /// record survived into the shard's data here, and then the answer also
  /// waits for the shard's high-watermark (`commit_report::awaits`).
  result<once_decision> publish_once(const std::string& id,
                                     std::uint32_t shard);
  /// Records `id` as published now; `queued_at`: the record of `shard`'s
  /// log that queues its event (none: this member's outbox holds it).
  result<void> record_once(const std::string& id, std::uint32_t shard,
                           const std::optional<repl_position>& queued_at);
  /// The shard of an append's key (read from the event when not given).
  result<std::uint32_t> shard_of_append(const queue_append& a);
  /// Queues an event for the node that owns its shard: the forwarder
  /// ships it, and deletes it once the owner acknowledged it.
  /// `written_at`: the log record that queued it before (an event
  /// appended again), kept with the entry unless a key of this member
  /// produced it.
  result<void> to_outbox(const queue_append& a, std::uint32_t shard,
                         const std::optional<repl_position>& written_at);
  /// Records a source's offset.
  result<void> progress(const source_progress& sp);
  /// Writes a dead letter of `stage_id` (0: input that never became an
  /// event) at the next seq.
  result<void> dead_letter(std::uint32_t stage_id, const std::string& rec);
  /// Stores the seq counter in `meta`.
  result<void> save_seq();
  /// Writes the batch's replication records (see shard_changes) and
  /// reports their seqs.
  result<void> replicate();

  // -- completions (batch_complete.cpp) -------------------------------------

  /// Applies, defers or rejects one processed event (see store::commit).
  result<void> complete(const completion& c);
  /// The current version of (stage, key): from this batch, else from LMDB.
  result<std::uint64_t> version_of(const std::string& skey);
  /// Writes a key's state at `version`.
  result<void> put_state(const std::string& skey, std::uint64_t version,
                         const completion& c);

  // -- changelogs (changelog_write.cpp) -------------------------------------

  /// Keeps a change of (stage, key) for the stage's changelog, when it
  /// keeps one; `state_value` is the state record as written.
  result<void> log_change(std::uint32_t stage_id, const std::string& key,
                          std::string_view state_value);
  /// Writes the batch's changes into their changelogs (offsets from the
  /// seq counter, the time now), then prunes those logs to their
  /// retention. Last before the seq counter is saved.
  result<void> finish_changelogs();
  /// Prunes the changelogs this batch wrote to their retention.
  result<void> prune_changelogs();
  /// Replicated: tells `changes_` of the pruned entry `value` of
  /// `stage_id` and records its shard offset as its shard's last pruned.
  void note_pruned(std::uint32_t stage_id, std::string_view value,
                   std::map<std::uint32_t, std::uint64_t>& pruned_to);
  /// Replicated: tells `changes_` each pruned shard's new bound (its last
  /// pruned shard offset, or the bound it came with when that is later).
  result<void>
  replicate_bounds(std::uint32_t stage_id,
                   const std::map<std::uint32_t, std::uint64_t>& pruned_to);
  /// The epoch of `shard` here (0 on a single node), read once a batch:
  /// a cluster member's changelog entries carry it in their shard offset.
  result<std::uint64_t> shard_epoch(std::uint32_t shard);
  /// True when the batch wrote a changelog entry.
  bool changelog_written() const noexcept { return changelog_written_; }

  // -- statuses and re-drives (batch_status.cpp) ----------------------------

  /// True when the key's stored status waits for the queue entry at `pos`
  /// (seqs are unique across all queues, so the position names the entry).
  /// Reading is cheaper than rewriting the status each time.
  result<bool> status_awaits(const std::string& key, keys::queue_pos pos);
  /// Writes a key's status; `waits_for` is the queue entry it waits for.
  /// Protobuf merges concatenated messages, so the position is appended
  /// to the status bytes the processor built.
  result<void> put_status(const std::string& key, const std::string& status,
                          std::optional<keys::queue_pos> waits_for);
  /// A reconciler re-drive, applied only if the key is still stuck.
  result<void> apply(const redrive& r);

  // -- durable timers (batch_timers.cpp) ------------------------------------

  /// Applies a completion's timer ops in order: each replaces the durable
  /// timer of its name, and a durable set writes the new one. Every op is
  /// reported, for the stage supervisor's in-memory timers.
  result<void> timers(const completion& c);
  /// Deletes the durable timer at timers-db key `tk`, if there is one.
  result<void> drop_timer(std::uint32_t stage_id, const std::string& tk);
  /// Moves the stage's durable timers due by `f.up_to_ns` into its queue.
  /// A record that does not parse is dead-lettered, naming the timer.
  result<void> fire(const timer_fire& f);

  commit_report report;
  /// Fill `report.settled` (write_batch::report_settled).
  bool report_settled = false;
  /// True when the last append went to the outbox.
  bool last_outboxed() const noexcept { return last_outboxed_; }

private:
  /// While a key is being processed, `source_shard_` is its shard (with
  /// replication on).
  struct source_scope {
    source_scope(batch_writer& w, std::string_view key) : w_(w) {
      if (w.changes_.on())
        w.source_shard_ = shard_of(key);
    }
    ~source_scope() { w_.source_shard_.reset(); }
    source_scope(const source_scope&) = delete;
    source_scope& operator=(const source_scope&) = delete;
    batch_writer& w_;
  };

  store::impl& p_;
  MDB_txn* t_;
  bool last_outboxed_ = false;      ///< the last append went to the outbox
  once_decision once_;              ///< the last dedupe_id append's
  std::set<std::string> batch_ids_; ///< publish-once ids of this batch
  std::int64_t now_ns_ =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::unordered_map<std::string, std::uint64_t> versions_;
  /// Stages looked up for a changelog, and those that keep one.
  std::set<std::uint32_t> changelogs_checked_;
  std::map<std::uint32_t, store::impl::changelog_db> changelog_dbs_;
  /// Changes to log, in the order they were applied.
  struct pending_change {
    std::uint32_t stage_id = 0;
    std::string key;
    std::string state_value;
  };
  std::vector<pending_change> changelog_pending_;
  bool changelog_written_ = false;
  std::map<std::uint32_t, std::uint64_t> shard_epochs_;
  /// The batch's changes of shards' records, for replication.
  shard_changes changes_{p_};
  /// The shard of the key being processed (a completion, a re-drive, a
  /// timer firing): outbox entries written meanwhile are its records.
  std::optional<std::uint32_t> source_shard_;
};

} // namespace sluice
