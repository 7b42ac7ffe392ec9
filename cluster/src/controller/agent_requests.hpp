// What an owner or an operator asks of the agent, done at once on the
// caller's thread (the agent's worker): an isr change and `forget`, each a
// compare-and-swap from a fresh read, planned again on conflict, and a write
// whose outcome etcd left unknown checked on the next read. Stateless.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "controller/assignment_plan.hpp"
#include "controller/etcd_client.hpp"

namespace sluice::cluster {

/// Adds (`add`) or removes `request.member` in its shard's isr. Errors: the
/// plan's refusal (errc::invalid_argument, errc::not_found for a shard with
/// no assignment), errc::unavailable when etcd did not answer or the shard
/// kept changing.
result<void> change_isr_now(etcd_client& client, const controller_keys& keys,
                            const isr_request& request, bool add);

/// Many isr changes from one read of the table, written in transactions
/// of up to 127 shards (each comparing its shards' revisions). One outcome
/// per request: the plan's refusal, or errc::unavailable for a request
/// whose transaction failed or was not answered (ask again).
std::vector<result<void>>
change_isr_batch_now(etcd_client& client, const controller_keys& keys,
                     const std::vector<isr_request>& requests, bool add);

/// What resign_now changed.
struct resign_outcome {
  /// Shards given to another live isr member.
  std::size_t moved = 0;
  /// Shards left without owner (no other isr member live): fenced until
  /// one is back.
  std::size_t without_owner = 0;
  /// With `only_to_live_copy`: shards left as they were, for want of a
  /// live in-sync copy elsewhere (or not owned by the member any more).
  std::vector<std::uint32_t> kept;
};

/// A member that owns `shards` in the table but holds nothing of them (its
/// data directory was lost), or holds a damaged record of them, gives them
/// up: each goes to another live isr member at epoch + 1 (failover_plan
/// without it; it leaves the isr), or, with none, to no owner (fenced
/// until one is back). With `only_to_live_copy` (a damaged record: its
/// copy is still the best there is), a shard without another live isr
/// member stays with it, listed in `kept`.
result<resign_outcome>
resign_now(etcd_client& client, const controller_keys& keys,
           const std::string& member, const std::vector<std::uint32_t>& shards,
           std::size_t min_insync, bool only_to_live_copy = false);

/// A former owner of `shards` leaves their isr before it drops its records
/// of them (leave_isr_plan, written until nothing is left to change).
/// Returns how many shards changed.
result<std::size_t> leave_isr_now(etcd_client& client,
                                  const controller_keys& keys,
                                  const std::string& member,
                                  const std::vector<std::uint32_t>& shards);

/// `forget member`: replacement_plan over the live members, written until
/// nothing is left to change. A one-line summary, or the refusal.
result<std::string> forget_now(etcd_client& client, const controller_keys& keys,
                               const std::string& member,
                               std::size_t replication_factor,
                               bool allow_data_loss);

} // namespace sluice::cluster
