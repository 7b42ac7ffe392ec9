// Private: what the follower's operations on its replica copies share:
// reading a copy's position (or the snapshot being installed), the checks
// a shipped record or snapshot passes, applying a ReplRecord to a copy,
// scanning and erasing a copy. Writers on the store actor's thread; scans
// on any thread.
#pragma once

#include <functional>

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

/// Deletes the replica copy of `shard` and its position within `w`.
result<void> erase_replica(store::impl& p, cluster_writer& w,
                           std::uint32_t shard);

/// Refused (invalid_argument) unless `shard` is in range and not owned
/// here.
result<void> check_replicable(const store::impl& p, MDB_txn* t,
                              std::uint32_t shard);

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
/// batch repeats are skipped. `finish` writes the positions that moved.
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
  /// Each record parsed into this one: its repeated changes are kept and
  /// reused, not allocated again per record.
  v1::ReplRecord parsed_;
};

} // namespace sluice
