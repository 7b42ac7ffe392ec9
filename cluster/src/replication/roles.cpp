// The role planner's rules, shard by shard.
#include "replication/roles.hpp"

#include <algorithm>

namespace sluice::cluster {

role_changes plan_roles(const shard_table& table, const std::string& me,
                        const local_shards& local) {
  role_changes out;
  for (auto& [shard, entry] : table) {
    auto& a = entry.value;
    auto owned = local.owned.find(shard);
    bool has_copy = local.copies.count(shard) > 0;
    bool replica = listed(a.replicas, me);
    if (a.owner == me) {
      if (owned != local.owned.end()) {
        if (owned->second < a.epoch)
          out.claim[a.epoch].push_back(shard);
      } else if (has_copy) {
        out.promote[a.epoch].push_back(shard);
      } else if (std::any_of(a.isr.begin(), a.isr.end(),
                             [&](const std::string& m) { return m != me; })) {
        out.resign.push_back(shard); // others hold what was acknowledged
      } else {
        out.claim[a.epoch].push_back(shard); // a first assignment
        if (a.epoch > 1)
          out.claimed_empty.push_back(shard); // ...or its data is gone
      }
      continue;
    }
    if (owned != local.owned.end()) {
      // Another owner at an epoch at least ours: ours is over. (An older
      // epoch in the table than here cannot be: epochs come from it.)
      // No owner (fenced: none of its isr is live but possibly this
      // member, which the controller makes owner again once it is seen):
      // keep everything; this may be the only copy of what was
      // acknowledged.
      // Listed in the isr, it leaves it first: until then its records are
      // what the controller counts on.
      if (!a.owner.empty() && a.epoch >= owned->second)
        (listed(a.isr, me) ? out.leave_isr : out.demote).push_back(shard);
      continue;
    }
    if (!replica && has_copy)
      out.drop_copies.push_back(shard);
  }
  return out;
}

} // namespace sluice::cluster
