// A stage's changelog: every committed change of a key's state, in the
// transaction that commits it, numbered by an offset that only grows, and
// pruned to the stage's retention. What change feeds read (sluice/feed.hpp);
// the writing side is the batch writer's (changelog_write.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/result.hpp"

namespace sluice {

class store;

/// How much of a stage's changelog is kept: at least this much, never less.
struct changelog_retention {
  std::uint64_t changes = 0;         ///< the last this many (0: by age)
  std::chrono::milliseconds span{0}; ///< the changes of this last span
  /// True when the stage keeps a changelog at all.
  bool on() const noexcept { return changes > 0 || span.count() > 0; }
};

/// A shard offset: where a change is in its shard's numbering, the same on
/// every member. A cluster member numbers its changes of a shard by the
/// shard's epoch (which grows with every hand-off) and its own seq, so a
/// new owner's changes come after every change an earlier owner made.
/// On a single node the epoch is 0: shard offsets are log offsets.
inline constexpr int shard_epoch_shift = 40;
/// The shard offset of seq `seq` at epoch `epoch`.
constexpr std::uint64_t shard_offset_of(std::uint64_t epoch,
                                        std::uint64_t seq) {
  return (epoch << shard_epoch_shift) | seq;
}
/// The epoch of a shard offset.
constexpr std::uint64_t epoch_of(std::uint64_t shard_offset) {
  return shard_offset >> shard_epoch_shift;
}
/// The seq of a shard offset.
constexpr std::uint64_t seq_of(std::uint64_t shard_offset) {
  return shard_offset & ((std::uint64_t{1} << shard_epoch_shift) - 1);
}

/// One committed change of a key's state.
struct changelog_entry {
  std::uint64_t offset = 0; ///< its place in the log (the store's seq)
  /// Its place in its shard's numbering (shard_offset_of; `offset` on a
  /// single node).
  std::uint64_t shard_offset = 0;
  std::int64_t ts_ns = 0;    ///< when it was committed (ns since the epoch)
  std::string key;           ///< whose state changed
  std::uint64_t version = 0; ///< the key's state version it wrote
  /// sluice.v1.KeyState as written: `cleared` when the state was removed.
  std::string key_state;
};

/// What a stage's changelog holds, read at one point.
struct changelog_span {
  /// Names this log: a changelog dropped and made again (the stage's
  /// `changelog:` removed, then added) gets another, so older cursors
  /// are told apart.
  std::uint64_t log_id = 0;
  /// Every change after this offset is kept; those at or before it were
  /// pruned (or came before the log).
  std::uint64_t low = 0;
  std::uint64_t head = 0;        ///< the last offset written (low: none)
  std::uint64_t entries = 0;     ///< changes kept
  std::int64_t oldest_ts_ns = 0; ///< the oldest kept change's time (0: none)
};

/// Changes after an offset, and the span they were read at.
struct changelog_batch {
  changelog_span span;                  ///< read in the same transaction
  std::vector<changelog_entry> entries; ///< in offset order
  /// The last offset read, also past entries the prefix left out (the
  /// `after` asked for when none was read).
  std::uint64_t passed = 0;
};

/// Key states of a stage, read in one short transaction.
struct state_chunk {
  /// The changelog's head in that transaction: the states hold every
  /// change up to it and none after.
  std::uint64_t head = 0;
  /// One key's state.
  struct entry {
    std::string key;
    std::uint64_t version = 0; ///< its state version
    std::string key_state;     ///< sluice.v1.KeyState
  };
  std::vector<entry> states; ///< in key order
  bool last = false;         ///< no key of the stage follows these
};

/// A shard a member holds (owns, or hands off), for change feeds read
/// through any member.
struct held_shard {
  std::uint32_t shard = 0;
  std::uint64_t epoch = 0; ///< its epoch here
  /// Its changelog entries a hand-off brought are after this offset of
  /// this member's log (0: none came: claimed or promoted here).
  std::uint64_t import_from = 0;
  /// This member's own entries of it are after this offset.
  std::uint64_t own_from = 0;
};

/// A member's changelog of a stage and the shards it holds, read in the
/// same transaction as what comes with it.
struct member_view {
  std::uint64_t log_id = 0;
  std::uint64_t low = 0;  ///< pruned up to here
  std::uint64_t head = 0; ///< the last offset written
  /// The store's last seq: no offset of this log is above it, even when
  /// the entries at the head went with a purge.
  std::uint64_t seq = 0;
  std::vector<held_shard> held; ///< in shard order
};

/// What a subscription asks of one member's changelog.
struct member_read {
  std::uint64_t after = 0; ///< read after this offset of the member's log
  /// Instead of `after`: from where `cursor` (per shard, the shard offset
  /// last passed; shard_count entries) needs, or a reset when the member
  /// cannot serve it.
  bool resume = false;
  std::vector<std::uint64_t> cursor;
  std::size_t max = 512; ///< entries looked at, at most
  std::string prefix;    ///< only keys starting with this
};

/// A member's changes of the shards it holds, in its log's order.
struct member_changes {
  member_view view;
  std::uint64_t from = 0;   ///< read after this offset (a resume's start)
  std::uint64_t passed = 0; ///< the last offset looked at
  std::vector<changelog_entry> entries;
  /// Not empty: the position asked for has left this member's log, or a
  /// resumed cursor cannot be served here. Why, for the subscriber.
  std::string reset;
};

/// Key states of the shards a member holds, one chunk.
struct member_states {
  /// `head`: the states hold every change up to it and none after it. A
  /// replicated owner's head is below what its replicas do not hold yet,
  /// and the keys those changes touched are left out: their changes come
  /// after the snapshot, once held (DBLog's watermarks).
  member_view view;
  std::vector<state_chunk::entry> states; ///< in key order
  std::string next_key; ///< the last key looked at: read after it next
  bool last = false;    ///< no key of the stage follows
};

/// Reads changelogs and states beside the writer (each call is one LMDB
/// read transaction: none is held between calls, so a slow reader pins no
/// pages). Safe from any thread; `st` must outlive it.
class changelog_reader {
public:
  explicit changelog_reader(const store& st) : st_(st) {}

  /// The id of stage `name`, which must keep a changelog: not_found for a
  /// stage the store does not know, config for one without `changelog:`.
  result<std::uint32_t> stage(const std::string& name) const;
  /// The stage's changelog as it is now.
  result<changelog_span> span(std::uint32_t stage_id) const;
  /// The changes after offset `after`, in offset order, of keys starting
  /// with `prefix`: at most `max` read (those the prefix leaves out
  /// count, but are neither copied nor returned).
  result<changelog_batch> read(std::uint32_t stage_id, std::uint64_t after,
                               std::size_t max,
                               std::string_view prefix = {}) const;
  /// How many changes follow offset `after`.
  result<std::uint64_t> count_after(std::uint32_t stage_id,
                                    std::uint64_t after) const;
  /// Up to `max` key states from `from` on (after it when `exclusive`;
  /// keys starting with `prefix` only, and `from` must too, or be empty).
  result<state_chunk> states(std::uint32_t stage_id, std::string_view from,
                             bool exclusive, std::string_view prefix,
                             std::size_t max) const;
  /// The changes of the shards this member holds (all, on a single node)
  /// as a subscription through any member reads them.
  result<member_changes> changes_held(std::uint32_t stage_id,
                                      const member_read& req) const;
  /// Key states of the shards this member holds: up to `max` looked at,
  /// after `after_key` (from the prefix when `first`).
  result<member_states> states_held(std::uint32_t stage_id,
                                    std::string_view after_key, bool first,
                                    std::string_view prefix,
                                    std::size_t max) const;
  /// How many commits wrote changelog entries so far (any stage).
  std::uint64_t commits() const;
  /// Waits until `commits()` differs from `seen`, or `timeout` passed.
  void wait(std::uint64_t seen, std::chrono::milliseconds timeout) const;

private:
  const store& st_;
};

} // namespace sluice
