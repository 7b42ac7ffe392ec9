// The cluster actor's view for other threads: the member table and the
// shard counts as JSON for the console, the busy flag for the drained
// check, and why the member gave up. Runs on the cluster actor; the view
// itself is guarded by its mutex.
#include "view_publisher.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <mutex>

#include "links.hpp"
#include "replication/replication.hpp"
#include "seeds.hpp"

namespace sluice::cluster {

namespace {

/// Replicated shards: per shard owned here its epoch, replicas, in-sync
/// set, watermark and each follower's lag in records; the totals.
nlohmann::json replication_view(const cluster_state& s) {
  using nlohmann::json;
  json per = json::array();
  std::size_t under = 0;
  std::uint64_t max_lag = 0;
  for (auto& [shard, r] : s.repl) {
    json lag = json::object();
    for (auto& [f, fs] : r.followers) {
      std::uint64_t behind =
          fs.acked && takes_log(r, *fs.acked) && fs.acked->seq <= r.head
              ? r.head - fs.acked->seq
              : r.head;
      lag[f] = behind;
      max_lag = std::max(max_lag, behind);
    }
    under +=
        r.isr.size() < std::min(s.opts.replication_factor,
                                std::max<std::size_t>(r.replicas.size(), 1))
        || r.replicas.size() < s.opts.replication_factor;
    per.push_back({{"shard", shard},
                   {"epoch", r.epoch},
                   {"replicas", r.replicas},
                   {"isr", r.isr},
                   {"head", r.head},
                   {"watermark", r.hw},
                   {"lag", std::move(lag)}});
  }
  std::size_t unowned = 0;
  if (s.assignments)
    for (auto& [shard, e] : *s.assignments)
      unowned += e.value.owner.empty();
  return {{"factor", s.opts.replication_factor},
          {"min_insync", s.opts.min_insync},
          {"lease", s.lease_ok},
          {"assigned", s.assignments ? s.assignments->size() : 0},
          {"without_owner", unowned},
          {"under_replicated_here", under},
          {"max_follower_lag", max_lag},
          {"owned", std::move(per)}};
}

} // namespace

void publish_view(cluster_actor* self) {
  auto& s = self->state;
  using nlohmann::json;
  json members = json::array();
  std::int64_t up = 0;
  for (auto& m : s.table->members()) {
    json j{{"name", m.name},
           {"address", m.address},
           {"status", std::string(to_string(m.status))},
           {"incarnation", m.incarnation},
           {"self", m.name == s.opts.name},
           {"proxy", !m.hosts_shards},
           // Until joined there is no cluster map to show (its own
           // table would give it every shard): 0.
           {"shards", s.joined ? s.desired.shards_of(m.name).size() : 0}};
    if (m.name != s.opts.name) {
      auto* l = ready_link(s, m.name);
      j["connected"] = l != nullptr;
    }
    up += m.status == member_status::up;
    members.push_back(std::move(j));
  }
  s.members_up->set(up);
  auto owned = s.place->shards_in(shard_state::owned);
  auto leaving = s.place->shards_in(shard_state::leaving);
  s.owned_shards->set(static_cast<std::int64_t>(owned.size()));
  std::size_t misplaced = 0;
  for (auto sh : owned)
    misplaced += s.desired.owner(sh) != s.opts.name;
  json shards{{"count", shard_count},
              {"owned_here", owned.size()},
              {"leaving", leaving.size()},
              {"to_hand_off", misplaced + leaving.size()},
              {"incoming", s.incoming.size()}};
  json owners = json::object();
  if (s.joined)
    for (auto& n : s.desired.nodes())
      owners[n] = s.desired.shards_of(n).size();
  shards["owners"] = owners;
  if (s.replicated) {
    auto rv = replication_view(s);
    s.under_replicated->set(rv["under_replicated_here"].get<std::int64_t>());
    s.follower_lag->set(rv["max_follower_lag"].get<std::int64_t>());
    shards["replication"] = std::move(rv);
  }
  // An incoming transfer is the sender's to finish (it counts as busy
  // there); a sender that died must not hold this member up for good.
  bool busy = !s.joined || s.handoff || !leaving.empty() || misplaced > 0;
  std::lock_guard<std::mutex> guard{s.view->mtx};
  s.view->nodes = {{"cluster", true},
                   {"self", s.opts.name},
                   {"epoch", s.table->epoch()},
                   {"joined", s.joined},
                   {"nodes", std::move(members)}};
  if (!s.joined) // what it waits for, as the log says it
    s.view->nodes["waiting"] =
        describe_wait(s.seeds, holds_shards(s), s.seed_states, clock::now(),
                      std::chrono::system_clock::now());
  s.view->shards = std::move(shards);
  s.view->busy = busy;
  s.view->joined = s.joined;
  s.view->owned = owned.size();
  s.view->hosts_shards = s.opts.hosts_shards;
  s.view->replicated = s.replicated;
  s.view->lease_ok = s.lease_ok;
}

void give_up(cluster_actor* self, const std::string& why) {
  auto& s = self->state;
  s.log->critical("{}", why);
  std::lock_guard<std::mutex> guard{s.view->mtx};
  if (s.view->fatal.empty())
    s.view->fatal = why;
}

} // namespace sluice::cluster
