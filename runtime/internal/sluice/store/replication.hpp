// The store's records for replicated shards: positions in a shard's
// replication log, log entries as stored and shipped, and what a follower
// made of a shipped batch. Plain values; no thread-safety of their own.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice {

/// A place in a shard's replication log: the epoch it was written at, then
/// the shard's replication seq. Ordered as a tuple.
struct repl_position {
  std::uint64_t epoch = 0; ///< the shard's epoch (its ShardRecord's)
  std::uint64_t seq = 0;   ///< the shard's replication counter
  /// Equal when both fields are.
  friend bool operator==(const repl_position&, const repl_position&) = default;
  /// By epoch, then by seq.
  friend auto operator<=>(const repl_position&, const repl_position&) = default;
};

/// One replication record: what one write transaction changed in one
/// shard (`replog`).
struct replog_entry {
  std::uint32_t shard = 0; ///< the shard it changes
  std::uint64_t epoch = 0; ///< the owner's epoch of the shard when written
  std::uint64_t seq = 0;   ///< the shard's replication seq
  std::string record;      ///< sluice.v1.ReplRecord
  /// On the first record of an epoch that continues a copy (a promotion):
  /// the epoch of the position (base_epoch, seq - 1) it follows; 0: none.
  /// Shipped only, never stored.
  std::uint64_t base_epoch = 0;
};

/// What `store::apply_replicated` did with one shard's records.
struct replica_outcome {
  std::uint32_t shard = 0;
  repl_position at;        ///< the replica's position afterwards
  std::size_t applied = 0; ///< records applied
  std::size_t skipped = 0; ///< at or below the position: applied before
  /// Why the shard's remaining records were refused: errc::invalid_argument
  /// for a record of an older epoch than the replica's (a cut-off owner)
  /// or a shard owned here; errc::not_found when the replica cannot take
  /// the record without a snapshot first (none yet, a newer epoch, or a
  /// gap); errc::corrupt for a record that does not parse.
  std::optional<error> refused;
};

/// What `store::apply_replicated` did, per shard in first-seen order.
struct replica_report {
  std::vector<replica_outcome> shards;
};

} // namespace sluice
