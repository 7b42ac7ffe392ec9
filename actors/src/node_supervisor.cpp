// One-for-one supervision of the stage supervisors with an intensity limit.
#include "node_supervisor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <deque>

#include "feed_source.hpp"
#include "messages.hpp"
#include "stage_supervisor.hpp"

namespace sluice {

namespace {

constexpr std::size_t max_restarts = 5;
constexpr std::chrono::seconds restart_window{10};

struct node_state {
  node_env env;
  caf::actor store;
  std::vector<caf::actor> stages; // by stage index
  std::vector<std::pair<caf::actor_addr, std::string>> feeds;
  std::deque<std::chrono::steady_clock::time_point> restarts;
  std::shared_ptr<spdlog::logger> log;
  static inline const char* name = "node_supervisor";
};

using node_actor = caf::stateful_actor<node_state>;

void announce_routers(node_actor* self) {
  auto& s = self->state;
  msg::router_table t;
  for (std::size_t i = 0; i < s.stages.size(); ++i)
    t.routers.emplace_back(s.env.plan->stage_id(i), s.stages[i]);
  self->send(s.store, msg::routers_atom::value, std::move(t));
}

/// Restarts stage `i` unless the intensity limit is exceeded.
void restart_stage(node_actor* self, std::size_t i, const caf::error& why) {
  auto& s = self->state;
  auto now = std::chrono::steady_clock::now();
  while (!s.restarts.empty() && now - s.restarts.front() > restart_window)
    s.restarts.pop_front();
  auto& name = s.env.plan->topo().stages[i].name;
  if (s.restarts.size() >= max_restarts) {
    s.log->critical("stage {} crashed ({}); {} restarts within {}s exceed the "
                    "intensity limit: stopping the node",
                    name, to_string(why), s.restarts.size(),
                    restart_window.count());
    self->quit(why);
    return;
  }
  s.restarts.push_back(now);
  s.log->error("stage {} crashed ({}); restarting it", name, to_string(why));
  s.stages[i] = spawn_stage_supervisor(self, s.env, i, s.store);
  announce_routers(self);
}

caf::behavior node_supervisor(node_actor* self, node_env env, caf::actor store,
                              std::vector<std::string> feeds) {
  auto& s = self->state;
  s.env = env;
  s.store = std::move(store);
  s.log = env.logger("node");
  self->monitor(s.store);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source == self->state.store.address()) {
      self->state.log->critical("store stopped: {}", to_string(dm.reason));
      self->quit(dm.reason ? dm.reason
                           : caf::make_error(caf::sec::runtime_error,
                                             "store stopped"));
    }
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& s = self->state;
    for (std::size_t i = 0; i < s.stages.size(); ++i)
      if (s.stages[i].address() == em.source) {
        restart_stage(self, i, em.reason);
        return;
      }
    for (auto& [addr, path] : s.feeds)
      if (addr == em.source) {
        if (em.reason)
          s.log->error("feed {} stopped: {}", path, to_string(em.reason));
        return;
      }
    self->quit(em.reason); // from the node itself: shut down
  });
  for (std::size_t i = 0; i < env.plan->stage_count(); ++i)
    s.stages.push_back(spawn_stage_supervisor(self, env, i, s.store));
  announce_routers(self);
  for (auto& f : feeds) {
    auto a = spawn_feed_source(self, env, f, s.store);
    s.feeds.emplace_back(a.address(), f);
  }
  return {
      // Restarts of stage supervisors within the current window.
      [self](msg::stats_atom) {
        return static_cast<std::uint64_t>(self->state.restarts.size());
      },
  };
}

} // namespace

caf::actor spawn_node_supervisor(caf::actor_system& sys, node_env env,
                                 caf::actor store_actor,
                                 std::vector<std::string> feeds) {
  return sys.spawn(node_supervisor, std::move(env), std::move(store_actor),
                   std::move(feeds));
}

} // namespace sluice
