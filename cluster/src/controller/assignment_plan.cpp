// The controller's decisions. The safety rules they keep (unit-tested): an
// owner is always an isr member; the epoch grows whenever the owner changes
// and never goes down; no member outside the isr is ever made owner (no
// unclean election) unless the operator forgot the last copy and allowed it.
#include "controller/assignment_plan.hpp"

#include <algorithm>

#include "shard_map.hpp"

namespace sluice::cluster {

namespace {

void drop(std::vector<std::string>& list, const std::string& name) {
  list.erase(std::remove(list.begin(), list.end(), name), list.end());
}

replica_position position_of(const replica_positions& positions,
                             std::uint32_t shard, const std::string& member) {
  auto it = positions.find({shard, member});
  return it == positions.end() ? replica_position{} : it->second;
}

/// The live isr member with the highest position, ties to the earlier in
/// `replicas`; empty if no isr member is live.
std::string best_live_isr(std::uint32_t shard, const shard_assignment& a,
                          const std::set<std::string>& live,
                          const replica_positions& positions) {
  std::string best;
  replica_position best_pos;
  for (const auto& m : a.replicas) {
    if (!listed(a.isr, m) || !live.contains(m))
      continue;
    auto pos = position_of(positions, shard, m);
    if (best.empty() || pos > best_pos) {
      best = m;
      best_pos = pos;
    }
  }
  return best;
}

/// Fails `next` over to the best live isr member (isr minus the members not
/// live, as long as `min_insync` remain), or leaves it without owner (isr
/// kept). Raises the epoch when the owner changes. False when the shard is
/// left without owner.
bool promote(std::uint32_t shard, shard_assignment& next,
             const std::set<std::string>& live,
             const replica_positions& positions, std::size_t min_insync) {
  auto best = best_live_isr(shard, next, live, positions);
  if (best.empty()) {
    if (!next.owner.empty()) {
      next.owner.clear();
      ++next.epoch;
    }
    return false;
  }
  // A dead member leaves the isr only while min_insync others stay: each
  // holds every acknowledged record, and if the new owner lost its data
  // (a wiped disk) they are the only ones that do. Below min_insync
  // nothing is acknowledged anyway, so keeping them costs no write.
  for (auto it = next.isr.begin();
       it != next.isr.end() && next.isr.size() > min_insync;) {
    if (!live.contains(*it))
      it = next.isr.erase(it);
    else
      ++it;
  }
  if (best != next.owner) {
    next.owner = best;
    ++next.epoch;
  }
  return true;
}

const shard_entry* find(const shard_table& table, std::uint32_t shard) {
  auto it = table.find(shard);
  return it == table.end() ? nullptr : &it->second;
}

result<const shard_entry*> owner_request(const shard_table& table,
                                         const isr_request& r) {
  auto where = "shard " + std::to_string(r.shard) + ": ";
  auto* entry = find(table, r.shard);
  if (entry == nullptr)
    return fail(errc::not_found, where + "not in the table");
  const auto& a = entry->value;
  if (a.owner.empty() || a.owner != r.requester)
    return fail(errc::invalid_argument,
                where + "'" + r.requester + "' is not its owner (the owner is '"
                    + a.owner + "' at epoch " + std::to_string(a.epoch) + ")");
  if (!listed(a.replicas, r.member))
    return fail(errc::invalid_argument,
                where + "'" + r.member + "' is not one of its replicas");
  return entry;
}

assignment_plan single(const controller_keys& keys, std::uint32_t shard,
                       const shard_entry& entry, shard_assignment next) {
  assignment_plan plan;
  plan.changes.push_back({shard, entry.mod_revision, std::move(next)});
  plan.txns = to_txns(keys, plan.changes);
  return plan;
}

} // namespace

std::vector<etcd_txn> to_txns(const controller_keys& keys,
                              const std::vector<shard_change>& changes,
                              std::size_t batch) {
  std::vector<etcd_txn> txns;
  batch = std::max<std::size_t>(batch, 1);
  for (std::size_t i = 0; i < changes.size(); i += batch) {
    etcd_txn txn;
    for (std::size_t j = i; j < std::min(i + batch, changes.size()); ++j) {
      auto key = keys.shard(changes[j].shard);
      txn.compare.push_back(
          etcd_compare::mod_revision_is(key, changes[j].expected_mod_revision));
      txn.success.push_back(etcd_op::put(key, encode(changes[j].next)));
      txn.failure.push_back(etcd_op::range(key));
    }
    txns.push_back(std::move(txn));
  }
  return txns;
}

result<assignment_plan> initial_plan(const controller_keys& keys,
                                     const shard_table& existing,
                                     const std::vector<std::string>& members,
                                     std::size_t replication_factor) {
  if (replication_factor == 0)
    return fail(errc::invalid_argument, "replication factor 0 (at least 1)");
  if (members.empty())
    return fail(errc::invalid_argument, "no member to assign shards to");
  for (const auto& m : members)
    if (auto ok = controller_keys::check_name("member name", m); !ok)
      return ok.error();
  auto map = shard_map::compute(members);
  assignment_plan plan;
  for (std::uint32_t shard = 0; shard < shard_count; ++shard) {
    if (existing.contains(shard))
      continue;
    auto replicas = map.ranking(shard, replication_factor);
    if (replicas.size() < replication_factor)
      plan.under_replicated.push_back(shard);
    auto owner = replicas.front();
    plan.changes.push_back(
        {shard, 0, {1, owner, std::move(replicas), {owner}}});
  }
  plan.txns = to_txns(keys, plan.changes);
  return plan;
}

assignment_plan failover_plan(const controller_keys& keys,
                              const shard_table& table,
                              const std::set<std::string>& live,
                              const replica_positions& positions,
                              std::size_t min_insync) {
  assignment_plan plan;
  for (const auto& [shard, entry] : table) {
    const auto& now = entry.value;
    if (!now.owner.empty() && live.contains(now.owner))
      continue;
    auto next = now;
    if (!promote(shard, next, live, positions, min_insync))
      plan.without_owner.push_back(shard);
    if (next != now)
      plan.changes.push_back({shard, entry.mod_revision, std::move(next)});
  }
  plan.txns = to_txns(keys, plan.changes);
  return plan;
}

assignment_plan grow_plan(const controller_keys& keys, const shard_table& table,
                          const std::vector<std::string>& hosting,
                          std::size_t replication_factor) {
  assignment_plan plan;
  auto map = shard_map::compute(hosting);
  for (const auto& [shard, entry] : table) {
    const auto& now = entry.value;
    if (now.replicas.size() >= replication_factor)
      continue;
    auto next = now;
    for (const auto& m : map.ranking(shard, map.nodes().size())) {
      if (next.replicas.size() >= replication_factor)
        break;
      if (!listed(next.replicas, m))
        next.replicas.push_back(m);
    }
    if (next.replicas.size() < replication_factor)
      plan.under_replicated.push_back(shard);
    if (next != now)
      plan.changes.push_back({shard, entry.mod_revision, std::move(next)});
  }
  plan.txns = to_txns(keys, plan.changes);
  return plan;
}

result<assignment_plan> isr_add_plan(const controller_keys& keys,
                                     const shard_table& table,
                                     const isr_request& r) {
  auto entry = owner_request(table, r);
  if (!entry)
    return entry.error();
  const auto& a = (*entry)->value;
  auto where = "shard " + std::to_string(r.shard) + ": '" + r.member + "' ";
  if (listed(a.isr, r.member))
    return fail(errc::invalid_argument, where + "is already in the isr");
  // Asked at an earlier epoch (a request that landed late, after a
  // failover and back): the positions compared are that epoch's, and the
  // owner may already have acknowledged records of this one the member
  // lacks.
  if (r.owner_position.epoch != a.epoch)
    return fail(errc::invalid_argument,
                where + "was asked for at epoch "
                    + std::to_string(r.owner_position.epoch)
                    + "; the shard is at epoch " + std::to_string(a.epoch));
  if (r.member_position < r.owner_position)
    return fail(errc::invalid_argument,
                where + "has not caught up (at "
                    + std::to_string(r.member_position.epoch) + "/"
                    + std::to_string(r.member_position.seq) + ", owner at "
                    + std::to_string(r.owner_position.epoch) + "/"
                    + std::to_string(r.owner_position.seq) + ")");
  auto next = a;
  next.isr.clear(); // in the order of `replicas`
  for (const auto& m : a.replicas)
    if (listed(a.isr, m) || m == r.member)
      next.isr.push_back(m);
  return single(keys, r.shard, **entry, std::move(next));
}

result<assignment_plan> isr_remove_plan(const controller_keys& keys,
                                        const shard_table& table,
                                        const isr_request& r) {
  auto entry = owner_request(table, r);
  if (!entry)
    return entry.error();
  const auto& a = (*entry)->value;
  auto where = "shard " + std::to_string(r.shard) + ": '" + r.member + "' ";
  if (r.member == a.owner)
    return fail(errc::invalid_argument, where + "is the owner");
  if (!listed(a.isr, r.member))
    return fail(errc::invalid_argument, where + "is not in the isr");
  bool lagging =
      r.member_position.epoch < r.owner_position.epoch
      || (r.owner_position.seq > r.member_position.seq
          && r.owner_position.seq - r.member_position.seq > r.max_lag);
  if (!lagging)
    return fail(errc::invalid_argument, where + "is not lagging");
  auto next = a;
  drop(next.isr, r.member);
  return single(keys, r.shard, **entry, std::move(next));
}

assignment_plan leave_isr_plan(const controller_keys& keys,
                               const shard_table& table,
                               const std::string& member,
                               const std::vector<std::uint32_t>& shards) {
  assignment_plan plan;
  for (auto shard : shards) {
    const auto* entry = find(table, shard);
    if (!entry || entry->value.owner == member
        || !listed(entry->value.isr, member))
      continue;
    auto next = entry->value;
    drop(next.isr, member);
    plan.changes.push_back({shard, entry->mod_revision, std::move(next)});
  }
  plan.txns = to_txns(keys, plan.changes);
  return plan;
}

result<assignment_plan> replacement_plan(const controller_keys& keys,
                                         const shard_table& table,
                                         const std::string& forgotten,
                                         const std::set<std::string>& live,
                                         std::size_t replication_factor,
                                         const replica_positions& positions,
                                         bool allow_data_loss) {
  if (live.contains(forgotten))
    return fail(errc::invalid_argument,
                "'" + forgotten
                    + "' still holds its lease: stop it before forgetting it");
  auto map = shard_map::compute({live.begin(), live.end()});
  assignment_plan plan;
  for (const auto& [shard, entry] : table) {
    const auto& now = entry.value;
    if (!listed(now.replicas, forgotten))
      continue;
    auto next = now;
    drop(next.replicas, forgotten);
    drop(next.isr, forgotten);
    for (const auto& m : map.ranking(shard, live.size())) {
      if (next.replicas.size() >= replication_factor)
        break;
      if (!listed(next.replicas, m))
        next.replicas.push_back(m);
    }
    if (next.replicas.size() < replication_factor)
      plan.under_replicated.push_back(shard);
    if (next.isr.empty()) {
      auto first_live =
          std::find_if(next.replicas.begin(), next.replicas.end(),
                       [&](const auto& m) { return live.contains(m); });
      if (!allow_data_loss || first_live == next.replicas.end()) {
        plan.refused.emplace_back(
            shard, "its only in-sync copies were on '" + forgotten + "'"
                       + (allow_data_loss ? " and no replica is live"
                                          : ": allow data loss to restart "
                                            "it empty"));
        continue;
      }
      next.owner = *first_live;
      next.isr = {next.owner};
      ++next.epoch;
      plan.data_lost.push_back(shard);
    } else if (now.owner == forgotten || now.owner.empty()) {
      // As a failover: `next.owner` is still the old one (not live).
      // Other dead isr members are dropped, as the forgotten one (the
      // operator's call: the live ones hold what was acknowledged).
      if (!promote(shard, next, live, positions, 1))
        plan.without_owner.push_back(shard);
    }
    plan.changes.push_back({shard, entry.mod_revision, std::move(next)});
  }
  plan.txns = to_txns(keys, plan.changes);
  return plan;
}

} // namespace sluice::cluster
