// The store's records for a cluster member: outbox entries, events other
// nodes forwarded, shard ownership, and the records a hand-off streams.
// Plain values; stage ids are this data directory's (the cluster layer
// names stages on the wire).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/store/keys.hpp"
#include "sluice/store/replication.hpp"

namespace sluice {

/// Replicated shards: who produced an outbox entry, the same at every
/// member that holds the entry (replicated with it, kept by a promotion).
/// The source shard, and a number that rises per source shard across its
/// owners: the replication position (epoch, seq) of the commit that wrote
/// the entry and the entry's index among that commit's entries of the
/// shard. Receivers deduplicate by it (docs/ARCHITECTURE.md).
struct outbox_origin {
  std::uint32_t shard = 0; ///< the source shard: whose key produced it
  std::uint64_t epoch = 0; ///< the source shard's epoch at that commit
  std::uint64_t seq = 0;   ///< the commit's replication seq of the shard
  std::uint32_t index = 0; ///< among the commit's entries of the shard
  /// Equal when every field is.
  friend bool operator==(const outbox_origin&, const outbox_origin&) = default;
  /// By shard, then in the order the source shard's owners wrote them.
  friend auto operator<=>(const outbox_origin&, const outbox_origin&) = default;
};

/// An event waiting in the outbox for the node that owns its key.
struct outbox_entry {
  keys::queue_pos pos;        ///< its position in the outbox (urgent first)
  std::uint32_t stage_id = 0; ///< the stage whose queue it is for
  std::uint32_t shard = 0;    ///< its key's shard
  std::string event_bytes;    ///< sluice.v1.Event
  /// Replication on: set when a key of a shard owned here produced it (an
  /// event fed or published through this member has none).
  std::optional<outbox_origin> origin;
  /// An event appended again for a lost shard: where it was first written
  /// in that shard's log (`queue_append::written_at`).
  std::optional<repl_position> written_at{};
};

/// An outbox entry as the forwarder first sees it: enough to decide
/// whether to read it whole (`outbox_pick`).
struct outbox_peek {
  keys::queue_pos pos;         ///< its position in the outbox
  std::uint32_t stage_id = 0;  ///< the stage whose queue it is for
  std::uint32_t shard = 0;     ///< its key's shard
  std::size_t event_bytes = 0; ///< the size of its event
};

/// What a filtered outbox read does with an entry it looked at.
enum class outbox_pick : std::uint8_t {
  take, ///< read it whole (its event copied out)
  skip, ///< pass over it: nothing copied
  stop, ///< end the read here (the entry is not taken)
};

/// An event another node forwarded from its outbox.
struct forwarded_event {
  std::uint32_t shard = 0;    ///< its key's shard
  std::uint64_t seq = 0;      ///< its outbox seq at the sender: dedupe
  std::uint32_t stage_id = 0; ///< the stage whose queue it goes to, here
  sluice::priority priority = priority::normal; ///< its queue class
  std::string key;                              ///< the event's key
  std::string event_bytes;                      ///< sluice.v1.Event
  /// Its origin, when the sender's entry has one: a replicated receiver
  /// then deduplicates by source shard and origin, not by sender and seq.
  std::optional<outbox_origin> origin;
  /// Appended again by a member that lost the shard: where the event was
  /// first written in the shard's log; a replicated receiver drops it when
  /// its shard's epoch history says that record survived into its data.
  std::optional<repl_position> written_at{};
};

/// What `store::receive_forwarded` did.
struct forward_receipt {
  /// Shards not owned here: none of their events were taken.
  std::vector<std::uint32_t> refused_shards;
  std::uint64_t accepted = 0;   ///< queued
  std::uint64_t duplicates = 0; ///< dropped: received before
  /// Events queued per stage id, indexed by priority (for the stage
  /// supervisors).
  std::vector<std::pair<std::uint32_t, std::array<std::uint64_t, 2>>> appended;
  /// With replication: per shard, the seq of the replication record
  /// written.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> replicated;
};

/// A shard this data directory owns, or is handing off.
struct shard_record {
  std::uint32_t shard = 0;    ///< the shard's number (< shard_count)
  std::uint64_t epoch = 0;    ///< grows by one with every hand-off
  bool leaving = false;       ///< being handed off to `target`
  std::string target;         ///< the node it goes to (when leaving)
  std::uint64_t transfer = 0; ///< the hand-off's id (when leaving)
  /// A promotion's starting point: the replica position the shard's state
  /// continued from at `epoch` (its first record is base->seq + 1);
  /// nullopt when unknown (claimed, or handed off here).
  std::optional<repl_position> base;
  /// The changelog entries a hand-off brought are after this offset of
  /// this member's log (0: none came: claimed or promoted here).
  std::uint64_t changelog_from = 0;
  /// This member's own changelog entries of the shard are after this one.
  std::uint64_t changelog_own = 0;
};

/// One record a hand-off streams from the old owner to the new.
struct handoff_record {
  /// What a record holds, and which of its fields are used.
  enum class kind : std::uint8_t {
    queued, ///< a queued event: stage_id, pos, value = Event
    state,  ///< stage_id, key, value = version (u64 BE) + KeyState
    status, ///< key, value = KeyStatus
    retry,  ///< stage_id, key, value = RetryRecord
    timer,  ///< stage_id, key, name, value = TimerRecord
    inbox,  ///< name = sender, shard, pos.priority, value = watermark
            ///< seq (u64 BE); or name = a source shard's watermark name,
            ///< value = its origin number (see outbox_origin)
    /// Replication only (a hand-off leaves them with the sender): a dead
    /// letter of the shard's key, stage_id, pos.seq, key, value =
    /// DeadLetter.
    dead_letter,
    /// Replication only: an event a key of the shard produced for another
    /// shard, waiting in the outbox: stage_id (its queue there), pos, key
    /// (the event's), value = Event; `shard` is the producing key's.
    outbox,
    /// A change of a stage's changelog (issue 16): stage_id, key, pos.seq =
    /// its shard offset, value = the entry as stored (with its shard
    /// offset). Replicated as written and as pruned.
    changelog,
    /// stage_id, value = the shard offset (u64 BE) after which the
    /// sender's changelog of the shard is complete. Replicated as pruning
    /// raises it.
    changelog_bound,
  };
  kind what = kind::queued;   ///< which record it is
  std::uint32_t stage_id = 0; ///< its stage (queued, state, retry, timer)
  std::uint32_t shard = 0;    ///< the shard of its key
  std::string key;            ///< the key (all but inbox)
  std::string name;           ///< the timer's name, or the inbox's sender
  keys::queue_pos pos;        ///< a queued event's position at the sender
  std::string value;          ///< the record's bytes, as stored
  /// An outbox entry's origin (its `shard` is `shard`), when it has one.
  std::optional<outbox_origin> origin;
};

} // namespace sluice
