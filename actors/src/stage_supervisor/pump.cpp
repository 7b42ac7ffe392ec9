// The credit pump: at most max_in_flight events of a stage are out of LMDB
// at once (dispatched, not yet committed). Urgent entries are read and sent
// first, with CAF's high mailbox priority. A backlog stays in LMDB. Runs in
// the stage supervisor.
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>

#include "sluice/dead_letter.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/key_processor.hpp"
#include "state.hpp"

namespace sluice::stage_supervision {

namespace {

constexpr std::size_t read_chunk = 256;   // entries per LMDB read
constexpr std::size_t pump_budget = 1024; // dispatches per handler run
constexpr std::chrono::seconds urgent_mode_span{2};
constexpr std::size_t urgent_mode_min_in_flight = 64;

/// An entry that does not decode cannot be given to any key: it goes to
/// dead letters through the store, with the reason.
void dead_letter_corrupt(self_ptr self, const queued_event& q,
                         const error& why) {
  auto& s = self->state;
  s.corrupt->add();
  s.log->error("{}", why.describe());
  completion c;
  c.stage_id = s.stage_id;
  c.consumed = q.pos;
  c.touch_state = false;
  c.urgent = q.pos.priority == priority::urgent;
  c.dead_letter =
      dead_letter_record(s.spec->name, "", q.bytes,
                         {{1, now_ns(), why.describe()}}, !q.damaged.empty());
  s.in_flight.emplace(q.pos, flight{});
  self->send(s.store, msg::complete_atom::value, std::move(c));
}

/// Skip-unchanged without a key actor, for a key with nothing in flight and
/// no live actor: when the stored content hash equals the event's, the
/// acknowledgement goes straight to the store. Saves waking (or spawning)
/// an actor per unchanged event, which dominates a re-fed unchanged input.
bool skip_here(self_ptr self, const flight& f, keys::queue_pos pos) {
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

/// Hands one queue entry to its key. `unparked`: it comes from the key's
/// parked list (its retry is due), not from the queue cursor.
void dispatch_one(self_ptr self, queued_event& q, bool unparked = false) {
  auto& s = self->state;
  auto where = "queue." + s.spec->name + "[" + to_string(q.pos.priority) + ":"
               + std::to_string(q.pos.seq) + "]";
  if (!q.damaged.empty()) {
    dead_letter_corrupt(self, q, fail(errc::corrupt, where + ": " + q.damaged));
    return;
  }
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
  if (auto* k = s.keys.find(key);
      !unparked && k && (k->blocked || !k->parked.empty())) {
    auto& parked = k->parked; // behind the key's failed event
    if (std::find(parked.begin(), parked.end(), q.pos) == parked.end())
      parked.push_back(q.pos); // (a rewind reads parked entries again)
    return;
  }
  auto& f =
      s.in_flight
          .emplace(q.pos, flight{std::move(key),
                                 std::make_shared<const event>(std::move(*ev))})
          .first->second;
  auto& e = s.keys.entry(f.key);
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
void drain(self_ptr self, std::size_t& budget, std::size_t cap) {
  auto& s = self->state;
  while (!s.draining.empty() && budget > 0 && s.in_flight.size() < cap) {
    auto* k = s.keys.find(s.draining.front());
    if (!k || k->blocked || k->parked.empty()) {
      s.draining.pop_front();
      continue;
    }
    auto pos = k->parked.front();
    auto bytes = s.env.st->read_entry(s.stage_id, pos);
    if (!bytes && bytes.error().code != errc::corrupt) {
      s.log->error("reading a parked event failed: {}",
                   bytes.error().describe());
      return;
    }
    k->parked.pop_front();
    if (bytes && !*bytes)
      continue; // gone meanwhile (dropped by an operator)
    // Damaged since it was parked: a dead letter, never processed.
    queued_event q{pos, bytes ? std::move(**bytes) : std::string(),
                   bytes ? std::string() : bytes.error().describe()};
    dispatch_one(self, q, true);
    --budget;
  }
}

} // namespace

void send_held(self_ptr self, const std::string& key) {
  auto& s = self->state;
  caf::actor* a = nullptr;
  for (auto& [pos, f] : s.in_flight)
    if (f.key == key) {
      if (!a)
        a = &key_actor_of(self, key);
      send_to_key(self, *a, pos, f.ev);
    }
}

void pump(self_ptr self) {
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
  if (now - s.last_urgent < urgent_mode_span
      || urgent_within(s.env, now, urgent_mode_span))
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
      if (p == 0) {
        s.last_urgent = now;
        note_urgent(s.env, now);
      }
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

void release(self_ptr self, const queue_ref& ref) {
  auto& s = self->state;
  auto i = s.in_flight.find(ref.pos);
  if (i == s.in_flight.end())
    return;
  auto key = std::move(i->second.key);
  s.in_flight.erase(i);
  if (key.empty())
    return; // a corrupt entry
  auto* k = s.keys.find(key);
  if (!k || k->in_flight == 0)
    return;
  --k->in_flight;
  if (k->skip_pending && k->skip_pos == ref.pos) {
    k->skip_pending = false;
    if (k->in_flight > 0 && !k->recovering)
      send_held(self, key);
  }
  if (k->in_flight == 0) {
    if (k->express)
      retire(self, *k); // give its thread back at once
    s.keys.went_idle(key, *k);
  }
}

} // namespace sluice::stage_supervision
