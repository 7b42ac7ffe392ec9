// Key supervision in the stage supervisor: a crashed key actor (and by the
// stage's strategy its siblings) restarts from committed state, an actor
// stage's raw actor is restarted, and beyond the restart intensity the stage
// stops. Runs in the stage supervisor.
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "../actor_stage.hpp"
#include "sluice/caf_error.hpp"
#include "state.hpp"

namespace sluice::stage_supervision {

namespace {

/// Beyond the stage's restart intensity: stop it, loudly; the node
/// supervisor then decides (escalation).
void exceed_intensity(self_ptr self, const std::string& last_crash) {
  auto& s = self->state;
  auto why = "stage " + s.spec->name + ": "
             + s.restarts_window->exceeded_message()
             + "; last crash: " + last_crash;
  s.log->critical("{}; stopping the stage", why);
  stop_key_actors(self, caf::exit_reason::user_shutdown);
  self->quit(to_caf_error(fail(errc::behaviour, why)));
}

} // namespace

/// A key actor died or its state diverged from the store: wait until every
/// completion it may have sent is committed, then start it afresh from the
/// committed state and hand it the events still in flight.
void recover_key(self_ptr self, const std::string& key) {
  auto& s = self->state;
  auto* e = s.keys.find(key);
  if (!e || e->recovering)
    return;
  s.restarts->add();
  ++e->restarts;
  e->recovering = true;
  retire(self, *e, caf::exit_reason::kill);
  self->request(s.store, caf::infinite, msg::flush_atom::value)
      .then([self, key]() {
        auto* k = self->state.keys.find(key);
        if (!k)
          return;
        k->recovering = false;
        k->skip_pending = false;
        send_held(self, key);
      });
}

/// Starts a new raw actor and tells the live key actors, within the stage's
/// restart intensity. The events the old one held fail (their requests
/// return an error) and are retried with backoff.
void on_raw_actor_down(self_ptr self, const caf::error& reason) {
  auto& s = self->state;
  s.raw_actor = nullptr;
  if (!s.restarts_window->allow(std::chrono::steady_clock::now())) {
    exceed_intensity(self, "actor stage " + s.spec->behaviour + " ("
                               + describe_error(reason) + ")");
    return;
  }
  s.restarts->add();
  s.raw_actor =
      spawn_actor_stage(self, *s.env.reg->actor_stage(s.spec->behaviour));
  s.log->error("actor stage {} stopped ({}); restarted it", s.spec->behaviour,
               describe_error(reason));
  for (auto& [key, e] : s.keys)
    if (e.actor)
      self->send<caf::message_priority::high>(
          e.actor, msg::raw_actor_atom::value, s.raw_actor);
}

/// Restarts the crashed key's actor (and, by the stage's strategy, its
/// siblings) from committed state, or stops the stage when the restarts
/// exceed its intensity. The node supervisor then decides (escalation).
void on_key_crash(self_ptr self, const std::string& key,
                  const caf::error& reason) {
  auto& s = self->state;
  auto& w = *s.restarts_window;
  if (!w.allow(std::chrono::steady_clock::now())) {
    exceed_intensity(self, "key " + key + " (" + describe_error(reason) + ")");
    return;
  }
  auto* crashed = s.keys.find(key);
  auto started = crashed ? crashed->started : 0;
  std::vector<std::string> restart;
  switch (w.policy().strategy) {
  case restart_strategy::one_for_one:
    restart.push_back(key);
    break;
  case restart_strategy::one_for_all:
  case restart_strategy::rest_for_one:
    for (auto& [k, e] : s.keys)
      if ((e.actor || e.in_flight > 0 || k == key)
          && (w.policy().strategy == restart_strategy::one_for_all
              || e.started >= started))
        restart.push_back(k);
    break;
  }
  s.log->error("key actor {} crashed: {}; restarting {} key actor(s) ({})", key,
               describe_error(reason), restart.size(),
               to_string(w.policy().strategy));
  for (auto& k : restart)
    recover_key(self, k);
}

} // namespace sluice::stage_supervision
