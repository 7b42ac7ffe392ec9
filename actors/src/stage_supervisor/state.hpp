// The stage supervisor's state and the functions that act on it, one file
// per concept (pump.cpp, key_actors.cpp, retries.cpp, timers.cpp,
// supervision.cpp, shards.cpp, views.cpp). Private to the supervisor: every
// function runs in the supervisor actor, which owns the state alone.
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../messages.hpp"
#include "../node_env.hpp"
#include "key_actor_pool.hpp"
#include "sluice/supervision.hpp"

namespace sluice::stage_supervision {

/// What the supervisor holds of one live key beyond LMDB.
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
  std::uint64_t started = 0; ///< spawn order of its actor (rest_for_one)
  /// When the key last went idle (the pool's; max: never).
  std::chrono::steady_clock::time_point idle_since =
      std::chrono::steady_clock::time_point::max();
  std::uint32_t restarts = 0; ///< times its actor was restarted

  /// True when the entry holds nothing that LMDB does not: no event in
  /// flight, no recovery under way, no retry pending and nothing parked.
  /// Only such an entry may be dropped (passivation) or its actor reused.
  bool forgettable() const {
    return in_flight == 0 && !recovering && !blocked && parked.empty();
  }
};

/// An event dispatched and not yet committed (a corrupt entry has no key).
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

struct stage_supervisor_state {
  node_env env;
  std::size_t index = 0;
  std::uint32_t stage_id = 0;
  const stage_spec* spec = nullptr;
  caf::actor store;
  caf::actor_addr parent;
  /// An actor stage's raw CAF actor (null for a behaviour stage).
  caf::actor raw_actor;
  std::shared_ptr<spdlog::logger> log;
  std::uint64_t cursor[2] = {0, 0}; // next seq to read, per priority
  bool more[2] = {true, true};      // the queue may hold unread entries
  std::map<keys::queue_pos, flight> in_flight;
  key_actor_pool<key_entry> keys; ///< live keys and their actors
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

using stage_supervisor_actor = caf::stateful_actor<stage_supervisor_state>;
using self_ptr = stage_supervisor_actor*;

// -- the credit pump (pump.cpp) ---------------------------------------------

/// Reads and dispatches while credits and budget last; urgent first.
void pump(self_ptr self);
/// The event at `ref` is committed: its credit comes back, and its key
/// goes idle when nothing else of it is in flight.
void release(self_ptr self, const queue_ref& ref);
/// Sends the key's in-flight events to its actor (spawned if need be), in
/// queue order: once a skip decided here has committed, or after recovery.
void send_held(self_ptr self, const std::string& key);

// -- the key actors (key_actors.cpp) ----------------------------------------

/// The pool's hooks: spawning a key actor and rebinding an idle one.
void init_key_actors(self_ptr self);
/// The key's actor, spawned on demand (`express`: on its own thread).
caf::actor& key_actor_of(self_ptr self, const std::string& key,
                         bool express = false);
/// Hands one event to a key's actor, at the event's priority.
void send_to_key(self_ptr self, caf::actor& a, keys::queue_pos pos,
                 const std::shared_ptr<const event>& ev);
/// Stops a key's actor (`user_shutdown`, or `kill` when it is replaced).
void retire(self_ptr self, key_entry& e,
            caf::exit_reason reason = caf::exit_reason::user_shutdown);
/// Stops idle key actors beyond max_live_keys, oldest idle first.
void passivate(self_ptr self);

/// Stops the key actors idle for the stage's passivate_after (if set).
void passivate_idle(self_ptr self);

/// Asks for the next idle check, a fraction of passivate_after from now
/// (none while it is 0).
void arm_idle_check(self_ptr self);
/// Stops every key actor of the stage (and its raw actor), with the stage.
void stop_key_actors(self_ptr self, const caf::error& reason);

// -- retry parking (retries.cpp) --------------------------------------------

/// The event at `r.ref.pos` failed and waits for its retry (or, `retry`
/// false, could not run: its key's record is being fetched again from a
/// replica): park the key until `r.due_ns`.
void block_key(self_ptr self, const retry_ref& r, bool retry = true);
/// Keys with a retry pending in LMDB start blocked.
void load_retries(self_ptr self);
/// Unblocks the keys whose retry is due by `now_ns`; their parked events
/// are drained by the next pump.
void unblock_due(self_ptr self, std::int64_t now_ns);

// -- timers (timers.cpp) ----------------------------------------------------

/// One CAF timer, for the earliest of due retries and timers.
void arm_timer(self_ptr self);
/// Re-reads when the stage's next durable timer is due.
void read_durable_due(self_ptr self);
/// Retries and timers that are due: unblock, fire, re-arm, pump.
void wake(self_ptr self);
/// Timers set or cancelled by committed events.
void apply_timers(self_ptr self, std::vector<timer_change>& changes);

// -- key supervision (supervision.cpp) --------------------------------------

/// Restarts a key's actor from committed state once its completions are in.
void recover_key(self_ptr self, const std::string& key);
/// A key actor crashed: restart by the stage's strategy, or stop the stage.
void on_key_crash(self_ptr self, const std::string& key,
                  const caf::error& reason);
/// The actor stage's raw actor died: restart it, or stop the stage.
void on_raw_actor_down(self_ptr self, const caf::error& reason);

// -- shard let-go and rewind (shards.cpp) -----------------------------------

/// Forgets the keys of `shards` being handed off; returns how many of
/// their events are still in flight.
std::uint64_t let_go(self_ptr self, const std::vector<std::uint32_t>& shards);
/// Shards became dispatchable here: read the queues again from the start.
void rewind(self_ptr self);

// -- the console's views (views.cpp) ----------------------------------------

/// What the stage knows of `key` beyond LMDB.
msg::key_snapshot key_view(const stage_supervisor_state& s,
                           const std::string& key);
/// The stage's live keys, the busiest first, at most `limit` of them.
msg::stage_snapshot snapshot(const stage_supervisor_state& s,
                             std::size_t limit);

} // namespace sluice::stage_supervision
