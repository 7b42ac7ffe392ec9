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

/// One committed change of a key's state.
struct changelog_entry {
  std::uint64_t offset = 0;  ///< its place in the log (the store's seq)
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
  /// How many commits wrote changelog entries so far (any stage).
  std::uint64_t commits() const;
  /// Waits until `commits()` differs from `seen`, or `timeout` passed.
  void wait(std::uint64_t seen, std::chrono::milliseconds timeout) const;

private:
  const store& st_;
};

} // namespace sluice
