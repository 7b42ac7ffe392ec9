// Group commit into LMDB, answering appends after commit and notifying
// routers of what each commit consumed and appended.
#include "store_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <unordered_map>

#include "messages.hpp"

namespace sluice {

namespace {

struct store_state {
  node_env env;
  std::shared_ptr<spdlog::logger> log;
  write_batch pending;
  std::vector<caf::response_promise> promises;
  bool urgent = false;
  std::chrono::steady_clock::time_point first_pending;
  bool timer_armed = false;
  std::unordered_map<std::uint32_t, caf::actor> routers;
  histogram* commit_latency = nullptr;
  histogram* commit_size = nullptr;
  counter* commits = nullptr;
  gauge* pending_gauge = nullptr;
  std::unordered_map<std::uint64_t, histogram*> stage_latency; // (id<<1)|prio
  std::unordered_map<std::uint32_t, std::string> stage_names;

  static inline const char* name = "store";
};

using store_actor_t = caf::stateful_actor<store_state>;

histogram& latency_of(store_state& s, std::uint32_t stage, priority p) {
  auto k = (std::uint64_t{stage} << 1) | static_cast<std::uint64_t>(p);
  auto& h = s.stage_latency[k];
  if (!h)
    h = &s.env.metrics->get_histogram(
        "sluice_stage_latency_seconds",
        {{"stage", s.stage_names[stage]}, {"priority", to_string(p)}},
        "From ingest to the commit of this stage, per priority");
  return *h;
}

void commit(store_actor_t* self) {
  auto& s = self->state;
  if (s.pending.empty() && s.promises.empty())
    return;
  auto t0 = std::chrono::steady_clock::now();
  auto size = s.pending.size();
  auto r = s.env.st->commit(std::move(s.pending));
  s.pending = write_batch{};
  s.urgent = false;
  if (!r) {
    s.log->critical("commit of {} records failed: {}; stopping the node", size,
                    r.error().describe());
    for (auto& rp : s.promises)
      rp.deliver(
          caf::make_error(caf::sec::runtime_error, r.error().describe()));
    s.promises.clear();
    self->quit(caf::make_error(caf::sec::runtime_error, r.error().describe()));
    return;
  }
  auto t1 = std::chrono::steady_clock::now();
  s.commit_latency->observe_us(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
  s.commit_size->observe_us(size);
  s.commits->add();
  for (auto& rp : s.promises)
    rp.deliver(caf::unit);
  s.promises.clear();
  auto& rep = *r;
  s.log->debug("commit: {} records, {} consumed, {} rejected, {} deferred, "
               "{} appended to {} stages",
               size, rep.consumed.size(), rep.rejected.size(),
               rep.deferred.size(), rep.records, rep.appended.size());
  // Deferred completions wait for their predecessor in the next batch.
  for (auto& c : rep.deferred)
    s.pending.completions.push_back(std::move(c));
  s.first_pending = std::chrono::steady_clock::now();
  s.pending_gauge->set(static_cast<std::int64_t>(s.pending.size()));
  // One notification per stage that this commit touched.
  std::unordered_map<std::uint32_t, msg::stage_commit> per_stage;
  auto now = now_ns();
  for (auto& ref : rep.consumed) {
    per_stage[ref.stage_id].consumed.push_back(ref);
    if (ref.ingest_ts_ns > 0 && now > ref.ingest_ts_ns)
      latency_of(s, ref.stage_id, ref.pos.priority)
          .observe_us(
              static_cast<std::uint64_t>((now - ref.ingest_ts_ns) / 1000));
  }
  for (auto& ref : rep.rejected)
    per_stage[ref.stage_id].rejected.push_back(ref);
  for (auto& [id, counts] : rep.appended) {
    per_stage[id].appended[0] += counts[0];
    per_stage[id].appended[1] += counts[1];
  }
  for (auto& [id, sc] : per_stage) {
    auto i = s.routers.find(id);
    if (i == s.routers.end())
      continue; // not running yet: it reads its queue when it starts
    bool urgent = sc.appended[0] > 0;
    for (auto& ref : sc.consumed)
      urgent = urgent || ref.pos.priority == priority::urgent;
    if (urgent)
      self->send<caf::message_priority::high>(
          i->second, msg::committed_atom::value, std::move(sc));
    else
      self->send(i->second, msg::committed_atom::value, std::move(sc));
  }
}

/// Commits when the batch is full or holds urgent work, or when nothing
/// else waits in the mailbox and the oldest record has waited the commit
/// window; otherwise a one-shot timer wakes the store at the window's end.
/// Every handler calls this last, so no record waits unseen.
void maybe_commit(store_actor_t* self) {
  auto& s = self->state;
  s.pending_gauge->set(static_cast<std::int64_t>(s.pending.size()));
  if (s.pending.empty() && s.promises.empty())
    return;
  if (s.urgent || s.pending.size() >= s.env.max_commit_batch) {
    commit(self);
    return;
  }
  if (!self->mailbox().empty())
    return;
  auto waited = std::chrono::steady_clock::now() - s.first_pending;
  if (waited >= s.env.commit_window) {
    commit(self);
  } else if (!s.timer_armed) {
    s.timer_armed = true;
    self->delayed_send(self, s.env.commit_window - waited,
                       msg::tick_atom::value);
  }
}

/// Notes when the batch's oldest record arrived.
void note_pending(store_actor_t* self) {
  auto& s = self->state;
  if (s.pending.empty() && s.promises.empty())
    s.first_pending = std::chrono::steady_clock::now();
}

caf::behavior store_actor(store_actor_t* self, node_env env) {
  auto& s = self->state;
  s.env = env;
  s.log = env.logger("store");
  auto& m = *env.metrics;
  s.commit_latency = &m.get_histogram("sluice_store_commit_seconds", {},
                                      "Duration of one LMDB commit");
  s.commit_size =
      &m.get_histogram("sluice_store_commit_records", {},
                       "Records per commit (bucket bounds are counts)");
  s.commits = &m.get_counter("sluice_store_commits_total", {}, "LMDB commits");
  s.pending_gauge = &m.get_gauge("sluice_store_pending_records", {},
                                 "Records waiting for the next commit");
  for (std::size_t i = 0; i < env.plan->stage_count(); ++i)
    s.stage_names[env.plan->stage_id(i)] = env.plan->topo().stages[i].name;
  self->set_exit_handler([self](caf::exit_msg& em) {
    commit(self); // what arrived before the exit is committed, not dropped
    self->quit(em.reason);
  });
  return {
      [self](msg::append_atom, write_batch& b) -> caf::result<void> {
        auto& s = self->state;
        note_pending(self);
        auto rp = self->make_response_promise();
        for (auto& a : b.appends) {
          s.urgent = s.urgent || a.priority == priority::urgent;
          s.pending.appends.push_back(std::move(a));
        }
        for (auto& p : b.progress)
          s.pending.progress.push_back(std::move(p));
        for (auto& d : b.dead_letters)
          s.pending.dead_letters.push_back(std::move(d));
        s.promises.push_back(rp);
        maybe_commit(self);
        return rp;
      },
      [self](msg::complete_atom, completion& c) {
        auto& s = self->state;
        note_pending(self);
        s.urgent = s.urgent || c.urgent;
        s.pending.completions.push_back(std::move(c));
        maybe_commit(self);
      },
      [self](msg::flush_atom) -> caf::result<void> {
        auto rp = self->make_response_promise();
        self->state.promises.push_back(rp);
        commit(self);
        return rp;
      },
      [self](msg::tick_atom) {
        self->state.timer_armed = false;
        maybe_commit(self);
      },
      [self](msg::routers_atom, msg::router_table& t) {
        for (auto& [id, r] : t.routers) {
          self->state.routers[id] = r;
          // A commit may have appended before this router was known: wake it.
          msg::stage_commit wake;
          wake.appended[0] = wake.appended[1] = 1;
          self->send(r, msg::committed_atom::value, std::move(wake));
        }
        maybe_commit(self); // every handler ends here: nothing waits unseen
      },
  };
}

} // namespace

caf::actor spawn_store_actor(caf::actor_system& sys, const node_env& env) {
  return sys.spawn<caf::detached>(store_actor, env);
}

} // namespace sluice
