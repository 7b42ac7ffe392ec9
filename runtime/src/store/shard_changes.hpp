// Private: the seam of replication capture. Every write of a shard's record
// (queued event, state, status, retry, timer, watermark, dead letter,
// outbox entry) tells a shard_changes next to its mdb_put or mdb_del;
// `flush` then writes, in the same transaction, one replication record per
// shard owned here. With replication off every call returns at once.
// Writer thread only, one instance per write transaction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "lmdb_env.hpp"
#include "outbox_source.hpp"

namespace sluice {

class shard_changes {
public:
  explicit shard_changes(store::impl& p) : p_(p), on_(p.replicating()) {}

  /// True when writes are captured.
  bool on() const noexcept { return on_; }

  /// A queued event of `stage_id` at `pos`, put or deleted; its shard is
  /// `key`'s (empty: read from `event`; an event that does not decode is
  /// nobody's).
  void queued(std::uint32_t stage_id, keys::queue_pos pos, std::string_view key,
              std::string_view event, bool erase) {
    if (on_)
      add_queued(stage_id, pos, key, event, erase);
  }
  /// A key's state of `stage_id` put (value: version + KeyState).
  void state(std::uint32_t stage_id, std::string_view key,
             std::string_view value) {
    if (on_)
      add(handoff_record::kind::state, stage_id, key, {}, {}, value, false);
  }
  /// A key's status put.
  void status(std::string_view key, std::string_view value) {
    if (on_)
      add(handoff_record::kind::status, 0, key, {}, {}, value, false);
  }
  /// A key's retry of `stage_id` put or deleted.
  void retry(std::uint32_t stage_id, std::string_view key,
             std::string_view value, bool erase) {
    if (on_)
      add(handoff_record::kind::retry, stage_id, key, {}, {}, value, erase);
  }
  /// A key's durable timer put (value: TimerRecord) or deleted.
  void timer(std::uint32_t stage_id, std::string_view key,
             std::string_view name, std::string_view value, bool erase) {
    if (on_)
      add(handoff_record::kind::timer, stage_id, key, name, {}, value, erase);
  }
  /// A forwarding watermark of `shard` put.
  void inbox(std::uint32_t shard, priority prio, std::string_view sender,
             std::string_view value);
  /// A dead letter (`stage_id`, `seq`) put or deleted: its shard is its
  /// key's (DeadLetter.key); one without a key is nobody's.
  void dead_letter(std::uint32_t stage_id, std::uint64_t seq,
                   std::string_view value, bool erase) {
    if (on_)
      add_dead_letter(stage_id, seq, value, erase);
  }
  /// A changelog entry of `stage_id` for `key` at shard offset
  /// `shard_offset`, written (value: the entry as stored) or pruned.
  void changelog(std::uint32_t stage_id, std::string_view key,
                 std::uint64_t shard_offset, std::string_view value,
                 bool erase);
  /// The bound of `stage_id`'s changelog of `shard` (the shard offset
  /// after which it is complete), raised by pruning.
  void changelog_bound(std::uint32_t stage_id, std::uint32_t shard,
                       std::uint64_t bound);
  /// An outbox entry that processing a key of `source_shard` produced, put
  /// or deleted: `stage_id` is its queue at the owner of its own key;
  /// `origin` as `outbox_src` records it.
  void outbox(std::uint32_t source_shard, std::uint32_t stage_id,
              keys::queue_pos pos, std::string_view event,
              const std::optional<outbox_origin>& origin, bool erase);

  /// The origin of the next outbox entry a key of `source_shard` produces
  /// in this transaction: the position `flush` writes the shard's record
  /// at, and the entry's index among the transaction's entries of the
  /// shard (so origins rise in outbox order). Nullopt when the shard is
  /// not owned here (its entry is this member's alone: no record of it is
  /// replicated). Capture on only.
  result<std::optional<outbox_origin>> next_origin(MDB_txn* t,
                                                   std::uint32_t source_shard);
  /// The position `flush` writes `shard`'s record at in this transaction
  /// (read once per transaction, as for `next_origin`); nullopt when the
  /// shard is not owned here.
  result<std::optional<repl_position>> next_position(MDB_txn* t,
                                                     std::uint32_t shard);

  /// Writes, in `t`, one replication record per shard changed that is
  /// owned here (has a shard record; the others are dropped), at the
  /// shard's epoch and next seq; returns shard -> the seq written.
  result<std::map<std::uint32_t, std::uint64_t>> flush(MDB_txn* t);
  /// The epoch of each record the last `flush` wrote, per shard.
  const std::map<std::uint32_t, std::uint64_t>& flushed_epochs() const {
    return epochs_;
  }

private:
  /// `shard`'s entry of `origins_`, read from `t` the first time.
  result<std::optional<outbox_origin>*> origin_slot(MDB_txn* t,
                                                    std::uint32_t shard);
  void add(handoff_record::kind what, std::uint32_t stage_id,
           std::string_view key, std::string_view name, keys::queue_pos pos,
           std::string_view value, bool erase);
  void add_queued(std::uint32_t stage_id, keys::queue_pos pos,
                  std::string_view key, std::string_view event, bool erase);
  void add_dead_letter(std::uint32_t stage_id, std::uint64_t seq,
                       std::string_view value, bool erase);
  void note(handoff_record r, bool erase);

  store::impl& p_;
  bool on_;
  /// Per source shard, the origin its next outbox entry gets (nullopt:
  /// not owned here).
  std::map<std::uint32_t, std::optional<outbox_origin>> origins_;
  /// Per shard, its changes in write order: the record and whether it is
  /// a delete.
  std::map<std::uint32_t, std::vector<std::pair<handoff_record, bool>>>
      by_shard_;
  std::map<std::uint32_t, std::uint64_t> epochs_; ///< of the last flush
};

/// The position the next replication record of `shard` is written at in
/// `t`: its shard record's epoch, the seq after its `replog_head`;
/// nullopt when the shard is not owned here (no shard record).
result<std::optional<repl_position>>
next_log_position(MDB_txn* t, const store::impl& p, std::uint32_t shard);

/// Deletes every replication record of `shard` within `t` (its log is
/// void once another member's copy replaces it). Writer thread only.
result<void> drop_replog(MDB_txn* t, store::impl& p, std::uint32_t shard);

} // namespace sluice
