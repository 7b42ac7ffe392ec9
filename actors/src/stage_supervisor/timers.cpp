// Behaviour timers and retry wake-ups in the stage supervisor: one CAF timer
// for the earliest due retry or timer; in-memory timers kept here, durable
// ones in LMDB (only their next due time here); fired timers are appended to
// the stage's queue. Runs in the stage supervisor.
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>

#include "state.hpp"

namespace sluice::stage_supervision {

namespace {

/// Fires the timers that are due: in-memory ones are appended to the
/// stage's queue, durable ones moved there by the store, in one commit.
/// The fired events then flow like any other.
void fire_timers(self_ptr self) {
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

} // namespace

void arm_timer(self_ptr self) {
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

void read_durable_due(self_ptr self) {
  auto& s = self->state;
  auto next = s.env.st->next_timer_due(s.stage_id);
  if (!next) {
    s.log->error("reading timers failed: {}", next.error().describe());
    return;
  }
  if (*next)
    s.durable_due = std::min(s.durable_due, **next);
}

/// Unblocks the keys whose retry is due (their parked events, the failed
/// one first, go out again in order) and fires the timers that are due.
void wake(self_ptr self) {
  self->state.timer_due = INT64_MAX;
  unblock_due(self, now_ns());
  fire_timers(self);
  arm_timer(self);
  pump(self);
}

/// Every op replaces the key's timer of that name; in-memory sets are kept
/// here, durable ones are in LMDB and only move the next due time.
void apply_timers(self_ptr self, std::vector<timer_change>& changes) {
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

} // namespace sluice::stage_supervision
