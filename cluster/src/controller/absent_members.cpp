// The clocks of absent replicas: started when a replica is first seen
// without a live lease, dropped when it is live again or a replica of
// nothing (forgotten).
#include "controller/absent_members.hpp"

#include <algorithm>

namespace sluice::cluster {

void absent_members::observe(const shard_table& shards,
                             const std::set<std::string>& live,
                             clock_type::time_point now) {
  std::set<std::string> absent;
  for (const auto& [shard, entry] : shards)
    for (const auto& m : entry.value.replicas)
      if (!live.count(m))
        absent.insert(m);
  for (auto it = gone_since_.begin(); it != gone_since_.end();)
    it = absent.count(it->first) ? std::next(it) : gone_since_.erase(it);
  for (const auto& m : absent)
    gone_since_.try_emplace(m, now);
}

std::vector<std::string> absent_members::due(clock_type::time_point now) const {
  std::vector<std::string> out;
  if (replace_after_.count() <= 0)
    return out;
  for (const auto& [m, since] : gone_since_)
    if (now - since >= replace_after_)
      out.push_back(m);
  return out;
}

std::optional<absent_members::clock_type::time_point>
absent_members::next_due(clock_type::time_point now) const {
  std::optional<clock_type::time_point> next;
  if (replace_after_.count() <= 0)
    return next;
  for (const auto& [m, since] : gone_since_) {
    auto at = since + replace_after_;
    if (at > now && (!next || at < *next))
      next = at;
  }
  return next;
}

absent_replacement
absent_replacement_plan(const controller_keys& keys, const shard_table& table,
                        const std::vector<std::string>& due,
                        const std::vector<std::string>& hosting,
                        std::size_t replication_factor) {
  std::set<std::string> live(hosting.begin(), hosting.end());
  absent_replacement out;
  auto next_table = table;
  std::map<std::uint32_t, std::size_t> index; // shard -> its change
  std::set<std::uint32_t> refused;
  for (const auto& m : due) {
    auto plan = replacement_plan(keys, next_table, m, live, replication_factor,
                                 {}, false);
    if (!plan)
      continue; // live: not absent after all
    bool any = false;
    for (auto& c : plan->changes) {
      bool safe = std::any_of(c.next.isr.begin(), c.next.isr.end(),
                              [&](const auto& r) { return live.count(r); });
      if (!safe) {
        if (refused.insert(c.shard).second)
          out.refused.emplace_back(c.shard, "no live in-sync copy besides '" + m
                                                + "' and other absent "
                                                  "members");
        continue;
      }
      // The next member's plan starts from this one's result; the
      // revision compared stays the one read.
      next_table[c.shard].value = c.next;
      if (auto i = index.find(c.shard); i != index.end()) {
        out.changes[i->second].next = std::move(c.next);
      } else {
        index[c.shard] = out.changes.size();
        out.changes.push_back(std::move(c));
      }
      any = true;
    }
    for (auto& r : plan->refused)
      if (refused.insert(r.first).second)
        out.refused.push_back(std::move(r));
    if (any)
      out.forgotten.push_back(m);
  }
  return out;
}

} // namespace sluice::cluster
