// The controller's rebalance as a pure function: moves each shard, one step
// per round, towards its target (the first R members of its rendezvous
// ranking over the live members, the first preferred as owner), a few
// shards at a time. No I/O; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "controller/assignment_plan.hpp"

namespace sluice::cluster {

struct rebalance_settings {
  /// R: the target's replica count (fewer while fewer members host).
  std::size_t replication_factor = 3;
  /// The isr never shrinks below min(min_insync, the shard's replicas).
  std::size_t min_insync = 2;
  /// Shards in motion at most: a shard is in motion while one of its
  /// replicas is outside its isr (catching up from a snapshot) or it has
  /// more replicas than its target (a move not finished). 0: no rebalance.
  std::size_t max_in_motion = 32;
};

/// What a rebalance decided, besides the changes.
struct rebalance_outcome {
  assignment_plan plan;
  /// Steps in `plan.changes`: target members added as replicas (outside
  /// the isr), owners moved to the preferred member, shards whose
  /// non-target replicas were dropped.
  std::size_t added = 0, owners_moved = 0, dropped = 0;
  /// Shards in motion once the changes are written.
  std::size_t in_motion = 0;
  /// Shards whose replicas or owner still differ from the target after
  /// the changes (0: balanced).
  std::size_t unbalanced = 0;
  /// Why nothing at all was planned (empty when the plan ran).
  std::string waiting;
};

/// The rebalance as the controller last planned it (console `shards`).
struct rebalance_status {
  /// Shards in motion and shards not at their target (rebalance_outcome).
  std::size_t in_motion = 0;
  std::size_t unbalanced = 0;
  /// Steps written since this member became the controller.
  std::size_t added = 0, owners_moved = 0, dropped = 0;
  /// Why it does not plan now; empty while it does.
  std::string waiting = "not planned yet";
};

/// One step per shard towards its target, over `hosting` (the live
/// members that host shards, as in grow_plan):
///  1. a target member that is not a replica is added to `replicas`,
///     outside the isr (its owner ships it a snapshot, then the log, and
///     adds it to the isr once caught up), once no replica of the shard is
///     catching up;
///  2. once the preferred member is in the isr and is not the owner, it
///     becomes the owner at epoch + 1 with the isr minus the old owner
///     (which drops what it holds, unacknowledged commits included, and
///     catches up again); when that would leave the isr below
///     min(min_insync, replicas), a spare (the next member of the ranking)
///     is added first instead, and dropped in step 3;
///  3. once the owner is the preferred member and every target member is
///     in the isr, replicas outside the target leave `replicas` and the
///     isr (their members drop their copies).
/// Steps 1 and 2 on a shard not in motion start a move: at most
/// `max_in_motion` shards are in motion at once. Nothing is planned (and
/// `waiting` says why) while a shard has no owner or a replica or owner
/// that is not live (a failover or `forget` comes first; a member
/// restarting keeps its places), or `hosting` is empty. Safe for the same
/// reason as a failover: the owner acknowledges only what every member of
/// its isr holds, so the preferred member holds every acknowledged record.
rebalance_outcome rebalance_plan(const controller_keys& keys,
                                 const shard_table& table,
                                 const std::vector<std::string>& hosting,
                                 const rebalance_settings& settings);

} // namespace sluice::cluster
