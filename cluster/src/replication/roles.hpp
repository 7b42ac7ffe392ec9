// What the controller's table means for this member's store, as a pure
// function: shards to own (fresh, or at a new epoch), to promote from the
// follower copy, to give up (another owner now), copies to drop. No I/O;
// any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "controller/controller_table.hpp"
#include "sluice/store/replication.hpp"

namespace sluice::cluster {

/// What this member's store holds now.
struct local_shards {
  std::map<std::uint32_t, std::uint64_t> owned;  ///< shard -> epoch owned at
  std::map<std::uint32_t, repl_position> copies; ///< follower copies
};

/// The store changes that bring it in line with the table, grouped as the
/// store takes them. A shard appears in at most one list.
struct role_changes {
  /// Own (with what the store holds of it, possibly nothing) at the epoch:
  /// a first assignment, or this member's own shard at a new epoch.
  std::map<std::uint64_t, std::vector<std::uint32_t>> claim;
  /// Own from the follower copy, at the epoch (a failover to this member).
  std::map<std::uint64_t, std::vector<std::uint32_t>> promote;
  /// Owned here, but another member owns it at this epoch or a newer one:
  /// its records are dropped (what was not acknowledged is lost, as it
  /// must be) and it is rebuilt from the new owner as a follower.
  std::vector<std::uint32_t> demote;
  /// Follower copies of shards this member is no longer a replica of.
  std::vector<std::uint32_t> drop_copies;
  /// Owned here by the table, but the store holds nothing of them while
  /// other members are in sync (this member's data directory was lost):
  /// claiming them empty would lose acknowledged records, so they are
  /// given to an in-sync copy instead.
  std::vector<std::uint32_t> resign;
  /// Owned here, another member owns it at a newer epoch, but the isr
  /// still lists this member (a failover keeps a dead owner in the isr
  /// rather than go below min_insync): its records are the acknowledged
  /// ones the controller counts on, so they are kept until the member has
  /// left the isr; then they are demoted. Dropped while listed, a later
  /// failover to this member would find nothing and the holders would
  /// follow it (data lost on every member).
  std::vector<std::uint32_t> leave_isr;
  /// Of `claim`: shards this member holds nothing of, claimed at an epoch
  /// after their first (no other isr member: a wiped lone owner, or an
  /// operator's `forget --allow-data-loss`). They start empty: said
  /// loudly, since what they held is gone.
  std::vector<std::uint32_t> claimed_empty;

  bool empty() const {
    return claim.empty() && promote.empty() && demote.empty()
           && drop_copies.empty() && resign.empty() && leave_isr.empty();
  }
};

/// The changes for member `me`. Shards not in the table are left alone.
role_changes plan_roles(const shard_table& table, const std::string& me,
                        const local_shards& local);

} // namespace sluice::cluster
