// The heartbeat: failure detection, links to every member, gossip of the
// member table, and the periodic pushes (seeds until joined, outbox,
// hand-offs, the view, a leave that is done). Runs on the cluster actor.
#include "heartbeat.hpp"

#include <caf/event_based_actor.hpp>

#include "cluster_messages.hpp"
#include "handshake.hpp"
#include "links.hpp"
#include "seeds.hpp"
#include "view_publisher.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

constexpr auto heartbeat_timeout = std::chrono::seconds(10);

/// A leaving member that owns nothing any more and has forwarded all it
/// held has left: it says so to every member, and the node may stop.
void finish_leave_when_done(cluster_actor* self) {
  auto& s = self->state;
  if (s.table->self().status != member_status::leaving || s.handoff
      || !s.place->shards_in(shard_state::owned).empty()
      || !s.place->shards_in(shard_state::leaving).empty())
    return;
  auto outbox = s.ctx.st->outbox_depth();
  if (!outbox || *outbox > 0)
    return;
  s.table->finish_leave();
  v1::ClusterMessage m;
  m.mutable_leave()->set_name(s.opts.name);
  auto bytes = m.SerializeAsString();
  for (auto& [address, l] : s.links)
    if (l.at == link::phase::ready)
      self->request(l.handle, heartbeat_timeout, cluster_atom::value, bytes)
          .then([](const std::string&) {}, [](caf::error&) {});
  s.log->info("left the cluster: every shard handed off");
  std::lock_guard<std::mutex> guard{s.view->mtx};
  s.view->left = true;
}

} // namespace

void on_gossip(cluster_actor* self, const v1::Gossip& g) {
  auto& s = self->state;
  auto now = clock::now();
  s.table->heard_from(g.from(), now);
  if (s.table->merge(from_wire(g.members()), g.epoch(), now))
    recompute(self);
}

void heartbeat(cluster_actor* self) {
  auto& s = self->state;
  if (s.stopping)
    return;
  auto now = clock::now();
  if (!s.table->tick(now).empty())
    recompute(self);
  // Links: to every member not left, and to seeds until joined.
  for (auto* m : s.table->peers())
    if (!m->address.empty())
      link_to(s, m->address);
  for (auto& [address, l] : s.links) {
    auto* m = [&s, &address = address]() -> const member* {
      for (auto& x : s.table->members())
        if (x.address == address)
          return &x;
      return nullptr;
    }();
    if (m && m->name == s.opts.name)
      continue;
    if (m && m->status == member_status::left)
      continue;
    if (l.at == link::phase::idle && now >= l.next_try)
      connect(self, address);
  }
  v1::ClusterMessage g;
  auto* gossip = g.mutable_gossip();
  gossip->set_from(s.opts.name);
  gossip->set_epoch(s.table->epoch());
  to_wire(s.table->members(), *gossip->mutable_members());
  auto bytes = g.SerializeAsString();
  for (auto& [address, l] : s.links)
    if (l.at == link::phase::ready)
      self->send(l.handle, gossip_atom::value, bytes);
  check_seeds(self);
  finish_leave_when_done(self);
  s.outbox_dirty = true; // held entries: a member may be reachable again
  pump_outbox(self);
  maybe_hand_off(self);
  publish_view(self);
  self->delayed_send(self, s.opts.heartbeat, heartbeat_atom::value);
}

} // namespace sluice::cluster
