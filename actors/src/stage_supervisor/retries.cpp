// Retry parking in the stage supervisor: a key whose event failed and waits
// for its retry is blocked; its later events are parked (positions only,
// the events stay in LMDB) and drained in order once the retry is due.
// Runs in the stage supervisor.
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "state.hpp"

namespace sluice::stage_supervision {

/// The event at `r.ref.pos` failed and stays queued until `r.due_ns`. Its
/// key actor dropped every later event of the key; they are parked behind
/// it (back to LMDB only), and the actor is replaced, so nothing it still
/// holds can run. Other keys go on.
void block_key(self_ptr self, const retry_ref& r, bool retry) {
  auto& s = self->state;
  auto f = s.in_flight.find(r.ref.pos);
  if (f == s.in_flight.end() || f->second.key.empty())
    return;
  auto key = f->second.key;
  auto& e = s.keys.entry(key);
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
  if (retry)
    s.retries->add();
  arm_timer(self);
}

/// Keys with a retry pending in LMDB start blocked (after a restart, and
/// when shards arrive by hand-off). Keys blocked already stay as they are.
void load_retries(self_ptr self) {
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
    auto& e = s.keys.entry(r.key);
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

void unblock_due(self_ptr self, std::int64_t now) {
  auto& s = self->state;
  while (!s.retry_due.empty() && s.retry_due.begin()->first <= now) {
    auto key = std::move(s.retry_due.begin()->second);
    s.retry_due.erase(s.retry_due.begin());
    auto* e = s.keys.find(key);
    if (!e || !e->blocked)
      continue;
    e->blocked = false;
    if (!e->parked.empty())
      s.draining.push_back(std::move(key));
  }
}

} // namespace sluice::stage_supervision
