// The controller's decisions as pure functions: from the shard table read
// from etcd (and who is alive), the assignments to write and the
// compare-and-swap transactions that write them. No I/O; any thread.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/controller_table.hpp"
#include "controller/etcd_types.hpp"
#include "sluice/result.hpp"

namespace sluice::cluster {

/// How far a replica of a shard has applied the owner's log.
struct replica_position {
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  auto operator<=>(const replica_position&) const = default;
};

/// Replicated positions by (shard, member), as the members reported them.
/// A member with no entry counts as at the very start.
using replica_positions =
    std::map<std::pair<std::uint32_t, std::string>, replica_position>;

/// One shard's new assignment, written only if the key's mod_revision is
/// still `expected_mod_revision` (0: the key must not exist yet).
struct shard_change {
  std::uint32_t shard = 0;
  std::int64_t expected_mod_revision = 0;
  shard_assignment next;
};

/// What a decision changes and what it leaves as it is, and why.
struct assignment_plan {
  std::vector<shard_change> changes;
  /// Shards left without owner: no member of their isr is alive (no
  /// unclean election: a replica outside the isr may lack acknowledged
  /// records).
  std::vector<std::uint32_t> without_owner;
  /// Shards with fewer replicas than asked (fewer members than R).
  std::vector<std::uint32_t> under_replicated;
  /// Shards restarted empty because their last in-sync copy was forgotten
  /// (only with `allow_data_loss`).
  std::vector<std::uint32_t> data_lost;
  /// Shards the decision leaves unchanged, and why.
  std::vector<std::pair<std::uint32_t, std::string>> refused;
  /// The transactions that write `changes`, at most `max_txn_ops` shards
  /// each. Each txn is atomic on its own; one that fails (a shard changed
  /// meanwhile) returns the current values of its shards (its failure
  /// branch reads them), and the caller plans again from a fresh read.
  std::vector<etcd_txn> txns;
};

/// etcd's default `--max-txn-ops`: the most operations in a txn's compare,
/// success or failure list.
inline constexpr std::size_t max_txn_ops = 128;

/// Per batch of `batch` changes: compare each key's mod_revision; on
/// success put every new value; on failure read every key.
std::vector<etcd_txn> to_txns(const controller_keys& keys,
                              const std::vector<shard_change>& changes,
                              std::size_t batch = max_txn_ops);

/// The first assignment of every shard not yet in `existing`: replicas =
/// the first `replication_factor` members of the shard's rendezvous ranking
/// (cluster/src/shard_map.hpp), owner = the first, isr = {owner} (the
/// owner adds followers once they caught up), epoch 1. Errors: no member,
/// a bad member name, a replication factor of 0.
result<assignment_plan> initial_plan(const controller_keys& keys,
                                     const shard_table& existing,
                                     const std::vector<std::string>& members,
                                     std::size_t replication_factor);

/// For every shard whose owner is not in `live` (or that has none): the
/// live isr member with the highest position becomes the owner (ties: the
/// earlier in `replicas`), at epoch + 1, with the isr minus the members not
/// live, but never fewer than `min_insync` (dead members stay as needed:
/// they hold every acknowledged record, should the new owner have lost
/// its copy). An isr without a live member leaves the shard without
/// owner, at epoch + 1 the first time (which fences the old one), isr
/// kept (those members hold the acknowledged records).
assignment_plan failover_plan(const controller_keys& keys,
                              const shard_table& table,
                              const std::set<std::string>& live,
                              const replica_positions& positions,
                              std::size_t min_insync);

/// Shards with fewer than `replication_factor` replicas get the next
/// members of their rendezvous ranking over `hosting` (the live members
/// that host shards) that are not replicas yet, appended outside the isr
/// (the owner adds each once it caught up); owner and epoch unchanged. A
/// dead replica keeps its place (until `forget`), so a shard that has R
/// replicas never grows. Shards still short after it are listed in
/// `under_replicated`.
assignment_plan grow_plan(const controller_keys& keys, const shard_table& table,
                          const std::vector<std::string>& hosting,
                          std::size_t replication_factor);

/// An owner's request to change its shard's isr.
struct isr_request {
  std::uint32_t shard = 0;
  /// Who asks: must be the shard's owner.
  std::string requester;
  /// The follower to add or remove.
  std::string member;
  /// The follower's applied position.
  replica_position member_position;
  /// The end of the owner's log (add) or what it compares with (remove).
  replica_position owner_position;
  /// Remove: records a follower may trail by before it counts as lagging.
  std::uint64_t max_lag = 0;
};

/// Adds a caught-up follower (position at least the owner's) to the isr.
/// Refused with errc::invalid_argument otherwise, or when the requester is
/// not the owner, the member not a replica or already in the isr, or the
/// request was made at another epoch than the shard's.
result<assignment_plan> isr_add_plan(const controller_keys& keys,
                                     const shard_table& table,
                                     const isr_request& request);

/// Removes a lagging follower (an older epoch, or more than `max_lag`
/// records behind) from the isr; never the owner. Refused as above.
result<assignment_plan> isr_remove_plan(const controller_keys& keys,
                                        const shard_table& table,
                                        const isr_request& request);

/// `member` leaves the isr of those of `shards` it does not own but is
/// listed in (a former owner about to drop its records: it must not be
/// counted as holding them any more). Shards it owns or is not listed in
/// are left as they are.
assignment_plan leave_isr_plan(const controller_keys& keys,
                               const shard_table& table,
                               const std::string& member,
                               const std::vector<std::uint32_t>& shards);

/// `forget NODE`: every shard that has `forgotten` as a replica gets the
/// next live member of its rendezvous ranking in its place (outside the isr
/// until caught up); a shard it owned fails over as in failover_plan. A
/// shard whose only in-sync copies were on `forgotten` is refused, or with
/// `allow_data_loss` restarts empty at epoch + 1 (owner the first live
/// replica, listed in `data_lost`). errc::invalid_argument if `forgotten`
/// is still live (it must be stopped first).
result<assignment_plan> replacement_plan(const controller_keys& keys,
                                         const shard_table& table,
                                         const std::string& forgotten,
                                         const std::set<std::string>& live,
                                         std::size_t replication_factor,
                                         const replica_positions& positions,
                                         bool allow_data_loss);

} // namespace sluice::cluster
