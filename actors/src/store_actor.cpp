// Group commit into LMDB, answering appends after commit (a replicated
// store's once replicated: store_actor/replicated_handlers.cpp) and
// notifying stage supervisors of what each commit consumed and appended.
// The store actor's core; its state is in store_actor/state.hpp.
#include "store_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <optional>
#include <set>
#include <unordered_map>

#include "done_tracker.hpp"
#include "messages.hpp"
#include "sluice/caf_error.hpp"
#include "store_actor/state.hpp"

namespace sluice {
namespace store_writer {
namespace {

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

/// While urgent work flows, normal commits hold at most this many records
/// (a few milliseconds of LMDB work), and for this long after the last one.
constexpr std::size_t urgent_mode_batch = 256;
constexpr std::chrono::seconds urgent_mode_span{2};

void update_gauge(store_state& s) {
  s.pending_gauge->set(
      static_cast<std::int64_t>(s.normal.batch.size() + s.urgent.batch.size()));
}

/// Tells every stage supervisor what a commit consumed, rejected and
/// appended.
void notify_stage_supervisors(store_actor_t* self, const commit_report& rep) {
  auto& s = self->state;
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
  for (auto& ref : rep.duplicates)
    per_stage[ref.stage_id].duplicates.push_back(ref);
  for (auto& r : rep.retried)
    per_stage[r.ref.stage_id].retried.push_back(r);
  for (auto& t : rep.timers)
    per_stage[t.stage_id].timers.push_back(t);
  for (auto& [id, counts] : rep.appended) {
    per_stage[id].appended[0] += counts[0];
    per_stage[id].appended[1] += counts[1];
  }
  if (rep.outboxed > 0 && s.outbox_watcher)
    self->send(s.outbox_watcher, ext::outbox_atom::value);
  if (rep.rewind)
    for (auto& [id, r] : s.stage_supervisors)
      self->send<caf::message_priority::high>(r, msg::rewind_atom::value);
  for (auto& [id, sc] : per_stage) {
    auto i = s.stage_supervisors.find(id);
    if (i == s.stage_supervisors.end())
      continue; // not running yet: it reads its queue when it starts
    bool urgent = sc.appended[0] > 0;
    for (auto& ref : sc.consumed)
      urgent = urgent || ref.pos.priority == priority::urgent;
    for (auto& r : sc.retried)
      urgent = urgent || r.ref.pos.priority == priority::urgent;
    if (urgent)
      self->send<caf::message_priority::high>(
          i->second, msg::committed_atom::value, std::move(sc));
    else
      self->send(i->second, msg::committed_atom::value, std::move(sc));
  }
}

/// Tells the node's completion tracking what a commit settled: tracked
/// publishes dropped as duplicates or sent to the outbox, and the
/// completions applied.
void tell_done_tracker(done_tracker& done, const write_batch& b,
                       const commit_report& rep) {
  for (auto i : rep.skipped_appends)
    if (auto t = b.appends[i].done_ticket; t != 0)
      done.duplicate(t);
  for (auto i : rep.outboxed_appends)
    if (auto t = b.appends[i].done_ticket; t != 0)
      done.forwarded(t);
  done.settle(rep.settled);
}

/// How often a commit that failed for lack of space is tried again.
constexpr std::chrono::seconds full_retry{1};
/// Used space (of the map) at which a warning is logged, and below which
/// it may be logged again, in percent.
constexpr std::uint64_t space_warn_at = 90, space_warn_reset = 85;

/// A commit failed for lack of space: the lanes keep their work (nothing
/// accepted is lost), new input is refused (node::input_paused) and the
/// commit is tried again every second. Logged once per pause.
void pause_input(store_actor_t* self, std::size_t size, const error& e) {
  auto& s = self->state;
  auto now = std::chrono::steady_clock::now();
  if (!s.paused_since) {
    s.paused_since = now;
    s.log->error("commit of {} records failed: {}; input paused (new events "
                 "refused, reads served), the commit is tried again every "
                 "second",
                 size, e.describe());
    s.paused_gauge->set(1);
  }
  s.retry_at = now + full_retry;
  self->delayed_send(self, full_retry, msg::tick_atom::value);
}

void resume_input(store_actor_t* self) {
  auto& s = self->state;
  auto paused = std::chrono::steady_clock::now() - *s.paused_since;
  s.log->warn(
      "input resumed: the commit succeeded after {:.1f} s paused for lack of "
      "space",
      std::chrono::duration<double>(paused).count());
  s.paused_since.reset();
  s.paused_gauge->set(0);
}

/// How often a commit looks at the data file's size (for the warning).
constexpr std::chrono::seconds space_check_every{1};

/// Warns once as the data file nears --max-data-size. Looks at most once
/// a second: the size moves slowly, and a commit is the hot path.
void watch_space(store_state& s, std::chrono::steady_clock::time_point now) {
  if (now < s.space_checked_at + space_check_every)
    return;
  s.space_checked_at = now;
  auto use = s.env.st->space();
  if (use.max == 0)
    return;
  auto percent = use.used * 100 / use.max;
  if (!s.space_warned && percent >= space_warn_at) {
    s.space_warned = true;
    s.log->warn("the data file uses {} MiB of its largest size {} MiB "
                "(--max-data-size): input pauses when it is reached",
                use.used >> 20, use.max >> 20);
  } else if (s.space_warned && percent < space_warn_reset) {
    s.space_warned = false;
  }
}

/// Commits one lane in one LMDB transaction. Deferred completions (their
/// predecessor has not arrived yet) go back to the normal lane. While
/// input is paused, only the retry (every second) tries.
void commit(store_actor_t* self, lane& l) {
  auto& s = self->state;
  if (l.empty())
    return;
  auto t0 = std::chrono::steady_clock::now();
  // Paused: only the retry (every second) tries. The store says whether
  // the last commit found no space; paused_since is when it began.
  if (s.env.st->short_of_space() && t0 < s.retry_at)
    return;
  auto size = l.batch.size();
  l.batch.report_settled = s.env.done && s.env.done->active();
  auto r = s.env.st->commit(l.batch);
  if (!r && r.error().code == errc::no_space && !s.env.stop_when_full) {
    pause_input(self, size, r.error());
    return;
  }
  if (r && l.batch.report_settled)
    tell_done_tracker(*s.env.done, l.batch, *r);
  auto promises = std::move(l.promises);
  std::vector<queue_append> appends; // kept until replicated
  if (s.replicated)
    appends = std::move(l.batch.appends);
  auto failed_commits = l.failed_commits;
  auto copy_promises = std::move(l.copy_promises);
  l = lane{};
  if (!r) {
    s.log->critical("commit of {} records failed: {}; stopping the node", size,
                    r.error().describe());
    for (auto& rp : promises)
      rp.deliver(to_caf_error(r.error()));
    for (auto& rp : copy_promises)
      rp.deliver(to_caf_error(r.error()));
    self->quit(to_caf_error(r.error()));
    return;
  }
  if (s.paused_since)
    resume_input(self);
  watch_space(s, t0);
  // Shipped batches applied to the copies: durable now, their owners may
  // count them.
  for (std::size_t i = 0; i < copy_promises.size(); ++i)
    copy_promises[i].deliver(i < r->copies.size() ? std::move(r->copies[i])
                                                  : replica_report{});
  auto t1 = std::chrono::steady_clock::now();
  if (&l == &s.normal) {
    s.last_commit_took = t1 - t0;
    s.normal_sizing.learn(t1 - t0, size);
  }
  s.commit_latency->observe_us(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
  s.commit_size->observe_us(size);
  s.commits->add();
  auto& rep = *r;
  s.redriven->add(rep.redriven);
  s.deduplicated->add(rep.deduplicated);
  s.timers_fired->add(rep.timers_fired);
  s.log->debug("commit: {} records, {} consumed, {} rejected, {} duplicates, "
               "{} retried, {} deferred",
               size, rep.consumed.size(), rep.rejected.size(),
               rep.duplicates.size(), rep.retried.size(), rep.deferred.size());
  if (!rep.deferred.empty() && s.normal.empty())
    s.first_pending = std::chrono::steady_clock::now();
  for (auto& c : rep.deferred) {
    s.normal.keys.emplace(c.stage_id, c.key);
    s.normal.batch.completions.push_back(std::move(c));
  }
  // Deferred completions wait for their predecessor, which may never come
  // by mail (its actor was replaced): a tick makes sure they are tried
  // again even if nothing else arrives.
  if (!rep.deferred.empty() && !s.timer_armed) {
    s.timer_armed = true;
    self->delayed_send(
        self, std::max(s.env.commit_window, std::chrono::milliseconds(1)),
        msg::tick_atom::value);
  }
  update_gauge(s);
  // Routers learn what the commit did before any flush is answered: a
  // supervisor recovering a key must not resend what was just consumed.
  notify_stage_supervisors(self, rep);
  answer_after_replication(self, rep, std::move(promises), std::move(appends),
                           failed_commits);
}

void commit_all(store_actor_t* self) {
  commit(self, self->state.urgent);
  commit(self, self->state.normal);
}

} // namespace

/// Urgent work commits at once. Normal work commits when its batch is
/// full, or when nothing else waits in the mailbox and its oldest record
/// has waited the commit window; otherwise a one-shot timer wakes the
/// store at the window's end. Every handler calls this last, so no record
/// waits unseen.
void maybe_commit(store_actor_t* self) {
  auto& s = self->state;
  update_gauge(s);
  if (!s.urgent.empty())
    commit(self, s.urgent);
  if (s.normal.empty())
    return;
  auto now = std::chrono::steady_clock::now();
  bool urgent_mode = now - s.last_urgent < urgent_mode_span;
  auto limit = urgent_mode ? std::min(s.env.max_commit_batch, urgent_mode_batch)
                           : s.normal_sizing.limit(s.env.commit_budget,
                                                   s.env.max_commit_batch,
                                                   urgent_mode_batch);
  if (s.normal.batch.size() >= limit) {
    commit(self, s.normal);
    return;
  }
  // Shipped batches hold their owners' acknowledgements: they commit as
  // soon as nothing else waits (all that arrived meanwhile rides along),
  // and after about as long as a commit takes (at most the commit window)
  // while the mailbox stays busy.
  bool copies = !s.normal.batch.copies.empty();
  auto window = std::min<std::chrono::steady_clock::duration>(
      s.env.commit_window, s.last_commit_took);
  if (copies && now - s.first_pending >= window) {
    commit(self, s.normal);
    return;
  }
  if (!self->mailbox().empty())
    return;
  if (copies) {
    commit(self, s.normal);
    return;
  }
  // Wait for company about as long as a commit takes (group commit), at
  // most the configured window.
  auto waited = now - s.first_pending;
  if (waited >= window) {
    commit(self, s.normal);
  } else if (!s.timer_armed) {
    s.timer_armed = true;
    self->delayed_send(
        self,
        std::chrono::duration_cast<std::chrono::microseconds>(window - waited),
        msg::tick_atom::value);
  }
}

lane& normal_lane(store_state& s) {
  if (s.normal.empty())
    s.first_pending = std::chrono::steady_clock::now();
  return s.normal;
}

namespace {

/// Moves the normal lane's completions of (stage, key) to the urgent lane,
/// so an urgent completion never commits ahead of its key's predecessors.
void pull_key_into_urgent(store_state& s, std::uint32_t stage,
                          const std::string& key) {
  if (!s.normal.keys.count({stage, key}))
    return;
  auto& from = s.normal.batch.completions;
  auto& to = s.urgent.batch.completions;
  auto keep = std::stable_partition(from.begin(), from.end(), [&](auto& c) {
    return !(c.stage_id == stage && c.key == key);
  });
  std::move(keep, from.end(), std::back_inserter(to));
  from.erase(keep, from.end());
  s.normal.keys.erase({stage, key});
  s.urgent.keys.emplace(stage, key);
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
  s.timers_fired = &m.get_counter("sluice_store_timers_fired_total", {},
                                  "Durable timers moved into their queue");
  s.redriven = &m.get_counter("sluice_reconciler_redriven_total", {},
                              "Stuck keys re-driven (applied at commit)");
  s.deduplicated =
      &m.get_counter("sluice_publish_duplicates_total", {},
                     "Events published once before (same id), dropped");
  s.pending_gauge = &m.get_gauge("sluice_store_pending_records", {},
                                 "Records waiting for the next commit");
  if (env.st->replicated())
    s.replicated.emplace(*s.env.st, s.log);
  for (std::size_t i = 0; i < env.plan->stage_count(); ++i)
    s.stage_names[env.plan->stage_id(i)] = env.plan->topo().stages[i].name;
  s.paused_gauge = &m.get_gauge(
      "sluice_input_paused", {},
      "1 while input is paused: a commit failed for lack of space (the disk "
      "or --max-data-size) and is tried again every second");
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& s = self->state;
    s.retry_at = {};  // a paused store tries once more
    commit_all(self); // what arrived before the exit is committed
    // Paused still: what the lanes hold was not committed, and their
    // callers learn it (CAF does not answer a dropped promise).
    auto why = to_caf_error(fail(
        errc::no_space, "not committed: the node stopped while its input was "
                        "paused: "
                            + s.env.st->out_of_space()));
    for (auto* l : {&s.urgent, &s.normal}) {
      for (auto& rp : l->promises)
        rp.deliver(why);
      for (auto& rp : l->copy_promises)
        rp.deliver(why);
      *l = lane{};
    }
    self->quit(em.reason);
  });
  caf::message_handler core{
      [self](msg::append_atom, write_batch& b) -> caf::result<void> {
        auto& s = self->state;
        bool urgent = false;
        for (auto& a : b.appends)
          urgent = urgent || a.priority == priority::urgent;
        if (urgent) {
          s.last_urgent = std::chrono::steady_clock::now();
          note_urgent(s.env, s.last_urgent);
        }
        auto& l = urgent ? s.urgent : normal_lane(s);
        auto rp = self->make_response_promise();
        for (auto& a : b.appends)
          l.batch.appends.push_back(std::move(a));
        for (auto& p : b.progress)
          l.batch.progress.push_back(std::move(p));
        for (auto& d : b.dead_letters)
          l.batch.dead_letters.push_back(std::move(d));
        for (auto& r : b.redrives)
          l.batch.redrives.push_back(std::move(r));
        for (auto& f : b.timer_fires)
          l.batch.timer_fires.push_back(f);
        l.promises.push_back(rp);
        maybe_commit(self);
        return rp;
      },
      [self](msg::complete_atom, completion& c) {
        auto& s = self->state;
        // A key with work in the urgent lane keeps all its work there, in
        // order; an urgent completion pulls its key's earlier ones along.
        if (c.urgent) {
          s.last_urgent = std::chrono::steady_clock::now();
          note_urgent(s.env, s.last_urgent);
          pull_key_into_urgent(s, c.stage_id, c.key);
        }
        bool to_urgent = c.urgent || s.urgent.keys.count({c.stage_id, c.key});
        auto& l = to_urgent ? s.urgent : normal_lane(s);
        l.keys.emplace(c.stage_id, c.key);
        l.batch.completions.push_back(std::move(c));
        maybe_commit(self);
      },
      [self](msg::flush_atom) -> caf::result<void> {
        auto rp = self->make_response_promise();
        self->state.normal.promises.push_back(rp);
        commit_all(self);
        return rp;
      },
      // Cluster work (forwarded events, outbox deletes, hand-offs) runs
      // here, the one writer, after what is pending has committed.
      [self](ext::store_call_atom, store_call& fn) -> caf::result<void> {
        commit_all(self);
        // Cluster work runs after what is pending: not while it waits.
        if (self->state.env.st->short_of_space())
          return to_caf_error(
              fail(errc::no_space, self->state.env.st->out_of_space()));
        auto r = fn(*self->state.env.st);
        if (!r) {
          maybe_commit(self);
          return to_caf_error(r.error());
        }
        notify_stage_supervisors(self, *r);
        // Cluster work answers its own callers (the cluster actor waits
        // for the watermarks itself); its records still ship and fence.
        answer_after_replication(self, *r, {});
        maybe_commit(self);
        return caf::unit;
      },
      [self](ext::outbox_watch_atom, caf::actor& watcher) {
        self->state.outbox_watcher = std::move(watcher);
        maybe_commit(self);
      },
      [self](msg::tick_atom) {
        self->state.timer_armed = false;
        maybe_commit(self);
      },
      [self](msg::stage_supervisor_atom, std::uint32_t id, caf::actor& r) {
        self->state.stage_supervisors[id] = std::move(r);
        maybe_commit(self); // every handler ends here
      },
      [self](msg::stage_supervisors_atom, msg::stage_supervisor_table& t) {
        // The whole table: a topology applied live may have dropped stages.
        self->state.stage_supervisors.clear();
        for (auto& [id, name] : t.names)
          self->state.stage_names[id] = name;
        for (auto& [id, r] : t.supervisors) {
          self->state.stage_supervisors[id] = r;
          // A commit may have appended before this supervisor was known.
          msg::stage_commit wake;
          wake.appended[0] = wake.appended[1] = 1;
          self->send(r, msg::committed_atom::value, std::move(wake));
        }
        maybe_commit(self); // every handler ends here
      },
  };
  // Disjoint message types: the order of the two lists does not matter.
  return core.or_else(replicated_handlers(self));
}

} // namespace
} // namespace store_writer

caf::actor spawn_store_actor(caf::actor_system& sys, const node_env& env) {
  return sys.spawn<caf::detached>(store_writer::store_actor, env);
}

} // namespace sluice
