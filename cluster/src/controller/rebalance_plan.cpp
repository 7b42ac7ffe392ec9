// The rebalance's steps, shard by shard. Why moving an owner loses no
// acknowledged record: the owner's high-watermark (replication/shipping.cpp)
// is the lowest position of *every* follower it waits for, and it waits for
// every member of the etcd isr (replication/isr.cpp adds a follower to that
// set before etcd does, removes it only after etcd did); min_insync is only
// a floor on the isr's size below which nothing is acknowledged. So every
// isr member, the preferred one included, holds every acknowledged record,
// and a move to it is a failover whose old owner happens to be alive: it
// can no longer get anything acknowledged at the old epoch (the new owner
// refuses that epoch's records), and it drops what it holds.
#include "controller/rebalance_plan.hpp"

#include <algorithm>
#include <cstddef>

#include "shard_map.hpp"

namespace sluice::cluster {

namespace {

bool all_in(const std::vector<std::string>& some,
            const std::vector<std::string>& list) {
  return std::all_of(some.begin(), some.end(),
                     [&](const auto& m) { return listed(list, m); });
}

/// Members of `of` that are in `keep`, in the order of `of`.
std::vector<std::string> kept(const std::vector<std::string>& of,
                              const std::vector<std::string>& keep) {
  std::vector<std::string> out;
  for (const auto& m : of)
    if (listed(keep, m))
      out.push_back(m);
  return out;
}

bool in_motion(const shard_assignment& a, std::size_t target_size) {
  return !all_in(a.replicas, a.isr) || a.replicas.size() > target_size;
}

/// The first `n` members of `ranking` (all of them when it is shorter).
std::vector<std::string> first_of(const std::vector<std::string>& ranking,
                                  std::size_t n) {
  auto k = static_cast<std::ptrdiff_t>(std::min(n, ranking.size()));
  return {ranking.begin(), ranking.begin() + k};
}

bool balanced(const shard_assignment& a,
              const std::vector<std::string>& target) {
  return !target.empty() && a.owner == target.front()
         && a.replicas.size() == target.size() && all_in(target, a.replicas);
}

enum class step { none, added, owner_moved, dropped };

/// The next step of one shard whose members are all live; `start` says
/// whether it may start a move (the throttle). Refusals go to `plan`.
step next_step(std::uint32_t shard, const shard_assignment& now,
               const std::vector<std::string>& ranking, std::size_t size,
               const rebalance_settings& settings, bool start,
               shard_assignment& next, assignment_plan& plan) {
  auto target = first_of(ranking, size);
  if (target.empty() || balanced(now, target))
    return step::none;
  bool moving = in_motion(now, target.size());
  bool catching_up = !all_in(now.replicas, now.isr);
  next = now;
  // 1. Target members that are not replicas yet join, outside the isr,
  // once no replica is catching up (one snapshot at a time per shard).
  if (!all_in(target, now.replicas)) {
    if (catching_up || (!moving && !start))
      return step::none;
    for (const auto& m : target)
      if (!listed(next.replicas, m))
        next.replicas.push_back(m);
    return step::added;
  }
  const auto& preferred = target.front();
  // 2. The preferred member takes over once it holds what was acknowledged.
  if (now.owner != preferred) {
    if (!listed(now.isr, preferred))
      return step::none; // catching up: the owner adds it to the isr
    next.isr = kept(now.isr, now.replicas);
    std::erase(next.isr, now.owner);
    if (next.isr.size()
        >= isr_floor(settings.min_insync, next.replicas.size())) {
      if (!moving && !start)
        return step::none;
      next.owner = preferred;
      ++next.epoch;
      return step::owner_moved;
    }
    if (catching_up)
      return step::none; // a spare (or another replica) catching up
    auto spare = std::find_if(ranking.begin(), ranking.end(), [&](auto& m) {
      return !listed(now.replicas, m);
    });
    if (spare == ranking.end()) {
      plan.refused.emplace_back(
          shard, "its owner cannot move to '" + preferred
                     + "' without leaving fewer than min_insync in sync, "
                       "and no member is left to add as a spare");
      return step::none;
    }
    if (!moving && !start)
      return step::none;
    next.isr = now.isr;
    next.replicas.push_back(*spare);
    return step::added;
  }
  // 3. Replicas outside the target leave once the target is in sync.
  if (!all_in(target, now.isr))
    return step::none;
  next.replicas = target;
  next.isr = kept(target, now.isr);
  if (next.isr.size() < isr_floor(settings.min_insync, next.replicas.size())) {
    plan.refused.emplace_back(shard,
                              "dropping its replicas outside the target would "
                              "leave fewer than min_insync in sync");
    return step::none;
  }
  return step::dropped;
}

/// Why the table cannot be rebalanced now; empty when it can.
std::string blocked(const shard_table& table,
                    const std::vector<std::string>& hosting) {
  if (hosting.empty())
    return "no live member hosts shards";
  for (const auto& [shard, entry] : table) {
    const auto& a = entry.value;
    if (a.owner.empty())
      return "shard " + std::to_string(shard) + " has no owner";
    if (!listed(hosting, a.owner))
      return "shard " + std::to_string(shard) + "'s owner '" + a.owner
             + "' is not live (a failover comes first)";
    for (const auto& m : a.replicas)
      if (!listed(hosting, m))
        return "'" + m + "' holds replicas of shard " + std::to_string(shard)
               + " but is not live (it keeps its places until it is back or "
                 "forgotten)";
  }
  return {};
}

} // namespace

rebalance_outcome rebalance_plan(const controller_keys& keys,
                                 const shard_table& table,
                                 const std::vector<std::string>& hosting,
                                 const rebalance_settings& settings) {
  rebalance_outcome out;
  if (settings.max_in_motion == 0) {
    out.waiting = "rebalance turned off";
    return out;
  }
  out.waiting = blocked(table, hosting);
  if (!out.waiting.empty())
    return out;
  auto map = shard_map::compute(hosting);
  auto size = std::min(settings.replication_factor, map.nodes().size());
  std::size_t moving = 0;
  for (const auto& [shard, entry] : table)
    moving += in_motion(entry.value, size) ? 1 : 0;
  for (const auto& [shard, entry] : table) {
    const auto& now = entry.value;
    auto ranking = map.ranking(shard, map.nodes().size());
    bool start = moving < settings.max_in_motion;
    shard_assignment next;
    auto s =
        next_step(shard, now, ranking, size, settings, start, next, out.plan);
    const auto& result = s == step::none ? now : next;
    bool was_moving = in_motion(now, size);
    bool is_moving = in_motion(result, size);
    if (!was_moving && is_moving)
      ++moving;
    else if (was_moving && !is_moving)
      --moving;
    auto target = first_of(ranking, size);
    if (!balanced(result, target))
      ++out.unbalanced;
    if (s == step::none)
      continue;
    (s == step::added         ? out.added
     : s == step::owner_moved ? out.owners_moved
                              : out.dropped)++;
    out.plan.changes.push_back({shard, entry.mod_revision, std::move(next)});
  }
  out.in_motion = moving;
  out.plan.txns = to_txns(keys, out.plan.changes);
  return out;
}

} // namespace sluice::cluster
