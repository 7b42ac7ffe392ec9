// The stage supervisor's behaviour and wiring: its metrics, its raw actor
// (an actor stage), the handling of commits, DOWN and EXIT messages. What it
// does with them is in stage_supervisor/ (one file per concept, around the
// state in stage_supervisor/state.hpp).
#include "stage_supervisor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actor_stage.hpp"
#include "stage_supervisor/state.hpp"

namespace sluice {

namespace {

using namespace stage_supervision;

/// How long a key whose damaged record is being fetched again from a
/// replica waits before its events are tried again here.
constexpr std::int64_t repair_wait_ns = 2'000'000'000;

caf::behavior stage_supervisor_impl(self_ptr self, node_env env,
                                    std::size_t index, caf::actor store,
                                    caf::actor_addr parent, bool paused) {
  auto& s = self->state;
  s.parent = std::move(parent);
  s.env = env;
  s.index = index;
  s.stage_id = env.plan->stage_id(index);
  s.spec = &env.plan->topo().stages[index];
  s.store = std::move(store);
  s.log = env.logger("stage." + s.spec->name);
  s.restarts_window.emplace(s.spec->supervision);
  init_key_actors(self);
  auto& m = *env.metrics;
  labels l{{"stage", s.spec->name}};
  s.in_flight_gauge = &m.get_gauge("sluice_stage_in_flight", l,
                                   "Events dispatched and not yet committed");
  s.live_keys = &m.get_gauge("sluice_stage_live_keys", l, "Live key actors");
  s.dispatched =
      &m.get_counter("sluice_stage_in_total", l, "Events dispatched");
  s.restarts = &m.get_counter("sluice_stage_key_restarts_total", l,
                              "Key actors restarted");
  s.skipped = &m.get_counter("sluice_stage_skipped_total", l,
                             "Events skipped as unchanged");
  s.rebound = &m.get_counter("sluice_stage_rebound_total", l,
                             "Idle key actors reused for another key");
  s.passivated = &m.get_counter("sluice_stage_passivated_total", l,
                                "Idle key actors stopped");
  s.corrupt = &m.get_counter("sluice_stage_corrupt_events_total", l,
                             "Queued events that did not decode");
  s.retries = &m.get_counter("sluice_stage_retries_total", l,
                             "Failed events scheduled for another try");
  s.duplicates = &m.get_counter("sluice_stage_duplicates_total", l,
                                "Completions whose event was consumed already");
  s.blocked_keys = &m.get_gauge("sluice_stage_retrying_keys", l,
                                "Keys whose failed event waits for a retry");
  s.mem_timer_gauge =
      &m.get_gauge("sluice_stage_memory_timers", l, "In-memory timers pending");
  s.timers_fired = &m.get_counter("sluice_stage_timers_fired_total", l,
                                  "In-memory timers fired (durable ones: "
                                  "sluice_store_timers_fired_total)");
  if (auto* f = env.reg->actor_stage(s.spec->behaviour))
    s.raw_actor = spawn_actor_stage(self, *f);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& s = self->state;
    if (s.raw_actor && dm.source == s.raw_actor.address()) {
      on_raw_actor_down(self, dm.reason);
      return;
    }
    auto* key = s.keys.key_of(dm.source.id());
    if (!key)
      return; // a passivated or replaced key actor
    on_key_crash(self, std::string{*key}, dm.reason);
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& s = self->state;
    if (em.source != s.parent)
      return;
    stop_key_actors(self, em.reason); // stop with the node
    self->quit(em.reason);
  });
  s.paused = paused;
  read_durable_due(self);
  load_retries(self);
  // The store must know this supervisor before any completion of an event
  // it dispatches commits, or that commit's report (what it consumed) goes
  // to nobody and the events stay in flight for ever. The node's table
  // comes from another actor, in no order with the key actors' mail; this
  // comes first: sent before the first dispatch, with the high priority
  // urgent completions use.
  self->send<caf::message_priority::high>(
      s.store, msg::stage_supervisor_atom::value, s.stage_id,
      caf::actor_cast<caf::actor>(self));
  self->send(self, msg::pump_atom::value);
  arm_idle_check(self);
  return {
      [self](msg::pump_atom) { pump(self); },
      [self](msg::wake_atom) { wake(self); },
      [self](msg::idle_check_atom) {
        passivate_idle(self);
        arm_idle_check(self);
      },
      [self](msg::pause_atom, bool paused) {
        self->state.paused = paused;
        if (!paused)
          pump(self);
      },
      // Entries were appended outside the store actor (a dead-letter
      // redrive): their seqs are past the cursors, so read on from there.
      [self](msg::poke_atom) {
        auto& s = self->state;
        s.more[0] = s.more[1] = true;
        pump(self);
      },
      [self](msg::let_go_atom, const std::vector<std::uint32_t>& shards) {
        return let_go(self, shards);
      },
      [self](msg::rewind_atom) { rewind(self); },
      // A key actor met a damaged record of its key whose shard is being
      // fetched again from a replica: the key's events wait in LMDB, and
      // are tried again (by a new actor, which reads the key again) in a
      // while, unless the shard has left by then.
      [self](msg::hold_atom, msg::dispatch& d) {
        auto& s = self->state;
        retry_ref r{{s.stage_id, d.pos, 0}, now_ns() + repair_wait_ns};
        block_key(self, r, false);
        pump(self);
      },
      [self](msg::actors_atom, std::size_t limit) {
        return snapshot(self->state, limit);
      },
      [self](msg::inspect_atom, const std::string& key) {
        return key_view(self->state, key);
      },
      [self](msg::committed_atom, msg::stage_commit& sc) {
        auto& s = self->state;
        for (auto& ref : sc.consumed)
          release(self, ref);
        for (auto& r : sc.retried)
          block_key(self, r);
        if (!sc.timers.empty())
          apply_timers(self, sc.timers);
        for (auto& ref : sc.duplicates) {
          // Someone else consumed it: nothing to redo, but the actor's
          // state ran ahead of the store's.
          auto i = s.in_flight.find(ref.pos);
          if (i == s.in_flight.end() || i->second.key.empty())
            continue;
          auto key = i->second.key;
          s.duplicates->add();
          s.log->warn("event {} of key {} was consumed already; reloading "
                      "the key",
                      ref.pos.seq, key);
          release(self, ref);
          recover_key(self, key);
        }
        for (auto& ref : sc.rejected) {
          auto i = s.in_flight.find(ref.pos);
          if (i != s.in_flight.end() && !i->second.key.empty()) {
            s.log->warn("commit of key {} rejected as stale; reloading it",
                        i->second.key);
            auto key = i->second.key;
            recover_key(self, key);
          }
        }
        if (sc.appended[0] > 0)
          s.more[0] = true;
        if (sc.appended[1] > 0)
          s.more[1] = true;
        passivate(self);
        pump(self);
      },
  };
}

} // namespace

caf::actor spawn_stage_supervisor(caf::event_based_actor* parent, node_env env,
                                  std::size_t stage_index,
                                  caf::actor store_actor, bool paused) {
  return parent->spawn<caf::linked>(stage_supervisor_impl, env, stage_index,
                                    std::move(store_actor), parent->address(),
                                    paused);
}

} // namespace sluice
