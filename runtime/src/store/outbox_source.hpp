// Private: the `outbox_src` index of replicated stores: which shard's key
// produced an outbox entry, and the entry's origin (outbox_origin), by the
// entry's outbox position. Values: shard u32, then the origin number (24
// bytes), or the shard alone as written before origins (4 bytes). Writers
// on the store actor's thread; readers on any thread.
#pragma once

#include <cstdint>
#include <optional>

#include "lmdb_env.hpp"

namespace sluice {

/// What `outbox_src` says of an outbox entry.
struct outbox_source {
  std::uint32_t shard = 0;             ///< the source shard
  std::optional<outbox_origin> origin; ///< none when written without one
};

/// Records, in `outbox_src`, that the outbox entry at `pos` is a record of
/// `source_shard` (a key of it produced the event), with its origin when
/// it has one. Replication only.
result<void> note_outbox_source(MDB_txn* t, store::impl& p, keys::queue_pos pos,
                                std::uint32_t source_shard,
                                const std::optional<outbox_origin>& origin);

/// What `outbox_src` says of the entry at `pos`, read in `t`; nullopt when
/// nothing was recorded, or nothing readable (a malformed value makes the
/// entry the member's own, as one without a source: never stuck).
result<std::optional<outbox_source>>
read_outbox_source(MDB_txn* t, const store::impl& p, keys::queue_pos pos);

/// The same, forgetting it (the entry is being deleted).
result<std::optional<outbox_source>>
take_outbox_source(MDB_txn* t, store::impl& p, keys::queue_pos pos);

/// An `outbox_src` value; nullopt when malformed.
std::optional<outbox_source> parse_outbox_source(std::string_view v);

} // namespace sluice
