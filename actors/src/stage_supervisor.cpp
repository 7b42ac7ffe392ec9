// Dispatch with credits: at most max_in_flight events of a stage are out of
// LMDB at once (dispatched, not yet committed). Urgent entries are read and
// sent first, with CAF's high mailbox priority. A backlog stays in LMDB.
#include "stage_supervisor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

#include "actor_stage.hpp"
#include "key_actor.hpp"
#include "messages.hpp"
#include "sluice/dead_letter.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/key_processor.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

constexpr std::size_t read_chunk = 256;   // entries per LMDB read
constexpr std::size_t pump_budget = 1024; // dispatches per handler run
constexpr std::chrono::seconds urgent_mode_span{2};
constexpr std::size_t urgent_mode_min_in_flight = 64;

struct key_entry {
  caf::actor actor;
  std::uint32_t in_flight = 0;
  bool recovering = false;
  bool express = false; ///< runs on its own thread (urgent work)
  /// A skip decided here, without a key actor, waits for its commit; the
  /// key's later events are held until then.
  bool skip_pending = false;
  keys::queue_pos skip_pos;
  /// A failed event of the key waits for its retry; the key's events read
  /// meanwhile are parked (positions only, the events stay in LMDB).
  bool blocked = false;
  /// Parked positions, oldest first: sent again, in order, once the retry
  /// is due. While any are left, newly read events of the key park too.
  std::deque<keys::queue_pos> parked;
  std::uint64_t started = 0;  ///< spawn order of its actor (rest_for_one)
  std::uint32_t restarts = 0; ///< times its actor was restarted
};

struct flight {
  std::string key;
  std::shared_ptr<const event> ev;
};

/// An in-memory timer (`timer_kind::in_memory`): lost with the node; once
/// due, appended to the stage's queue like any event.
struct mem_timer {
  std::int64_t due_ns = 0;
  priority prio = priority::normal;
  std::string event_bytes;
};

/// (key, timer name)
using timer_id = std::pair<std::string, std::string>;

struct stage_state {
  node_env env;
  std::size_t index = 0;
  std::uint32_t stage_id = 0;
  const stage_spec* spec = nullptr;
  caf::actor store;
  caf::actor_addr parent;
  /// An actor stage's raw CAF actor (null for a behaviour stage).
  caf::actor stage_actor;
  std::shared_ptr<spdlog::logger> log;
  std::uint64_t cursor[2] = {0, 0}; // next seq to read, per priority
  bool more[2] = {true, true};      // the queue may hold unread entries
  std::map<keys::queue_pos, flight> in_flight;
  std::unordered_map<std::string, key_entry> keys;
  std::unordered_map<caf::actor_id, std::string> key_of_actor; // live ones
  std::deque<std::string> idle; // keys that went idle, oldest first
  std::uint64_t spawned = 0;    // key actors started, for their order
  bool pump_scheduled = false;
  bool paused = false; ///< `pause STAGE`: nothing new is dispatched
  std::chrono::steady_clock::time_point last_urgent; ///< last urgent dispatch
  /// Blocked keys by the time their retry is due.
  std::multimap<std::int64_t, std::string> retry_due;
  /// In-memory timers, and their due times (entries of replaced timers stay
  /// behind and are skipped).
  std::map<timer_id, mem_timer> mem_timers;
  std::multimap<std::int64_t, timer_id> mem_due;
  /// The earliest durable timer (in LMDB) as last read or reported.
  std::int64_t durable_due = INT64_MAX;
  bool firing = false; ///< a durable fire is at the store
  /// One CAF timer, for the first of retries and timers due.
  std::int64_t timer_due = INT64_MAX;
  std::deque<std::string> draining; ///< unblocked keys with parked events
  gauge* in_flight_gauge = nullptr;
  gauge* live_keys = nullptr;
  counter* dispatched = nullptr;
  counter* restarts = nullptr;
  counter* passivated = nullptr;
  counter* rebound = nullptr;
  counter* skipped = nullptr;
  counter* corrupt = nullptr;
  counter* retries = nullptr;
  counter* duplicates = nullptr;
  gauge* blocked_keys = nullptr;
  gauge* mem_timer_gauge = nullptr;
  counter* timers_fired = nullptr;
  std::optional<restart_window> restarts_window; ///< key-actor crashes

  static inline const char* name = "stage_supervisor";
};

using stage_actor = caf::stateful_actor<stage_state>;

/// True when a key's entry holds nothing that LMDB does not: no event in
/// flight, no recovery under way, no retry pending and nothing parked. Only
/// such an entry may be dropped (passivation) or its actor reused.
bool forgettable(const key_entry& e) {
  return e.in_flight == 0 && !e.recovering && !e.blocked && e.parked.empty();
}

void pump(stage_actor* self);

/// Stops a key's actor: one whose key has nothing in flight (`user_shutdown`)
/// or one being replaced after a crash or a stale commit (`kill`). Its DOWN
/// message then comes from an unknown address and is ignored.
void retire(stage_actor* self, key_entry& e,
            caf::exit_reason reason = caf::exit_reason::user_shutdown) {
  auto& s = self->state;
  if (!e.actor)
    return;
  s.key_of_actor.erase(e.actor.id());
  self->send_exit(e.actor, reason);
  e.actor = nullptr;
  e.express = false;
}

/// At the live-key limit, the actor of the oldest idle key is rebound to
/// `key` instead of stopping one actor and spawning another (each costs
/// CAF a clock-thread round trip). Null when no key is idle.
caf::actor take_idle_actor(stage_actor* self, const std::string& key) {
  auto& s = self->state;
  while (!s.idle.empty()) {
    auto victim = std::move(s.idle.front());
    s.idle.pop_front();
    auto i = s.keys.find(victim);
    if (i == s.keys.end() || victim == key || !forgettable(i->second)
        || i->second.express || !i->second.actor)
      continue;
    auto a = std::move(i->second.actor);
    s.keys.erase(i);
    s.key_of_actor[a.id()] = key;
    // High priority: ahead of anything sent to it after this. Nothing of
    // the old key is left in its mailbox: all of it is committed.
    self->send<caf::message_priority::high>(a, msg::rebind_atom::value, key);
    s.rebound->add();
    return a;
  }
  return nullptr;
}

/// The key's actor, spawned on demand. `express`: urgent work for a key
/// with nothing in flight runs on an actor with its own thread, so it does
/// not queue behind thousands of ready key actors in CAF's shared job
/// queue (mailbox priority orders one mailbox, not the scheduler). It is
/// retired as soon as its work is committed.
caf::actor& key_actor_of(stage_actor* self, const std::string& key,
                         bool express = false) {
  auto& s = self->state;
  auto& e = s.keys[key];
  if (express && !e.express && e.in_flight <= 1)
    retire(self, e); // idle: everything it did is committed
  if (!e.actor && !express && s.keys.size() > s.spec->max_live_keys)
    e.actor = take_idle_actor(self, key);
  if (!e.actor) {
    // Monitored, not linked: CAF 0.17 keeps links in a list that every exit
    // scans, which is quadratic with tens of thousands of key actors.
    if (express)
      e.actor = self->spawn<caf::monitored + caf::detached>(
          key_actor, s.env, s.index, key, s.store, s.stage_actor);
    else
      e.actor = self->spawn<caf::monitored>(key_actor, s.env, s.index, key,
                                            s.store, s.stage_actor);
    e.express = express;
    e.started = ++s.spawned;
    s.key_of_actor.emplace(e.actor.id(), key);
    s.live_keys->set(static_cast<std::int64_t>(s.keys.size()));
  }
  return e.actor;
}

void send_to_key(stage_actor* self, caf::actor& a, keys::queue_pos pos,
                 const std::shared_ptr<const event>& ev) {
  msg::dispatch d{pos, ev};
  if (pos.priority == priority::urgent)
    self->send<caf::message_priority::high>(a, msg::process_atom::value,
                                            std::move(d));
  else
    self->send(a, msg::process_atom::value, std::move(d));
}

/// An entry that does not decode cannot be given to any key: it goes to
/// dead letters through the store, with the reason.
void dead_letter_corrupt(stage_actor* self, const queued_event& q,
                         const error& why) {
  auto& s = self->state;
  s.corrupt->add();
  s.log->error("{}", why.describe());
  completion c;
  c.stage_id = s.stage_id;
  c.consumed = q.pos;
  c.touch_state = false;
  c.urgent = q.pos.priority == priority::urgent;
  c.dead_letter = dead_letter_record(s.spec->name, "", q.bytes,
                                     {{1, now_ns(), why.describe()}});
  s.in_flight.emplace(q.pos, flight{});
  self->send(s.store, msg::complete_atom::value, std::move(c));
}

/// Skip-unchanged without a key actor, for a key with nothing in flight and
/// no live actor: when the stored content hash equals the event's, the
/// acknowledgement goes straight to the store. Saves waking (or spawning)
/// an actor per unchanged event, which dominates a re-fed unchanged input.
bool skip_here(stage_actor* self, const flight& f, keys::queue_pos pos) {
  auto& s = self->state;
  auto st = s.env.st->read_state(s.stage_id, f.key);
  if (!st || !*st)
    return false; // a new key, or a read error the key actor will report
  auto c = skip_if_unchanged(*s.env.plan, s.index, f.key, **st, pos, *f.ev,
                             now_ns());
  if (!c)
    return false;
  if (c->urgent)
    self->send<caf::message_priority::high>(s.store, msg::complete_atom::value,
                                            std::move(*c));
  else
    self->send(s.store, msg::complete_atom::value, std::move(*c));
  s.skipped->add();
  return true;
}

/// Sends the key's in-flight events to its actor (spawned if need be), in
/// queue order: once a skip decided here has committed, or after recovery.
void send_held(stage_actor* self, const std::string& key) {
  auto& s = self->state;
  caf::actor* a = nullptr;
  for (auto& [pos, f] : s.in_flight)
    if (f.key == key) {
      if (!a)
        a = &key_actor_of(self, key);
      send_to_key(self, *a, pos, f.ev);
    }
}

/// Hands one queue entry to its key. `unparked`: it comes from the key's
/// parked list (its retry is due), not from the queue cursor.
void dispatch_one(stage_actor* self, queued_event& q, bool unparked = false) {
  auto& s = self->state;
  auto where = "queue." + s.spec->name + "[" + to_string(q.pos.priority) + ":"
               + std::to_string(q.pos.seq) + "]";
  auto ev = decode_event(q.bytes, where);
  if (!ev) {
    dead_letter_corrupt(self, q, ev.error());
    return;
  }
  auto key = ev->key;
  // A shard being handed off (or owned elsewhere) is not dispatched: its
  // events stay in LMDB and move with it.
  if (!dispatches_here(s.env.place, key))
    return;
  if (auto k = s.keys.find(key);
      !unparked && k != s.keys.end()
      && (k->second.blocked || !k->second.parked.empty())) {
    auto& parked = k->second.parked; // behind the key's failed event
    if (std::find(parked.begin(), parked.end(), q.pos) == parked.end())
      parked.push_back(q.pos); // (a rewind reads parked entries again)
    return;
  }
  auto& f =
      s.in_flight
          .emplace(q.pos, flight{std::move(key),
                                 std::make_shared<const event>(std::move(*ev))})
          .first->second;
  auto& e = s.keys[f.key];
  ++e.in_flight;
  s.dispatched->add();
  if (e.recovering || e.skip_pending)
    return; // held: sent once the store has answered
  if (e.in_flight == 1 && !e.actor && s.spec->skip_unchanged
      && skip_here(self, f, q.pos)) {
    e.skip_pending = true;
    e.skip_pos = q.pos;
    return;
  }
  send_to_key(self,
              key_actor_of(self, f.key, q.pos.priority == priority::urgent),
              q.pos, f.ev);
}

/// Sends parked events of keys whose retry is due, in order, while credits
/// and budget last. They are older than anything the cursor reads now.
void drain(stage_actor* self, std::size_t& budget, std::size_t cap) {
  auto& s = self->state;
  while (!s.draining.empty() && budget > 0 && s.in_flight.size() < cap) {
    auto i = s.keys.find(s.draining.front());
    if (i == s.keys.end() || i->second.blocked || i->second.parked.empty()) {
      s.draining.pop_front();
      continue;
    }
    auto pos = i->second.parked.front();
    auto bytes = s.env.st->read_entry(s.stage_id, pos);
    if (!bytes) {
      s.log->error("reading a parked event failed: {}",
                   bytes.error().describe());
      return;
    }
    i->second.parked.pop_front();
    if (!*bytes)
      continue; // gone meanwhile (dropped by an operator)
    queued_event q{pos, std::move(**bytes)};
    dispatch_one(self, q, true);
    --budget;
  }
}

/// Reads and dispatches while credits and budget last; urgent first.
void pump(stage_actor* self) {
  auto& s = self->state;
  s.pump_scheduled = false;
  if (s.paused)
    return; // what is in flight finishes; the rest waits in LMDB
  std::size_t budget = pump_budget;
  // While urgent work flows, fewer normal events are let out at once: each
  // is a ready key actor that urgent work would queue behind in CAF's
  // shared job queue.
  auto now = std::chrono::steady_clock::now();
  std::size_t normal_cap = s.spec->max_in_flight;
  if (now - s.last_urgent < urgent_mode_span)
    normal_cap = std::max<std::size_t>(urgent_mode_min_in_flight,
                                       s.spec->max_in_flight / 8);
  drain(self, budget, normal_cap);
  while (budget > 0 && s.in_flight.size() < s.spec->max_in_flight) {
    int p = s.more[0] ? 0 : (s.more[1] ? 1 : -1);
    if (p < 0)
      break;
    auto cap = p == 0 ? s.spec->max_in_flight : normal_cap;
    if (s.in_flight.size() >= cap)
      break;
    auto want = std::min({read_chunk, budget, cap - s.in_flight.size()});
    auto batch = s.env.st->read_queue(
        s.stage_id, {static_cast<priority>(p), s.cursor[p]}, want);
    if (!batch) {
      s.log->error("reading the queue failed: {}", batch.error().describe());
      break;
    }
    if (batch->size() < want)
      s.more[p] = false;
    for (auto& q : *batch) {
      s.cursor[p] = q.pos.seq + 1;
      if (s.in_flight.count(q.pos))
        continue; // dispatched already, its commit not yet seen
      if (p == 0)
        s.last_urgent = now;
      dispatch_one(self, q);
      --budget;
    }
    if (batch->empty())
      s.more[p] = false;
  }
  s.in_flight_gauge->set(static_cast<std::int64_t>(s.in_flight.size()));
  if (budget == 0 && !s.pump_scheduled) {
    s.pump_scheduled = true; // yield so urgent mail can run between chunks
    self->send(self, msg::pump_atom::value);
  }
}

/// Stops idle key actors beyond max_live_keys, oldest idle first.
void passivate(stage_actor* self) {
  auto& s = self->state;
  while (s.keys.size() > s.spec->max_live_keys && !s.idle.empty()) {
    auto key = std::move(s.idle.front());
    s.idle.pop_front();
    auto i = s.keys.find(key);
    if (i == s.keys.end() || !forgettable(i->second))
      continue;
    auto a = std::move(i->second.actor);
    s.keys.erase(i);
    if (a)
      s.key_of_actor.erase(a.id());
    // Its DOWN message reaches us from an unknown address and is ignored.
    if (a)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    s.passivated->add();
  }
  s.live_keys->set(static_cast<std::int64_t>(s.keys.size()));
}

void release(stage_actor* self, const queue_ref& ref) {
  auto& s = self->state;
  auto i = s.in_flight.find(ref.pos);
  if (i == s.in_flight.end())
    return;
  auto key = std::move(i->second.key);
  s.in_flight.erase(i);
  if (key.empty())
    return; // a corrupt entry
  auto k = s.keys.find(key);
  if (k == s.keys.end() || k->second.in_flight == 0)
    return;
  --k->second.in_flight;
  if (k->second.skip_pending && k->second.skip_pos == ref.pos) {
    k->second.skip_pending = false;
    if (k->second.in_flight > 0 && !k->second.recovering)
      send_held(self, key);
  }
  if (k->second.in_flight == 0) {
    if (k->second.express)
      retire(self, k->second); // give its thread back at once
    s.idle.push_back(key);
  }
}

/// A key actor died or its state diverged from the store: wait until every
/// completion it may have sent is committed, then start it afresh from the
/// committed state and hand it the events still in flight.
void recover_key(stage_actor* self, const std::string& key) {
  auto& s = self->state;
  auto i = s.keys.find(key);
  if (i == s.keys.end() || i->second.recovering)
    return;
  s.restarts->add();
  ++i->second.restarts;
  i->second.recovering = true;
  retire(self, i->second, caf::exit_reason::kill);
  self->request(s.store, caf::infinite, msg::flush_atom::value)
      .then([self, key]() {
        auto& s = self->state;
        auto k = s.keys.find(key);
        if (k == s.keys.end())
          return;
        k->second.recovering = false;
        k->second.skip_pending = false;
        send_held(self, key);
      });
}

/// One CAF timer, for the earliest of due retries and timers.
void arm_timer(stage_actor* self) {
  auto& s = self->state;
  s.blocked_keys->set(static_cast<std::int64_t>(s.retry_due.size()));
  s.mem_timer_gauge->set(static_cast<std::int64_t>(s.mem_timers.size()));
  // While a durable fire is at the store its answer re-arms; counting the
  // (past) due time now would wake this actor in a loop until then.
  auto next = s.firing ? INT64_MAX : s.durable_due;
  if (!s.retry_due.empty())
    next = std::min(next, s.retry_due.begin()->first);
  if (!s.mem_due.empty())
    next = std::min(next, s.mem_due.begin()->first);
  if (next == INT64_MAX || next >= s.timer_due)
    return;
  s.timer_due = next;
  auto wait = std::max<std::int64_t>(0, s.timer_due - now_ns());
  self->delayed_send(self, std::chrono::microseconds(wait / 1000 + 1),
                     msg::wake_atom::value);
}

/// Re-reads when the stage's next durable timer is due.
void read_durable_due(stage_actor* self) {
  auto& s = self->state;
  auto next = s.env.st->next_timer_due(s.stage_id);
  if (!next) {
    s.log->error("reading timers failed: {}", next.error().describe());
    return;
  }
  if (*next)
    s.durable_due = std::min(s.durable_due, **next);
}

/// Fires the timers that are due: in-memory ones are appended to the
/// stage's queue, durable ones moved there by the store, in one commit.
/// The fired events then flow like any other.
void fire_timers(stage_actor* self) {
  auto& s = self->state;
  auto now = now_ns();
  write_batch b;
  bool durable = false;
  if (s.durable_due <= now && !s.firing) {
    b.timer_fires.push_back({s.stage_id, now});
    s.durable_due = INT64_MAX; // read again once this commit is done
    durable = true;
  }
  while (!s.mem_due.empty() && s.mem_due.begin()->first <= now) {
    auto node = s.mem_due.extract(s.mem_due.begin());
    auto t = s.mem_timers.find(node.mapped());
    if (t == s.mem_timers.end() || t->second.due_ns != node.key())
      continue; // replaced or cancelled since
    b.appends.push_back(
        {s.stage_id, t->second.prio, std::move(t->second.event_bytes)});
    s.mem_timers.erase(t);
  }
  if (b.empty())
    return;
  auto fired = b.appends.size();
  s.firing = s.firing || durable;
  self->request(s.store, caf::infinite, msg::append_atom::value, std::move(b))
      .then(
          [self, durable, fired]() {
            auto& s = self->state;
            s.timers_fired->add(fired);
            if (durable) {
              s.firing = false;
              read_durable_due(self);
              arm_timer(self);
            }
          },
          [self, durable](caf::error& err) {
            auto& s = self->state;
            s.log->error("firing timers failed: {}; trying again in 1 s",
                         to_string(err));
            if (durable) {
              s.firing = false;
              s.durable_due = std::min(s.durable_due, now_ns() + 1000000000);
              arm_timer(self);
            }
          });
}

/// Unblocks the keys whose retry is due (their parked events, the failed
/// one first, go out again in order) and fires the timers that are due.
void wake(stage_actor* self) {
  auto& s = self->state;
  s.timer_due = INT64_MAX;
  auto now = now_ns();
  while (!s.retry_due.empty() && s.retry_due.begin()->first <= now) {
    auto key = std::move(s.retry_due.begin()->second);
    s.retry_due.erase(s.retry_due.begin());
    auto i = s.keys.find(key);
    if (i == s.keys.end() || !i->second.blocked)
      continue;
    i->second.blocked = false;
    if (!i->second.parked.empty())
      s.draining.push_back(std::move(key));
  }
  fire_timers(self);
  arm_timer(self);
  pump(self);
}

/// Timers set or cancelled by committed events: every op replaces the
/// key's timer of that name; in-memory sets are kept here, durable ones
/// are in LMDB and only move the next due time.
void apply_timers(stage_actor* self, std::vector<timer_change>& changes) {
  auto& s = self->state;
  for (auto& c : changes) {
    timer_id id{std::move(c.key), c.op.name};
    s.mem_timers.erase(id);
    if (c.op.cancel)
      continue;
    if (c.op.durable) {
      s.durable_due = std::min(s.durable_due, c.op.due_ns);
      continue;
    }
    s.mem_due.emplace(c.op.due_ns, id);
    s.mem_timers[std::move(id)] = {c.op.due_ns, c.op.priority,
                                   std::move(c.op.event_bytes)};
  }
  arm_timer(self);
}

/// The event at `r.ref.pos` failed and stays queued until `r.due_ns`. Its
/// key actor dropped every later event of the key; they are parked behind
/// it (back to LMDB only), and the actor is replaced, so nothing it still
/// holds can run. Other keys go on.
void block_key(stage_actor* self, const retry_ref& r) {
  auto& s = self->state;
  auto f = s.in_flight.find(r.ref.pos);
  if (f == s.in_flight.end() || f->second.key.empty())
    return;
  auto key = f->second.key;
  auto& e = s.keys[key];
  std::deque<keys::queue_pos> parked{r.ref.pos};
  for (auto j = s.in_flight.begin(); j != s.in_flight.end();) {
    if (j->second.key == key) {
      if (j->first != r.ref.pos)
        parked.push_back(j->first);
      j = s.in_flight.erase(j);
    } else {
      ++j;
    }
  }
  for (auto& p : e.parked)
    parked.push_back(p);
  e.parked = std::move(parked);
  e.in_flight = 0;
  e.skip_pending = false;
  e.blocked = true;
  retire(self, e, caf::exit_reason::kill);
  s.retry_due.emplace(r.due_ns, key);
  s.retries->add();
  arm_timer(self);
}

/// Keys with a retry pending in LMDB start blocked (after a restart, and
/// when shards arrive by hand-off). Keys blocked already stay as they are.
void load_retries(stage_actor* self) {
  auto& s = self->state;
  auto pending = s.env.st->scan_retries(s.stage_id);
  if (!pending) {
    s.log->error("reading pending retries failed: {}",
                 pending.error().describe());
    return;
  }
  std::size_t loaded = 0;
  for (auto& r : *pending) {
    if (!dispatches_here(s.env.place, r.key))
      continue;
    auto& e = s.keys[r.key];
    if (e.blocked)
      continue;
    e.blocked = true;
    s.retry_due.emplace(r.due_ns, r.key);
    ++loaded;
  }
  if (loaded > 0)
    s.log->info("{} keys wait for a retry", loaded);
  arm_timer(self);
}

/// Shards are being handed off: forgets what the stage holds of their
/// keys (their events, retries and timers are in LMDB and move with
/// them), except events in flight, and returns how many those are. The
/// hand-off asks again until none are left.
std::uint64_t let_go(stage_actor* self,
                     const std::vector<std::uint32_t>& shards) {
  auto& s = self->state;
  std::vector<bool> in(shard_count, false);
  for (auto sh : shards)
    if (sh < shard_count)
      in[sh] = true;
  std::uint64_t busy = 0;
  for (auto& [pos, f] : s.in_flight)
    if (!f.key.empty() && in[shard_of(f.key)])
      ++busy;
  std::vector<std::string> gone;
  for (auto& [key, e] : s.keys)
    if (in[shard_of(key)] && e.in_flight == 0 && !e.recovering
        && !e.skip_pending)
      gone.push_back(key);
  for (auto& key : gone) {
    auto i = s.keys.find(key);
    if (i->second.actor) {
      s.key_of_actor.erase(i->second.actor.id());
      self->send_exit(i->second.actor, caf::exit_reason::user_shutdown);
    }
    s.keys.erase(i);
  }
  s.live_keys->set(static_cast<std::int64_t>(s.keys.size()));
  return busy;
}

/// Shards became dispatchable here (a hand-off brought them, or one was
/// called off): read the queues again from the start, and pick up their
/// pending retries and durable timers.
void rewind(stage_actor* self) {
  auto& s = self->state;
  s.cursor[0] = s.cursor[1] = 0;
  s.more[0] = s.more[1] = true;
  load_retries(self);
  read_durable_due(self);
  pump(self);
}

/// Stops every key actor of the stage (and its raw actor), with the stage.
void stop_key_actors(stage_actor* self, const caf::error& reason) {
  for (auto& [key, e] : self->state.keys)
    if (e.actor)
      self->send_exit(e.actor, reason);
  if (self->state.stage_actor)
    self->send_exit(self->state.stage_actor, reason);
}

/// Beyond the stage's restart intensity: stop it, loudly; the node
/// supervisor then decides (escalation).
void exceed_intensity(stage_actor* self, const std::string& last_crash) {
  auto& s = self->state;
  auto why = "stage " + s.spec->name + ": "
             + s.restarts_window->exceeded_message()
             + "; last crash: " + last_crash;
  s.log->critical("{}; stopping the stage", why);
  stop_key_actors(self, caf::exit_reason::user_shutdown);
  self->quit(caf::make_error(caf::sec::runtime_error, why));
}

/// An actor stage's actor died: start a new one and tell the live key
/// actors, within the stage's restart intensity. The events it held fail
/// (their requests return an error) and are retried with backoff.
void on_stage_actor_down(stage_actor* self, const caf::error& reason) {
  auto& s = self->state;
  s.stage_actor = nullptr;
  if (!s.restarts_window->allow(std::chrono::steady_clock::now())) {
    exceed_intensity(self, "actor stage " + s.spec->behaviour + " ("
                               + to_string(reason) + ")");
    return;
  }
  s.restarts->add();
  s.stage_actor =
      spawn_actor_stage(self, *s.env.reg->actor_stage(s.spec->behaviour));
  s.log->error("actor stage {} stopped ({}); restarted it", s.spec->behaviour,
               to_string(reason));
  for (auto& [key, e] : s.keys)
    if (e.actor)
      self->send<caf::message_priority::high>(
          e.actor, msg::stage_actor_atom::value, s.stage_actor);
}

/// A key actor crashed: restart it (and, by the stage's strategy, its
/// siblings) from committed state, or stop the stage when the restarts
/// exceed its intensity. The node supervisor then decides (escalation).
void on_key_crash(stage_actor* self, const std::string& key,
                  const caf::error& reason) {
  auto& s = self->state;
  auto& w = *s.restarts_window;
  if (!w.allow(std::chrono::steady_clock::now())) {
    exceed_intensity(self, "key " + key + " (" + to_string(reason) + ")");
    return;
  }
  auto crashed = s.keys.find(key);
  auto started = crashed == s.keys.end() ? 0 : crashed->second.started;
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
               to_string(reason), restart.size(),
               to_string(w.policy().strategy));
  for (auto& k : restart)
    recover_key(self, k);
}

/// A live key's entry as the console sees it (in-flight counts apart).
msg::key_snapshot entry_view(const std::string& key, const key_entry& e) {
  msg::key_snapshot k;
  k.key = key;
  k.live = true;
  k.actor = static_cast<bool>(e.actor);
  k.express = e.express;
  k.parked = static_cast<std::uint32_t>(e.parked.size());
  k.retrying = e.blocked;
  k.restarts = e.restarts;
  return k;
}

/// What the stage knows of `key` beyond LMDB.
msg::key_snapshot key_view(const stage_state& s, const std::string& key) {
  auto i = s.keys.find(key);
  if (i == s.keys.end()) {
    msg::key_snapshot k;
    k.key = key;
    return k;
  }
  auto k = entry_view(key, i->second);
  for (auto& [pos, f] : s.in_flight)
    if (f.key == key)
      ++k.in_flight[static_cast<int>(pos.priority)];
  return k;
}

/// The stage's live keys, the busiest first, at most `limit` of them.
msg::stage_snapshot snapshot(const stage_state& s, std::size_t limit) {
  msg::stage_snapshot out;
  out.paused = s.paused;
  out.live_keys = s.keys.size();
  out.in_flight = s.in_flight.size();
  std::unordered_map<std::string, std::array<std::uint32_t, 2>> counts;
  for (auto& [pos, f] : s.in_flight)
    if (!f.key.empty())
      ++counts[f.key][static_cast<int>(pos.priority)];
  for (auto& [key, e] : s.keys) {
    auto k = entry_view(key, e);
    if (auto c = counts.find(key); c != counts.end()) {
      k.in_flight[0] = c->second[0];
      k.in_flight[1] = c->second[1];
    }
    out.keys.push_back(std::move(k));
  }
  auto load = [](const msg::key_snapshot& k) {
    return k.in_flight[0] + k.in_flight[1] + k.parked;
  };
  std::sort(out.keys.begin(), out.keys.end(), [&](auto& a, auto& b) {
    return load(a) != load(b) ? load(a) > load(b) : a.key < b.key;
  });
  if (out.keys.size() > limit)
    out.keys.resize(limit);
  return out;
}

caf::behavior stage_supervisor_impl(stage_actor* self, node_env env,
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
    s.stage_actor = spawn_actor_stage(self, *f);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& s = self->state;
    if (s.stage_actor && dm.source == s.stage_actor.address()) {
      on_stage_actor_down(self, dm.reason);
      return;
    }
    auto i = s.key_of_actor.find(dm.source.id());
    if (i == s.key_of_actor.end())
      return; // a passivated or replaced key actor
    auto key = i->second;
    on_key_crash(self, key, dm.reason);
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
  self->send(self, msg::pump_atom::value);
  return {
      [self](msg::pump_atom) { pump(self); },
      [self](msg::wake_atom) { wake(self); },
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
  return parent->spawn<caf::linked>(stage_supervisor_impl, std::move(env),
                                    stage_index, std::move(store_actor),
                                    parent->address(), paused);
}

} // namespace sluice
