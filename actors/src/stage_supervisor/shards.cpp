// Shard let-go and rewind in the stage supervisor: what it forgets of the
// keys of shards being handed off, and how it picks up shards that became
// dispatchable here. Runs in the stage supervisor.
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "state.hpp"

namespace sluice::stage_supervision {

/// Forgets what the stage holds of the shards' keys (their events, retries
/// and timers are in LMDB and move with them), except events in flight,
/// and returns how many those are. The hand-off asks again until none are
/// left.
std::uint64_t let_go(self_ptr self, const std::vector<std::uint32_t>& shards) {
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
  for (auto& key : gone)
    if (auto a = s.keys.forget(key))
      self->send_exit(a, caf::exit_reason::user_shutdown);
  s.live_keys->set(static_cast<std::int64_t>(s.keys.size()));
  return busy;
}

/// Shards became dispatchable here (a hand-off brought them, or one was
/// called off): read the queues again from the start, and pick up their
/// pending retries and durable timers.
void rewind(self_ptr self) {
  auto& s = self->state;
  s.cursor[0] = s.cursor[1] = 0;
  s.more[0] = s.more[1] = true;
  load_retries(self);
  read_durable_due(self);
  pump(self);
}

} // namespace sluice::stage_supervision
