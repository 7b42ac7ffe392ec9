// The cluster actor: published on the member's address, it runs the join
// handshake (both sides prove the shared secret), gossips the member table
// with every heartbeat, detects failures, keeps links to every member, and
// recomputes the shard map, which drives forwarding and hand-offs.
#include "cluster_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include "cluster_messages.hpp"
#include "cluster_state.hpp"
#include "sluice/secret.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

constexpr auto request_timeout = std::chrono::seconds(10);
constexpr auto max_backoff = std::chrono::milliseconds(2000);

/// Splits HOST:PORT (checked when the member was made).
std::pair<std::string, std::uint16_t> split(const std::string& address) {
  auto colon = address.rfind(':');
  return {address.substr(0, colon),
          static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)))};
}

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
           {"shards", s.desired.shards_of(m.name).size()}};
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

link& link_to(cluster_state& s, const std::string& address) {
  auto& l = s.links[address];
  l.address = address;
  return l;
}

void retry_later(link& l) {
  l.at = link::phase::idle;
  l.handle = nullptr;
  l.next_try = clock::now() + l.backoff;
  l.backoff = std::min(max_backoff, l.backoff * 2);
}

/// Client side, step 3: the server accepted our proof and sent its table.
void on_welcome(cluster_actor* self, const std::string& address,
                const std::string& name, const v1::Welcome& w) {
  auto& s = self->state;
  auto& l = link_to(s, address);
  l.at = link::phase::ready;
  l.name = name;
  l.backoff = std::chrono::milliseconds(100);
  auto now = clock::now();
  s.table->merge(from_wire(w.members()), w.epoch(), now);
  s.table->heard_from(name, now);
  if (!s.joined)
    s.log->info("joined the cluster through {} ({}): {} members", name, address,
                s.table->members().size());
  else
    s.log->info("connected to {} ({})", name, address);
  s.joined = true;
  recompute(self);
}

/// Client side, step 2: check the server's proof, send ours.
void on_challenge(cluster_actor* self, const std::string& address,
                  const std::string& our_nonce, const v1::Challenge& c) {
  auto& s = self->state;
  auto& l = link_to(s, address);
  bool server_ok = same_secret(
      c.proof(), proof_of(s.opts.secret, "server", our_nonce, c.name()));
  if (!server_ok)
    s.log->error("the member at {} ({}) does not know the cluster secret; "
                 "refusing it",
                 address, c.name());
  // Our proof goes either way, so the other side can log the refusal too.
  v1::ClusterMessage m;
  auto* p = m.mutable_proof();
  p->set_name(s.opts.name);
  p->set_proof(proof_of(s.opts.secret, "client", c.nonce(), s.opts.name));
  auto name = c.name();
  self->request(l.handle, request_timeout, cluster_atom::value,
                m.SerializeAsString())
      .then(
          [=](const std::string& bytes) {
            auto& s = self->state;
            v1::ClusterMessage r;
            if (!server_ok) {
              link_to(s, address).at = link::phase::refused;
              if (!s.joined)
                give_up(self, "cannot join through " + address
                                  + ": that member does not know this "
                                    "cluster's secret");
              return;
            }
            if (!r.ParseFromString(bytes) || r.has_reply()) {
              auto why = r.has_reply() ? r.reply().error()
                                       : std::string("a malformed answer");
              s.log->error("{} ({}) refused this node: {}", address, name, why);
              link_to(s, address).at = link::phase::refused;
              if (!s.joined)
                give_up(self, "cannot join through " + address + ": " + why);
              return;
            }
            if (!r.has_welcome()) {
              retry_later(link_to(s, address));
              return;
            }
            on_welcome(self, address, name, r.welcome());
          },
          [=](caf::error&) { retry_later(link_to(self->state, address)); });
}

/// Client side, step 1: connect and say hello.
void connect(cluster_actor* self, const std::string& address) {
  auto& s = self->state;
  auto& l = link_to(s, address);
  l.at = link::phase::connecting;
  auto [host, port] = split(address);
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, request_timeout, caf::connect_atom::value, host, port)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>&) {
            auto& s = self->state;
            auto& l = link_to(s, address);
            if (!ptr || s.stopping) {
              retry_later(l);
              return;
            }
            l.handle = caf::actor_cast<caf::actor>(ptr);
            self->monitor(l.handle);
            l.at = link::phase::handshaking;
            auto nonce = random_bytes(32);
            v1::ClusterMessage m;
            auto* h = m.mutable_hello();
            h->set_protocol(protocol_version);
            h->set_name(s.opts.name);
            h->set_address(s.address);
            h->set_incarnation(s.table->self().incarnation);
            h->set_nonce(nonce);
            h->set_shard_count(shard_count);
            h->set_proxy(!s.opts.hosts_shards);
            self->request(l.handle, request_timeout, cluster_atom::value,
                          m.SerializeAsString())
                .then(
                    [=](const std::string& bytes) {
                      v1::ClusterMessage r;
                      if (!r.ParseFromString(bytes) || !r.has_challenge()) {
                        auto why = r.has_reply() ? r.reply().error()
                                                 : std::string("no challenge");
                        self->state.log->error("{} refused this node: {}",
                                               address, why);
                        link_to(self->state, address).at = link::phase::refused;
                        if (!self->state.joined)
                          give_up(self, "cannot join through " + address + ": "
                                            + why);
                        return;
                      }
                      on_challenge(self, address, nonce, r.challenge());
                    },
                    [=](caf::error&) {
                      retry_later(link_to(self->state, address));
                    });
          },
          [=](caf::error& e) {
            auto& l = link_to(self->state, address);
            self->state.log->debug("cannot reach {}: {}", address,
                                   to_string(e));
            retry_later(l);
          });
}

/// Server side: a hello. Answer with our proof and a nonce for theirs.
std::string on_hello(cluster_actor* self, const caf::node_id& from,
                     const v1::Hello& h) {
  auto& s = self->state;
  if (h.protocol() != protocol_version)
    return reply_error("protocol " + std::to_string(h.protocol())
                       + " is not spoken here (this node speaks "
                       + std::to_string(protocol_version) + ")");
  if (h.shard_count() != shard_count)
    return reply_error("this cluster has " + std::to_string(shard_count)
                       + " shards, not " + std::to_string(h.shard_count()));
  if (h.name().empty() || h.name() == s.opts.name)
    return reply_error("a member needs a name of its own, not '" + h.name()
                       + "'");
  // A name belongs to one data directory: another process that claims
  // the name of a live member at another address is a misconfiguration.
  if (auto* known = s.table->find(h.name());
      known && known->address != h.address()
      && (known->status == member_status::up
          || known->status == member_status::suspect)) {
    s.log->error("refused a member that calls itself {} from {}: {} is up at "
                 "{}",
                 h.name(), h.address(), h.name(), known->address);
    return reply_error("the name '" + h.name() + "' belongs to the member at "
                       + known->address);
  }
  pending_hello p;
  p.nonce = random_bytes(32);
  p.who = {h.name(), h.address(), h.incarnation(), member_status::up,
           !h.proxy()};
  v1::ClusterMessage m;
  auto* c = m.mutable_challenge();
  c->set_name(s.opts.name);
  c->set_nonce(p.nonce);
  c->set_proof(proof_of(s.opts.secret, "server", h.nonce(), s.opts.name));
  s.pending[from] = std::move(p);
  return m.SerializeAsString();
}

/// Server side: the client's proof. Trust its node, or refuse loudly.
std::string on_proof(cluster_actor* self, const caf::node_id& from,
                     const v1::Proof& pr) {
  auto& s = self->state;
  auto i = s.pending.find(from);
  if (i == s.pending.end())
    return reply_error("no hello came first from this node");
  auto who = std::move(i->second.who);
  auto nonce = std::move(i->second.nonce);
  s.pending.erase(i);
  if (pr.name() != who.name
      || !same_secret(pr.proof(),
                      proof_of(s.opts.secret, "client", nonce, who.name))) {
    s.log->error("refused node {} from {}: wrong cluster secret", who.name,
                 who.address);
    return reply_error("wrong cluster secret");
  }
  s.trusted[from] = who.name;
  auto now = clock::now();
  s.table->admit(who, now);
  link_to(s, who.address); // connect back on the next heartbeat
  s.log->info("member {} ({}) joined, incarnation {}", who.name, who.address,
              who.incarnation);
  recompute(self);
  v1::ClusterMessage m;
  to_wire(s.table->members(), *m.mutable_welcome()->mutable_members());
  m.mutable_welcome()->set_epoch(s.table->epoch());
  return m.SerializeAsString();
}

void on_gossip(cluster_actor* self, const v1::Gossip& g) {
  auto& s = self->state;
  auto now = clock::now();
  s.table->heard_from(g.from(), now);
  if (s.table->merge(from_wire(g.members()), g.epoch(), now))
    recompute(self);
}

void finish_leave_when_done(cluster_actor* self);

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
    auto* m = [&]() -> const member* {
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
  finish_leave_when_done(self);
  s.outbox_dirty = true; // held entries: a member may be reachable again
  pump_outbox(self);
  maybe_hand_off(self);
  publish_view(self);
  self->delayed_send(self, s.opts.heartbeat, heartbeat_atom::value);
}

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
      self->request(l.handle, request_timeout, cluster_atom::value, bytes)
          .then([](const std::string&) {}, [](caf::error&) {});
  s.log->info("left the cluster: every shard handed off");
  std::lock_guard<std::mutex> guard{s.view->mtx};
  s.view->left = true;
}

/// Answers one request from another member.
caf::result<std::string> on_request(cluster_actor* self,
                                    const std::string& bytes) {
  auto& s = self->state;
  auto sender = self->current_sender();
  auto from = sender ? sender->node() : caf::node_id{};
  v1::ClusterMessage m;
  if (!m.ParseFromString(bytes))
    return reply_error("malformed cluster message ("
                       + std::to_string(bytes.size())
                       + " bytes are not a sluice.v1.ClusterMessage)");
  if (m.has_hello())
    return on_hello(self, from, m.hello());
  if (m.has_proof())
    return on_proof(self, from, m.proof());
  auto t = s.trusted.find(from);
  if (t == s.trusted.end()) {
    s.log->warn("ignored a {} message from a node that has not proved the "
                "cluster secret",
                body_name(m));
    return reply_error("not a member: join with the cluster secret first");
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
  case v1::ClusterMessage::kLeave:
    if (s.table->mark_left(m.leave().name())) {
      s.log->info("member {} left the cluster", m.leave().name());
      recompute(self);
    }
    return reply_ok();
  default:
    return reply_error("unexpected " + body_name(m) + " message");
  }
}

} // namespace

link* ready_link(cluster_state& s, const std::string& name) {
  auto* m = s.table->find(name);
  if (!m)
    return nullptr;
  auto i = s.links.find(m->address);
  if (i == s.links.end() || i->second.at != link::phase::ready)
    return nullptr;
  return &i->second;
}

void recompute(cluster_actor* self) {
  auto& s = self->state;
  auto next = shard_map::compute(s.table->shard_owners());
  if (!(next == s.desired)) {
    auto n = moved(s.desired, next).size();
    s.desired = std::move(next);
    s.log->info("shard map: {} owners, {} shards moved (epoch {})",
                s.desired.nodes().size(), n, s.table->epoch());
    s.outbox_dirty = true;
  }
  publish_view(self);
}

void call_store(cluster_actor* self, store_call fn,
                std::function<void(const std::string&)> then, bool urgent) {
  auto& store = self->state.ctx.store_actor;
  auto on_error = [then](caf::error& e) { then(to_string(e)); };
  auto on_done = [then](const std::string& err) { then(err); };
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
  s.log = s.ctx.logger("cluster");
  s.joined = s.opts.seeds.empty();
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
  for (auto& seed : s.opts.seeds)
    link_to(s, seed);
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
      [self](heartbeat_atom) { heartbeat(self); },
      [self](ext::outbox_atom) {
        self->state.outbox_dirty = true;
        pump_outbox(self);
      },
      [self](handoff_atom, std::uint64_t transfer, bool ok,
             const std::string& why) {
        auto& s = self->state;
        if (transfer != s.handoff_transfer)
          return;
        s.handoff = nullptr;
        if (ok) {
          auto took = clock::now() - s.handoff_started;
          s.handoff_time->observe_us(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(took)
                  .count()));
          s.handoffs_out->add();
          s.outbox_dirty = true;
        } else {
          s.log->warn("hand-off {} did not finish: {}; trying again", transfer,
                      why);
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
          return reply_error("no link to " + target);
        auto rp = self->make_response_promise<std::string>();
        self->request(l->handle, std::chrono::seconds(15), cluster_atom::value,
                      std::move(bytes))
            .then([rp](std::string& r) mutable { rp.deliver(std::move(r)); },
                  [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
        return rp;
      },
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
