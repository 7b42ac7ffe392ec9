// The cluster actor's view for other threads: the member table and the
// shard counts as JSON for the console, the busy flag for the drained
// check, and why the member gave up. Runs on the cluster actor; the view
// itself is guarded by its mutex.
#include "view_publisher.hpp"

#include <caf/event_based_actor.hpp>

#include <mutex>

#include "links.hpp"
#include "seeds.hpp"

namespace sluice::cluster {

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
}

void give_up(cluster_actor* self, const std::string& why) {
  auto& s = self->state;
  s.log->critical("{}", why);
  std::lock_guard<std::mutex> guard{s.view->mtx};
  if (s.view->fatal.empty())
    s.view->fatal = why;
}

} // namespace sluice::cluster
