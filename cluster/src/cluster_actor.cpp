// The cluster actor: published on the member's address, it owns the member
// table, the links and the shard map. This file holds its start (state,
// metrics, the down handler), its behaviour and the dispatch of requests
// from other members; the handshake, the heartbeat and gossip, the view,
// the forwarder and hand-offs have files of their own.
#include "cluster_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <utility>

#include "cluster_messages.hpp"
#include "cluster_state.hpp"
#include "feed_reads.hpp"
#include "handshake.hpp"
#include "heartbeat.hpp"
#include "links.hpp"
#include "replication/replication.hpp"
#include "sluice/caf_error.hpp"
#include "view_publisher.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

/// Answers one request from another member.
caf::result<std::string> on_request(cluster_actor* self,
                                    const std::string& bytes) {
  auto& s = self->state;
  auto sender = self->current_sender();
  auto from = sender ? sender->node() : caf::node_id{};
  v1::ClusterMessage m;
  if (!m.ParseFromString(bytes))
    return reply_error(
        fail(errc::parse, "malformed cluster message ("
                              + std::to_string(bytes.size())
                              + " bytes are not a sluice.v1.ClusterMessage)"));
  if (m.has_hello())
    return on_hello(self, from, m.hello());
  if (m.has_proof())
    return on_proof(self, from, m.proof());
  auto t = s.trusted.find(from);
  if (t == s.trusted.end()) {
    s.log->warn("ignored a {} message from a node that has not proved the "
                "cluster secret",
                body_name(m));
    return reply_error(
        fail(errc::invalid_argument,
             "not a member: join with the cluster secret first"));
  }
  s.table->heard_from(t->second, clock::now());
  switch (m.body_case()) {
  case v1::ClusterMessage::kGossip:
    on_gossip(self, m.gossip());
    return reply_ok();
  case v1::ClusterMessage::kForward:
    return receive_forward(self, t->second, m.forward());
  case v1::ClusterMessage::kHandoffBegin:
  case v1::ClusterMessage::kHandoffChunk:
  case v1::ClusterMessage::kHandoffCommit:
    return receive_handoff(self, t->second, m);
  case v1::ClusterMessage::kReplicate:
    return receive_replicate(self, t->second, m.replicate());
  case v1::ClusterMessage::kReplSnapshot:
    return receive_repl_snapshot(self, t->second, m.repl_snapshot());
  case v1::ClusterMessage::kTopologyCheck:
    return receive_topology_check(self, m.topology_check());
  case v1::ClusterMessage::kFeedRead:
    return receive_feed_read(self, m.feed_read());
  case v1::ClusterMessage::kLeave:
    if (s.table->mark_left(m.leave().name())) {
      s.log->info("member {} left the cluster", m.leave().name());
      recompute(self);
    }
    return reply_ok();
  default:
    return reply_error(fail(errc::invalid_argument,
                            "unexpected " + body_name(m) + " message"));
  }
}

} // namespace

void recompute(cluster_actor* self) {
  auto& s = self->state;
  if (s.replicated) {
    // Owners come from the controller's table (replication/), never from
    // the member table.
    publish_view(self);
    return;
  }
  auto next = shard_map::compute(s.table->shard_owners());
  if (!(next == s.desired)) {
    auto n = moved(s.desired, next).size();
    auto before = std::exchange(s.desired, std::move(next));
    forget_moved_batches(self, before);
    s.log->info("shard map: {} owners, {} shards moved (epoch {})",
                s.desired.nodes().size(), n, s.table->epoch());
    s.outbox_dirty = true;
  }
  publish_view(self);
}

void call_store(cluster_actor* self, store_call fn,
                std::function<void(const result<void>&)> then, bool urgent) {
  auto& store = self->state.ctx.store_actor;
  auto on_error = [then](caf::error& e) { then(from_caf_error(e)); };
  auto on_done = [then]() { then(result<void>{}); };
  if (urgent)
    self->request<caf::message_priority::high>(
            store, caf::infinite, ext::store_call_atom::value, std::move(fn))
        .then(on_done, on_error);
  else
    self->request(store, caf::infinite, ext::store_call_atom::value,
                  std::move(fn))
        .then(on_done, on_error);
}

caf::behavior cluster_actor_impl(cluster_actor* self, cluster_start start) {
  auto& s = self->state;
  s.opts = std::move(start.opts);
  s.ctx = std::move(start.ctx);
  s.place = std::move(start.place);
  s.view = std::move(start.view);
  s.address = std::move(start.address);
  s.seeds = std::move(start.seeds);
  s.log = s.ctx.logger("cluster");
  s.started = clock::now();
  s.replicated = !s.opts.controller.empty();
  // No other seed: this member started a new cluster (or resumed its own)
  // in prepare(); else it joins through a seed, or forms as the first.
  s.joined = s.seeds.others.empty();
  detection_options d{s.opts.heartbeat, s.opts.suspect_after,
                      s.opts.down_after};
  s.table.emplace(member{s.opts.name, s.address, start.incarnation,
                         member_status::up, s.opts.hosts_shards},
                  d, clock::now());
  for (std::size_t i = 0; i < s.ctx.plan->stage_count(); ++i) {
    auto& name = s.ctx.plan->topo().stages[i].name;
    s.stage_ids[name] = s.ctx.plan->stage_id(i);
    s.stage_names[s.ctx.plan->stage_id(i)] = name;
  }
  auto& m = *s.ctx.metrics;
  s.forwarded = &m.get_counter("sluice_cluster_forwarded_total", {},
                               "Outbox events acknowledged by their owner");
  s.forwarded_bytes = &m.get_counter("sluice_cluster_forwarded_bytes_total", {},
                                     "Event bytes acknowledged by their owner");
  s.received = &m.get_counter("sluice_cluster_received_total", {},
                              "Events other members forwarded here");
  s.duplicates = &m.get_counter("sluice_cluster_duplicates_total", {},
                                "Forwarded events dropped as received before");
  s.refusals = &m.get_counter("sluice_cluster_refused_total", {},
                              "Forwarded events refused: shard not owned");
  s.handoffs_out = &m.get_counter("sluice_cluster_handoffs_out_total", {},
                                  "Hand-offs of shards to another member");
  s.handoffs_in = &m.get_counter("sluice_cluster_handoffs_in_total", {},
                                 "Hand-offs of shards taken over");
  s.shards_moved = &m.get_counter("sluice_cluster_shards_moved_total", {},
                                  "Shards handed off from this member");
  s.handoff_time = &m.get_histogram("sluice_cluster_handoff_seconds", {},
                                    "Duration of one outgoing hand-off");
  s.members_up = &m.get_gauge("sluice_cluster_members_up", {},
                              "Members this node sees up");
  s.owned_shards = &m.get_gauge("sluice_cluster_shards_owned", {},
                                "Shards this member owns");
  s.promoted = &m.get_counter(
      "sluice_replication_promoted_total", {},
      "Shards this member took over from its copy after their owner failed");
  s.snapshots_sent =
      &m.get_counter("sluice_replication_snapshots_sent_total", {},
                     "Shard snapshots sent to followers without a usable copy");
  s.under_replicated = &m.get_gauge(
      "sluice_replication_under_replicated_shards", {},
      "Shards owned here with fewer in-sync copies than the factor asks");
  s.follower_lag =
      &m.get_gauge("sluice_replication_max_follower_lag_records", {},
                   "The largest lag of a follower of a shard owned here");
  s.repairs = &m.get_counter(
      "sluice_replication_repairs_total", {},
      "Shards given to an in-sync replica to fetch a damaged record again");
  watch_repairs(self);
  for (auto& seed : s.seeds.others) {
    link_to(s, seed);
    seed_state x;
    x.address = seed;
    x.silent_since = s.started;
    s.seed_states.push_back(std::move(x));
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& s = self->state;
    for (auto& [address, l] : s.links) {
      if (!l.handle || l.handle.address() != dm.source)
        continue;
      s.log->warn("lost the connection to {} ({})",
                  l.name.empty() ? "?" : l.name, address);
      if (!l.name.empty()) {
        if (s.table->lost_contact(l.name, clock::now()))
          recompute(self);
        forget_batch(self, l.name);
        // Replicated: what it held is unknown until it answers again (it
        // may come back with an empty data directory).
        for (auto& [shard, r] : s.repl)
          if (auto f = r.followers.find(l.name); f != r.followers.end()) {
            f->second.acked.reset();
            f->second.needs_snapshot = false;
            // Gone: out of the isr at the next heartbeat, not after the
            // lag time (acknowledgements wait for it until then).
            f->second.caught_up_at = clock::time_point{};
          }
        s.shipping.erase(l.name);
        s.snapshotting.erase(l.name);
      }
      retry_later(l);
    }
    // Its node is no longer trusted until it proves the secret again.
    if (auto node = dm.source.node(); node)
      s.trusted.erase(node);
  });
  recompute(self);
  self->send(self, heartbeat_atom::value);
  return {
      [self](cluster_atom, const std::string& bytes) {
        return on_request(self, bytes);
      },
      [self](gossip_atom, const std::string& bytes) {
        auto& s = self->state;
        auto sender = self->current_sender();
        if (!sender || !s.trusted.count(sender->node()))
          return; // not (or no longer) trusted: its next hello decides
        v1::ClusterMessage m;
        if (m.ParseFromString(bytes) && m.has_gossip())
          on_gossip(self, m.gossip());
      },
      [self](heartbeat_atom) {
        heartbeat(self);
        tend_isr(self);
        tend_repairs(self);
        ship(self);
      },
      [self](table_atom, table_update& t) {
        on_assignments(self, std::move(t.table));
      },
      [self](lease_atom, bool ok) { on_lease(self, ok); },
      [self](left_isr_atom, bool ok) { on_left_isr(self, ok); },
      [self](agent_atom, agent_handle& a) { self->state.agent = a.agent; },
      [self](repair_atom, std::uint32_t shard, const std::string& why) {
        on_repair(self, shard, why);
      },
      [self](repair_done_atom, std::uint32_t shard, bool given,
             const std::string& why_not) {
        on_repair_done(self, shard, given, why_not);
      },
      [self](isr_done_atom, std::uint32_t shard, const std::string& member,
             bool add, bool ok, const std::string& why) {
        auto& s = self->state;
        auto r = s.repl.find(shard);
        if (r == s.repl.end())
          return;
        r->second.isr_asked.erase(member);
        bool listed =
            std::find(r->second.isr.begin(), r->second.isr.end(), member)
            != r->second.isr.end();
        auto& isr = r->second.isr;
        if (add && ok && !listed)
          isr.push_back(member); // the table's update follows
        else if (!add && ok && listed)
          isr.erase(std::find(isr.begin(), isr.end(), member));
        else if (!ok)
          s.log->info("shard {}: {} {} the isr refused: {}", shard, member,
                      add ? "joining" : "leaving", why);
        // Removed from etcd (or never there): stop waiting for it.
        if (!add && (ok || !listed))
          r->second.waited.erase(member);
        update_watermarks(self);
      },
      [self](ext::replicated_atom, shard_positions& heads) {
        on_heads(self, heads);
      },
      [self](ext::outbox_fence_atom, std::uint64_t fence) {
        auto& s = self->state;
        if (fence > s.outbox_fence) {
          s.outbox_fence = fence;
          s.outbox_dirty = true;
          pump_outbox(self);
        }
      },
      [self](ext::outbox_atom) {
        self->state.outbox_dirty = true;
        pump_outbox(self);
      },
      [self](handoff_atom, std::uint64_t transfer, const caf::error& outcome) {
        auto& s = self->state;
        if (transfer != s.handoff_transfer)
          return;
        s.handoff = nullptr;
        if (!outcome) {
          auto took = clock::now() - s.handoff_started;
          s.handoff_time->observe_us(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(took)
                  .count()));
          s.handoffs_out->add();
          s.outbox_dirty = true;
        } else {
          s.log->warn("hand-off {} did not finish: {}; trying again", transfer,
                      describe_error(outcome));
          s.handoff_retry = clock::now() + std::chrono::seconds(1);
        }
        publish_view(self);
        maybe_hand_off(self);
        pump_outbox(self);
      },
      // The console connects to this address too: its requests go on to
      // the node's admin actor, which checks the token.
      [self](ext::admin_atom, std::string& bytes) -> caf::result<std::string> {
        auto& s = self->state;
        if (!s.ctx.admin)
          return caf::make_error(caf::sec::unexpected_message);
        auto rp = self->make_response_promise<std::string>();
        self->request(s.ctx.admin, caf::infinite, ext::admin_atom::value,
                      std::move(bytes))
            .then([rp](std::string& r) mutable { rp.deliver(std::move(r)); },
                  [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
      [self](relay_atom, const std::string& target,
             std::string& bytes) -> caf::result<std::string> {
        auto* l = ready_link(self->state, target);
        if (!l)
          return reply_error(fail(errc::unavailable, "no link to " + target));
        auto rp = self->make_response_promise<std::string>();
        self->request(l->handle, std::chrono::seconds(15), cluster_atom::value,
                      std::move(bytes))
            .then([rp](std::string& r) mutable { rp.deliver(std::move(r)); },
                  [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
      [self](topology_atom, const std::string& path) {
        return apply_everywhere(self, path);
      },
      [self](topology_done_atom, std::uint64_t id, const std::string& bytes) {
        topology_done(self, id, bytes);
      },
      [self](plan_atom, const plan_update& u) { plan_changed(self, u); },
      [self](leave_atom) {
        auto& s = self->state;
        s.table->leave();
        s.log->info("leaving the cluster: handing every shard off");
        recompute(self);
        maybe_hand_off(self);
      },
  };
}

caf::actor spawn_cluster_actor(caf::actor_system& sys, cluster_start start) {
  return sys.spawn(cluster_actor_impl, std::move(start));
}

} // namespace sluice::cluster
