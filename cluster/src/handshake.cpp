// The join handshake: the client connects and says hello with a nonce, the
// server answers with its proof of the cluster secret and a nonce of its
// own, the client checks it and sends its proof, and the server trusts the
// client's CAF node and welcomes it with the member table. Runs on the
// cluster actor.
#include "handshake.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman_actor.hpp>

#include "cluster_messages.hpp"
#include "links.hpp"
#include "seeds.hpp"
#include "sluice/secret.hpp"
#include "sluice/transport.hpp"
#include "view_publisher.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

constexpr auto handshake_timeout = std::chrono::seconds(10);

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
  // Events held for this member (or for shards it now owns) go at once,
  // not at the next heartbeat.
  s.outbox_dirty = true;
  pump_outbox(self);
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
  const auto& name = c.name(); // [=] below copies it into the handler
  self->request(l.handle, handshake_timeout, cluster_atom::value,
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
            if (!r.ParseFromString(bytes)
                || (r.has_reply() && !r.reply().not_joined())) {
              auto why = r.has_reply() ? r.reply().error()
                                       : std::string("a malformed answer");
              s.log->error("{} ({}) refused this node: {}", address, name, why);
              link_to(s, address).at = link::phase::refused;
              if (!s.joined)
                give_up(self, "cannot join through " + address + ": " + why);
              return;
            }
            if (r.has_reply() && r.reply().not_joined()) {
              // Up, secret right, but in no cluster yet: ask again soon.
              seed_unformed(s, address, name, r.reply().may_form(),
                            r.reply().has_shards());
              auto& l = link_to(s, address);
              l.at = link::phase::idle;
              l.handle = nullptr;
              l.backoff = std::chrono::milliseconds(100);
              l.next_try = clock::now() + s.opts.heartbeat;
              return;
            }
            if (!r.has_welcome() || s.forming) {
              retry_later(link_to(s, address));
              return;
            }
            on_welcome(self, address, name, r.welcome());
          },
          [=](caf::error& e) {
            seed_silent(self->state, address, self->system().render(e));
            retry_later(link_to(self->state, address));
          });
}

} // namespace

/// Client side, step 1: connect and say hello.
void connect(cluster_actor* self, const std::string& address) {
  auto& s = self->state;
  auto& l = link_to(s, address);
  l.at = link::phase::connecting;
  auto [host, port] = split_address(address);
  auto mm = connector(self->system());
  self->request(mm, handshake_timeout, caf::connect_atom::value, host, port)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>&) {
            auto& s = self->state;
            auto& l = link_to(s, address);
            if (!ptr || s.stopping) {
              retry_later(l);
              return;
            }
            if (ptr->node() == self->node()) {
              // Another spelling of our own address (CAF connected us to
              // ourselves): never a seed, never tried again.
              l.at = link::phase::refused;
              seed_is_self(s, address);
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
            self->request(l.handle, handshake_timeout, cluster_atom::value,
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
                    [=](caf::error& e) {
                      seed_silent(self->state, address,
                                  self->system().render(e));
                      retry_later(link_to(self->state, address));
                    });
          },
          [=](caf::error& e) {
            auto& l = link_to(self->state, address);
            auto why = self->system().render(e);
            self->state.log->debug("cannot reach {}: {}", address, why);
            seed_silent(self->state, address, why);
            retry_later(l);
          });
}

/// Server side: a hello. Answer with our proof and a nonce for theirs.
std::string on_hello(cluster_actor* self, const caf::node_id& from,
                     const v1::Hello& h) {
  auto& s = self->state;
  if (h.protocol() != protocol_version)
    return reply_error(fail(errc::invalid_argument,
                            "protocol " + std::to_string(h.protocol())
                                + " is not spoken here (this node speaks "
                                + std::to_string(protocol_version) + ")"));
  if (h.shard_count() != shard_count)
    return reply_error(fail(
        errc::config, "this cluster has " + std::to_string(shard_count)
                          + " shards, not " + std::to_string(h.shard_count())));
  if (h.name().empty() || h.name() == s.opts.name)
    return reply_error(
        fail(errc::config,
             "a member needs a name of its own, not '" + h.name() + "'"));
  // A name belongs to one data directory: another process that claims
  // the name of a live member at another address is a misconfiguration.
  if (auto* known = s.table->find(h.name());
      known && known->address != h.address()
      && (known->status == member_status::up
          || known->status == member_status::suspect)) {
    s.log->error("refused a member that calls itself {} from {}: {} is up at "
                 "{}",
                 h.name(), h.address(), h.name(), known->address);
    return reply_error(fail(errc::config, "the name '" + h.name()
                                              + "' belongs to the member at "
                                              + known->address));
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
    return reply_error(
        fail(errc::invalid_argument, "no hello came first from this node"));
  auto who = std::move(i->second.who);
  auto nonce = std::move(i->second.nonce);
  s.pending.erase(i);
  if (pr.name() != who.name
      || !same_secret(pr.proof(),
                      proof_of(s.opts.secret, "client", nonce, who.name))) {
    s.log->error("refused node {} from {}: wrong cluster secret", who.name,
                 who.address);
    return reply_error(fail(errc::invalid_argument, "wrong cluster secret"));
  }
  if (!s.joined) {
    // In no cluster to welcome it to. Its address becomes a link of ours:
    // if it is in a cluster, we join through it.
    link_to(s, who.address);
    s.log->debug("{} ({}) asked to join, but this member is in no cluster "
                 "yet",
                 who.name, who.address);
    v1::ClusterMessage m;
    auto* r = m.mutable_reply();
    r->set_ok(false);
    r->set_error("not in a cluster yet");
    r->set_code(static_cast<std::uint32_t>(errc::unavailable));
    r->set_not_joined(true);
    r->set_may_form(s.seeds.may_form);
    r->set_has_shards(holds_shards(s));
    return m.SerializeAsString();
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

} // namespace sluice::cluster
