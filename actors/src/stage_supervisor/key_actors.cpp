// The stage supervisor's key actors: spawned on demand through the
// key-actor pool, rebound when idle, retired, passivated beyond the live-key
// limit or after an idle time, and stopped with the stage. Runs in the
// stage supervisor.
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

#include "../key_actor.hpp"
#include "state.hpp"

namespace sluice::stage_supervision {

void init_key_actors(self_ptr self) {
  self->state.keys.set_hooks({
      [self](const std::string& key, bool express) {
        auto& s = self->state;
        // Monitored, not linked: CAF 0.17 keeps links in a list that every
        // exit scans, which is quadratic with tens of thousands of key
        // actors.
        caf::actor a;
        if (express)
          a = self->spawn<caf::monitored + caf::detached>(
              key_actor, s.env, s.index, key, s.store, s.raw_actor);
        else
          a = self->spawn<caf::monitored>(key_actor, s.env, s.index, key,
                                          s.store, s.raw_actor);
        s.live_keys->set(static_cast<std::int64_t>(s.keys.size()));
        return a;
      },
      [self](const caf::actor& a, const std::string& key) {
        // High priority: ahead of anything sent to it after this. Nothing of
        // the old key is left in its mailbox: all of it is committed.
        self->send<caf::message_priority::high>(a, msg::rebind_atom::value,
                                                key);
        self->state.rebound->add();
      },
  });
}

/// Stops a key's actor: one whose key has nothing in flight (`user_shutdown`)
/// or one being replaced after a crash or a stale commit (`kill`). Its DOWN
/// message then comes from an unknown address and is ignored.
void retire(self_ptr self, key_entry& e, caf::exit_reason reason) {
  if (auto a = self->state.keys.retire(e))
    self->send_exit(a, reason);
}

/// The key's actor, spawned on demand; at the live-key limit, the actor of
/// the oldest idle key is rebound instead (stopping one actor and spawning
/// another each cost CAF a clock-thread round trip). `express`: urgent work
/// for a key with nothing in flight runs on an actor with its own thread,
/// so it does not queue behind thousands of ready key actors in CAF's shared
/// job queue (mailbox priority orders one mailbox, not the scheduler). It is
/// retired as soon as its work is committed.
caf::actor& key_actor_of(self_ptr self, const std::string& key, bool express) {
  auto& s = self->state;
  auto& e = s.keys.entry(key);
  if (express && !e.express && e.in_flight <= 1)
    retire(self, e); // idle: everything it did is committed
  return s.keys.actor_of(key, express, s.spec->max_live_keys);
}

void send_to_key(self_ptr self, caf::actor& a, keys::queue_pos pos,
                 const std::shared_ptr<const event>& ev) {
  msg::dispatch d{pos, ev};
  if (pos.priority == priority::urgent)
    self->send<caf::message_priority::high>(a, msg::process_atom::value,
                                            std::move(d));
  else
    self->send(a, msg::process_atom::value, std::move(d));
}

namespace {

/// Stops the actors of passivated entries (null: an entry without one).
void stop_passivated(self_ptr self, std::vector<caf::actor> actors) {
  auto& s = self->state;
  for (auto& a : actors) {
    // Its DOWN message reaches us from an unknown address and is ignored.
    if (a)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    s.passivated->add();
  }
  s.live_keys->set(static_cast<std::int64_t>(s.keys.size()));
}

} // namespace

void passivate(self_ptr self) {
  auto& s = self->state;
  stop_passivated(self, s.keys.passivate(s.spec->max_live_keys));
}

void passivate_idle(self_ptr self) {
  auto& s = self->state;
  auto after = s.spec->passivate_after;
  if (after.count() <= 0)
    return;
  auto now = std::chrono::steady_clock::now();
  stop_passivated(self, s.keys.passivate_idle(now - after));
}

void arm_idle_check(self_ptr self) {
  auto after = self->state.spec->passivate_after;
  if (after.count() <= 0)
    return;
  // A key goes at most a quarter of the span late (at most 10 s).
  auto every = std::clamp<std::chrono::milliseconds>(
      after / 4, std::chrono::milliseconds(10), std::chrono::seconds(10));
  self->delayed_send(self, every, msg::idle_check_atom::value);
}

void stop_key_actors(self_ptr self, const caf::error& reason) {
  for (auto& [key, e] : self->state.keys)
    if (e.actor)
      self->send_exit(e.actor, reason);
  if (self->state.raw_actor)
    self->send_exit(self->state.raw_actor, reason);
}

} // namespace sluice::stage_supervision
