// A key actor wraps a key_processor: the per-key logic lives in runtime/,
// this file only connects it to mailboxes.
#include "key_actor.hpp"

#include <caf/event_based_actor.hpp>

#include "actor_stage.hpp"
#include "exception_reason.hpp"
#include "messages.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/key_processor.hpp"

namespace sluice {

namespace {

spdlog::level::level_enum to_spdlog(log_level l) {
  switch (l) {
  case log_level::debug:
    return spdlog::level::debug;
  case log_level::info:
    return spdlog::level::info;
  case log_level::warn:
    return spdlog::level::warn;
  case log_level::error:
    break;
  }
  return spdlog::level::err;
}

} // namespace

caf::behavior key_actor(caf::event_based_actor* self, node_env env,
                        std::size_t stage_index, std::string key,
                        caf::actor store_actor, caf::actor raw_actor) {
  auto& spec = env.plan->topo().stages[stage_index];
  // An actor stage: the stage's raw CAF actor handles each event, and
  // `bridge` turns its reply into the processor's effects.
  const bool actor_stage = env.reg->actor_stage(spec.behaviour) != nullptr;
  auto raw = std::make_shared<caf::actor>(std::move(raw_actor));
  auto bridge = std::make_shared<reply_behaviour*>(nullptr);
  // The processor of the key this actor owns now; replaced on rebind.
  auto proc = std::make_shared<std::unique_ptr<key_processor>>();
  // After a failure that will be retried, the key's later events must not
  // run before it: they are dropped here and sent again by the supervisor.
  auto waiting = std::make_shared<bool>(false);
  // Why the key's stored record could not be read, when it is damaged on
  // disk (a replica may hold it whole); empty otherwise.
  auto damaged = std::make_shared<std::string>();
  auto log = env.logger("stage." + spec.name);
  auto bind = [=, &spec](const std::string& k) {
    *waiting = false;
    damaged->clear();
    result<std::unique_ptr<behaviour>> made{std::unique_ptr<behaviour>()};
    if (actor_stage) {
      auto b = std::make_unique<reply_behaviour>();
      *bridge = b.get();
      made = std::unique_ptr<behaviour>(std::move(b));
    } else {
      made = env.reg->create(spec.behaviour);
      if (made) {
        if (auto ok = (*made)->configure(spec.settings); !ok)
          made = ok.error();
      }
    }
    if (!made) {
      // Checked when the plan was bound; only a throwing factory, or a
      // configure() that fails the second time, gets here.
      log->error("key {}: {}", k, made.error().describe());
      self->quit(to_caf_error(made.error()));
      return;
    }
    // A rebound actor keeps its processor's memory (cheaper than freeing
    // it, cold, and allocating anew), not its behaviour.
    if (*proc) {
      (*proc)->rebind(k, std::move(*made));
    } else {
      *proc = std::make_unique<key_processor>(*env.plan, stage_index, k,
                                              std::move(*made));
      (*proc)->set_log_sink([log](log_level level, const std::string& key,
                                  std::string_view line) {
        log->log(to_spdlog(level), "key {}: {}", key, line);
      });
    }
    if (auto r = (*proc)->load(*env.st); !r) {
      log->error("{}", r.error().describe());
      if ((*proc)->load_damaged())
        *damaged = r.error().describe();
    }
  };
  bind(key);
  if (!*proc)
    return {};
  auto& m = *env.metrics;
  labels l{{"stage", spec.name}};
  auto* done = &m.get_counter("sluice_stage_done_total", l, "Events processed");
  auto* skipped = &m.get_counter("sluice_stage_skipped_total", l,
                                 "Events skipped as unchanged");
  auto* failed = &m.get_counter("sluice_stage_failed_total", l,
                                "Events dead-lettered after their last try");
  auto* retrying = &m.get_counter("sluice_stage_failed_attempts_total", l,
                                  "Tries that failed and will be retried");
  auto* unrouted = &m.get_counter("sluice_stage_unrouted_total", l,
                                  "Emitted events no subscription took");
  // A fatal_error (or any exception outside the behaviour's call) crashes
  // the actor; the reason carries the message to the supervisor's log.
  self->set_exception_handler(exception_reason);
  // Processes `d` and sends the completion to the store.
  auto finish = [=](const msg::dispatch& d) {
    auto& p = **proc;
    auto c = p.process(d.pos, *d.ev, now_ns());
    switch (p.last_outcome()) {
    case outcome::done:
      done->add();
      break;
    case outcome::skipped:
      skipped->add();
      break;
    case outcome::failed:
      failed->add();
      log->warn("key {} event {} failed for good (dead-lettered): {}", p.key(),
                d.ev->id, p.last_error());
      break;
    case outcome::retrying:
      retrying->add();
      *waiting = true;
      log->info("key {} event {} failed, will retry: {}", p.key(), d.ev->id,
                p.last_error());
      break;
    }
    for (auto& [name, us] : p.take_observations())
      env.metrics
          ->get_histogram("sluice_behaviour_" + name + "_seconds",
                          {{"stage", spec.name}})
          .observe_us(us);
    for (auto& [name, n] : p.take_counts()) {
      if (name == "unrouted")
        unrouted->add(n);
      else
        env.metrics
            ->get_counter("sluice_behaviour_" + name + "_total",
                          {{"stage", spec.name}})
            .add(n);
    }
    if (c.urgent)
      self->send<caf::message_priority::high>(
          store_actor, msg::complete_atom::value, std::move(c));
    else
      self->send(store_actor, msg::complete_atom::value, std::move(c));
  };
  return {
      // Reuse for another key whose previous key is idle and committed:
      // cheaper than stopping one actor and spawning another.
      [=](msg::rebind_atom, const std::string& k) { bind(k); },
      // The stage's raw actor was restarted.
      [=](msg::raw_actor_atom, caf::actor& a) { *raw = std::move(a); },
      [=](msg::process_atom, msg::dispatch& d) {
        if (*waiting)
          return; // parked by the supervisor; it comes again after the retry
        // Damaged here, and a replica holds the key whole: the shard goes to
        // that replica, which runs the event. Until then the supervisor
        // parks the key's events (no dead letter), as behind a retry.
        if (!damaged->empty() && env.place
            && env.place->ask_repair((*proc)->key(), *damaged)) {
          *waiting = true;
          self->send(caf::actor_cast<caf::actor>(self->current_sender()),
                     msg::hold_atom::value, std::move(d));
          return;
        }
        if (!actor_stage || (*proc)->unchanged(*d.ev)) {
          finish(d);
          return;
        }
        if (!*raw) {
          (*bridge)->expect_failure("actor stage " + spec.behaviour
                                    + " is not running");
          finish(d);
          return;
        }
        auto& p = **proc;
        actor_request rq{spec.name, p.key(), *d.ev, p.has_state(), p.state()};
        // await: the key's next event waits until this one is answered.
        // No request timeout: a pending one held CAF 0.17's clock at
        // shutdown (an intermittent 30 s stall). A dead actor's requests
        // come back as errors; a live one must answer.
        self->request(*raw, caf::infinite, actor_event_atom::value,
                      std::move(rq))
            .await(
                [=](actor_reply& r) {
                  (*bridge)->expect(std::move(r));
                  finish(d);
                },
                [=](caf::error& err) {
                  (*bridge)->expect_failure("actor stage " + spec.behaviour
                                            + ": " + describe_error(err));
                  finish(d);
                });
      },
  };
}

} // namespace sluice
