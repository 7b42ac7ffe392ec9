// Supervision of the stage supervisors by the topology's policy (OTP
// strategies and an intensity limit). Beyond it the node stops, loudly.
#include "node_supervisor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <optional>
#include <set>

#include "feed_source.hpp"
#include "messages.hpp"
#include "pg_source.hpp"
#include "reconciler.hpp"
#include "sluice/caf_error.hpp"
#include "stage_supervisor.hpp"

namespace sluice {

namespace {

struct node_state {
  node_env env;
  caf::actor store;
  std::vector<caf::actor> stages; // by stage index
  std::vector<std::pair<caf::actor_addr, std::string>> feeds;
  caf::actor reconciler;
  std::optional<restart_window> restarts;
  /// Stage supervisors stopped on purpose (one_for_all, rest_for_one):
  /// their exit is expected.
  std::set<caf::actor_addr> replaced;
  std::set<std::size_t> paused; ///< stages paused by an operator
  bool draining = false;        ///< `drain`: the feeds were stopped
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "node_supervisor";
};

using node_actor = caf::stateful_actor<node_state>;

/// Tells the store actor which stage supervisor runs each stage.
void announce_stage_supervisors(node_actor* self) {
  auto& s = self->state;
  msg::stage_supervisor_table t;
  for (std::size_t i = 0; i < s.stages.size(); ++i) {
    t.supervisors.emplace_back(s.env.plan->stage_id(i), s.stages[i]);
    t.names.emplace_back(s.env.plan->stage_id(i),
                         s.env.plan->topo().stages[i].name);
  }
  self->send(s.store, msg::stage_supervisors_atom::value, std::move(t));
}

/// Restarts stage `i` (and, by the node's strategy, others) unless the
/// intensity limit is exceeded; then the node stops with the reason.
void restart_stage(node_actor* self, std::size_t i, const caf::error& why) {
  auto& s = self->state;
  auto& w = *s.restarts;
  auto& name = s.env.plan->topo().stages[i].name;
  if (!w.allow(std::chrono::steady_clock::now())) {
    auto msg = "stage " + name + " stopped (" + describe_error(why)
               + "); node: " + w.exceeded_message() + "; stopping the node";
    s.log->critical("{}", msg);
    // The stage's own kind (storage, behaviour...) names the cause.
    auto kind = why ? from_caf_error(why).code : errc::behaviour;
    self->quit(to_caf_error(fail(kind, msg)));
    return;
  }
  std::vector<std::size_t> restart{i};
  if (w.policy().strategy != restart_strategy::one_for_one)
    for (std::size_t j = 0; j < s.stages.size(); ++j)
      if (j != i
          && (w.policy().strategy == restart_strategy::one_for_all || j > i)) {
        s.replaced.insert(s.stages[j].address());
        self->send_exit(s.stages[j], caf::exit_reason::user_shutdown);
        restart.push_back(j);
      }
  s.log->error("stage {} stopped ({}); restarting {} stage(s) ({})", name,
               describe_error(why), restart.size(),
               to_string(w.policy().strategy));
  for (auto j : restart)
    s.stages[j] =
        spawn_stage_supervisor(self, s.env, j, s.store, s.paused.count(j) > 0);
  announce_stage_supervisors(self);
}

caf::behavior node_supervisor(node_actor* self, node_env env, caf::actor store,
                              std::vector<std::string> feeds) {
  auto& s = self->state;
  s.env = env;
  s.store = std::move(store);
  s.log = env.logger("node");
  s.restarts.emplace(env.plan->topo().supervision);
  self->monitor(s.store);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source == self->state.store.address()) {
      self->state.log->critical("store stopped: {}", describe_error(dm.reason));
      self->quit(dm.reason
                     ? dm.reason
                     : to_caf_error(fail(errc::unavailable, "store stopped")));
    }
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& s = self->state;
    if (s.replaced.erase(em.source) > 0)
      return; // stopped on purpose and already replaced
    for (std::size_t i = 0; i < s.stages.size(); ++i)
      if (s.stages[i].address() == em.source) {
        restart_stage(self, i, em.reason);
        return;
      }
    if (em.source == s.reconciler.address()) {
      s.log->error("reconciler stopped: {}; restarting it",
                   describe_error(em.reason));
      s.reconciler = spawn_reconciler(self, s.env, s.store);
      return;
    }
    for (auto& [addr, path] : s.feeds)
      if (addr == em.source) {
        if (em.reason && !s.draining)
          s.log->error("feed {} stopped: {}", path, describe_error(em.reason));
        return;
      }
    self->quit(em.reason); // from the node itself: shut down
  });
  for (std::size_t i = 0; i < env.plan->stage_count(); ++i)
    s.stages.push_back(spawn_stage_supervisor(self, env, i, s.store));
  announce_stage_supervisors(self);
  s.reconciler = spawn_reconciler(self, env, s.store);
  for (auto& f : feeds) {
    auto a = spawn_feed_source(self, env, f, s.store);
    s.feeds.emplace_back(a.address(), f);
  }
  // Sources stop with the feeds on a drain, and are logged as they are.
  for (auto& src : env.plan->topo().sources) {
    auto a = spawn_pg_source(self, env, src, s.store);
    s.feeds.emplace_back(a.address(), "source " + src.name);
  }
  return {
      // Restarts of stage supervisors within the current window.
      [self](msg::stats_atom) {
        return static_cast<std::uint64_t>(self->state.restarts->recent());
      },
      // The stage supervisors by stage index, for the admin's questions.
      [self](msg::stages_atom) { return self->state.stages; },
      [self](msg::pause_atom, std::size_t i, bool paused) {
        auto& s = self->state;
        if (i >= s.stages.size())
          return;
        if (paused)
          s.paused.insert(i);
        else
          s.paused.erase(i);
        self->send(s.stages[i], msg::pause_atom::value, paused);
      },
      // Stop taking input: the feeds stop (their offsets are committed
      // with what they read); the stages drain what is queued.
      [self](msg::drain_atom) {
        auto& s = self->state;
        s.draining = true;
        for (auto& [addr, path] : s.feeds) {
          s.log->info("draining: stopping feed {}", path);
          self->send_exit(addr, caf::exit_reason::user_shutdown);
        }
      },
      [self](msg::poke_atom) {
        for (auto& st : self->state.stages)
          self->send(st, msg::poke_atom::value);
      },
  };
}

} // namespace

caf::actor spawn_node_supervisor(caf::actor_system& sys, node_env env,
                                 caf::actor store_actor,
                                 std::vector<std::string> feeds) {
  return sys.spawn(node_supervisor, env, std::move(store_actor),
                   std::move(feeds));
}

} // namespace sluice
