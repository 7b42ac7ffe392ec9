// A shard's epoch history, as Kafka's leader-epoch cache: for each epoch
// of the shard that ended, the last seq of that epoch's log that survived
// into the shard's data (the promoted copy's position). Kept with the
// shard as an inbox record of a reserved name, so snapshots (every
// follower takes one at a new epoch), imports and hand-offs carry it.
// Pure functions, plus a read within a caller's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lmdb_env.hpp"

namespace sluice {

/// Per ended epoch, ascending: (epoch, last seq that survived).
using epoch_history = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

/// Epochs kept: an older one is forgotten, and an event appended again
/// from it is queued again (at least once, as without a history).
inline constexpr std::size_t epoch_history_max = 32;

/// The inbox name of a shard's history (priority urgent). It starts with
/// a control character, which no member's name has.
inline std::string epoch_history_name() {
  return std::string(1, '\x01') + "epochs";
}

/// (epoch u64, seq u64) big-endian per entry.
std::string encode_epoch_history(const epoch_history& h);
/// Nullopt when `v` is not a history (length, or epochs not ascending).
std::optional<epoch_history> parse_epoch_history(std::string_view v);

/// `h` once `epoch` ended at `last`: entries of `epoch` or later dropped
/// (a copy knows no later one), the entry added, the oldest beyond
/// `epoch_history_max` forgotten.
epoch_history with_ended_epoch(epoch_history h, std::uint64_t epoch,
                               std::uint64_t last);

/// Whether the log record at `at` survived into the data `h` describes:
/// its epoch ended here at or after its seq.
bool survived(const epoch_history& h, const repl_position& at);

/// `shard`'s history as stored in `t` (empty when it has none or it does
/// not parse).
result<epoch_history> read_epoch_history(MDB_txn* t, const store::impl& p,
                                         std::uint32_t shard);

} // namespace sluice
