// Private: what the follower's operations on its replica copies share:
// reading a copy's position (or the snapshot being installed), the checks
// a shipped record or snapshot passes, applying a ReplRecord to a copy,
// scanning and erasing a copy. Writers on the store actor's thread; scans
// on any thread.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "cluster_db.hpp"
#include "replica_keys.hpp"

namespace sluice {

/// "(epoch E, seq S)", for messages.
std::string describe_position(repl_position at);

/// A copy's `replica_pos` entry: its position, and whether a snapshot at
/// that position is still being installed (then the copy takes no log
/// records yet).
struct replica_entry {
  repl_position at;
  bool installing = false;
};

/// A `replica_pos` value as an entry; nullopt: malformed.
std::optional<replica_entry> parse_replica_entry(std::string_view value);

/// The `replica_pos` entry of `shard`, read in `t`; nullopt: none.
result<std::optional<replica_entry>>
read_replica_entry(const store::impl& p, MDB_txn* t, std::uint32_t shard);

/// Writes the `replica_pos` entry of `shard` within `w`.
result<void> write_replica_entry(store::impl& p, cluster_writer& w,
                                 std::uint32_t shard, replica_entry e);

/// The position of the usable replica copy of `shard`, read in `t`;
/// nullopt: there is none (or its snapshot is still being installed).
result<std::optional<repl_position>>
read_replica_position(const store::impl& p, MDB_txn* t, std::uint32_t shard);

/// Calls `fn(record, stage name)` for every record of the replica copy of
/// `shard`, read in `t`, in key order (kinds in order, queued events by
/// stage then queue position). Stops early when fn returns false.
result<void> scan_replica_copy(
    const store::impl& p, MDB_txn* t, std::uint32_t shard,
    const std::function<result<bool>(handoff_record&, std::string_view)>& fn);

/// Deletes the replica copy of `shard` and its position within `t` (the
/// `replica_log` left as it is).
result<void> erase_replica_copy(store::impl& p, MDB_txn* t,
                                std::uint32_t shard);

/// Deletes the replica copy of `shard` and its position within `w`, the
/// `replica_log` applied first.
result<void> erase_replica(store::impl& p, cluster_writer& w,
                           std::uint32_t shard);

/// Refused (invalid_argument) unless `shard` is in range and not owned
/// here.
result<void> check_replicable(const store::impl& p, MDB_txn* t,
                              std::uint32_t shard);

/// A change to a replica copy: its key, and the value to put (nullopt:
/// delete it).
using replica_write = std::pair<std::string, std::optional<std::string>>;

/// One ReplRecord's changes of `shard` as replica writes, appended to
/// `out` only if every change converts (corrupt otherwise, `where()`
/// naming the record; called only then).
result<void> replica_writes_of(std::uint32_t shard, const v1::ReplRecord& rec,
                               const std::function<std::string()>& where,
                               std::vector<replica_write>& out);

/// Puts `value` at `key` in the replica copies within `t`, or deletes the
/// key when it is nullopt (deleting what is not there is no error).
result<void> write_replica(store::impl& p, MDB_txn* t, const std::string& key,
                           const std::optional<std::string>& value);

/// The next arrival number of each replica_log (nullopt: read from its
/// last entry at the first append).
using replica_log_numbers =
    std::array<std::optional<std::uint64_t>, replica_logs>;

/// Appends shipped record `e` to its shard's `replica_log` within `t`.
result<void> append_replica_log(store::impl& p, MDB_txn* t,
                                replica_log_numbers& next,
                                const replog_entry& e);

/// Once the replica_log is over its bound, applies its largest part to the
/// copies within `t` (one part per call, so no commit carries all of it).
result<void> apply_replica_log_share(store::impl& p, MDB_txn* t);

/// Applies every record of the `replica_log` to the copies within `t`, each
/// key once, in key order, and empties the log. Damaged log bytes drop the
/// copies they may belong to (their owners send snapshots).
result<void> apply_replica_log(store::impl& p, MDB_txn* t);

/// Applies the part of the `replica_log` that holds `shard`'s records.
result<void> apply_replica_log_of(store::impl& p, MDB_txn* t,
                                  std::uint32_t shard);

/// The writes the `replica_log` holds for `shard`, in order, appended to
/// `out`: with the `replica` entries, its copy as of `t`.
result<void> overlay_replica_log(const store::impl& p, MDB_txn* t,
                                 std::uint32_t shard,
                                 std::vector<replica_write>& out);

/// Applies one ReplRecord's changes of `shard` to its copy within `t`;
/// `where()` names the record in errors (called only for one).
result<void> apply_replica_changes(store::impl& p, MDB_txn* t,
                                   std::uint32_t shard,
                                   const v1::ReplRecord& rec,
                                   const std::function<std::string()>& where);

/// Applies shipped batches of log records to the replica copies within one
/// write transaction (a follower's `apply_replicated`, or batches that
/// ride along in a `store::commit`): each batch gets its own report, and a
/// shard's position carries from one batch to the next, so records a
/// batch repeats are skipped. Records are checked and appended to the
/// `replica_log`; `finish` writes the positions that moved and applies a
/// share of the log once it is over its bound.
class replica_applier {
public:
  replica_applier(store::impl& p, MDB_txn* t) : p_(p), t_(t) {}

  /// Applies `recs` (each shard's in log order). Errors: LMDB only; a
  /// record a copy cannot take refuses its shard in the report.
  result<replica_report> apply(const std::vector<replog_entry>& recs);

  /// Records the new position of every copy that moved.
  result<void> finish();

private:
  struct copy {
    std::optional<repl_position> at; ///< nullopt: no usable copy
    std::optional<error> not_here;   ///< not replicable (owned here)
    bool moved = false;              ///< `at` to be written
  };
  store::impl& p_;
  MDB_txn* t_;
  std::map<std::uint32_t, copy> copies_;
  std::vector<replica_write> record_; ///< one record's writes, reused
  replica_log_numbers next_;          ///< each log's next number
  /// Each record parsed into this one: its repeated changes are kept and
  /// reused, not allocated again per record.
  v1::ReplRecord parsed_;
};

} // namespace sluice
