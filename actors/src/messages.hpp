// Every message that actors of one node exchange, named in one place. All
// are local to a process (cluster traffic is protobuf bytes, see cluster/).
#pragma once

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/node_extension.hpp"
#include "sluice/store/store.hpp"

namespace sluice::msg {

// store actor
using append_atom =
    caf::atom_constant<caf::atom("append")>; // (write_batch) -> ok after commit
using complete_atom = caf::atom_constant<caf::atom("complete")>; // (completion)
using flush_atom =
    caf::atom_constant<caf::atom("flush")>; // () -> ok after commit
using stage_supervisors_atom =
    caf::atom_constant<caf::atom("stagesups")>; // (stage_supervisor_table)
/// (stage id u32, caf::actor): a stage supervisor, as it starts and before
/// it dispatches anything, so no commit report of its events can reach the
/// store before the store knows where to send it.
using stage_supervisor_atom = caf::atom_constant<caf::atom("stagesup")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>; // commit window ends
/// (shard u32, seq u64) -> ok once the shard's high-watermark reaches seq
/// (a replicated store; at once otherwise): an on-demand answer's read.
using replicated_read_atom = caf::atom_constant<caf::atom("replread")>;

// stage supervisor
using committed_atom =
    caf::atom_constant<caf::atom("committed")>;          // (stage_commit)
using pump_atom = caf::atom_constant<caf::atom("pump")>; // ()
using stats_atom =
    caf::atom_constant<caf::atom("stats")>; // () -> stage_snapshot
using wake_atom =
    caf::atom_constant<caf::atom("wake")>; // () retries or timers due
using idle_check_atom =
    caf::atom_constant<caf::atom("idlecheck")>; // () passivate idle keys

using let_go_atom = ext::let_go_atom; // (shards) -> in flight; forget them
using rewind_atom =
    caf::atom_constant<caf::atom("rewind")>; // () shards arrived: reread

// key actor
using process_atom = caf::atom_constant<caf::atom("process")>; // (dispatch)
using rebind_atom = caf::atom_constant<caf::atom("rebind")>;   // (key)
/// (dispatch) a key actor could not run: the key's stored record is
/// damaged here and its shard is being fetched again from a replica.
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using raw_actor_atom =
    caf::atom_constant<caf::atom("rawactor")>; // (actor) restarted

// feed source
using read_atom = caf::atom_constant<caf::atom("read")>;

// admin (the console's questions, asked of the node supervisor and stages)
using stages_atom =
    caf::atom_constant<caf::atom("stages")>; // () -> std::vector<caf::actor>
using pause_atom =
    caf::atom_constant<caf::atom("pause")>; // (index, bool) / (bool) -> ok
using drain_atom = caf::atom_constant<caf::atom("drain")>; // () -> ok
using poke_atom =
    caf::atom_constant<caf::atom("poke")>; // () queues changed outside
using actors_atom =
    caf::atom_constant<caf::atom("actors")>; // () -> stage_snapshot
using inspect_atom =
    caf::atom_constant<caf::atom("inspect")>; // (key) -> key_snapshot

/// What one commit means for one stage.
struct stage_commit {
  std::vector<queue_ref> consumed;
  std::vector<queue_ref> rejected;
  std::vector<queue_ref> duplicates;
  std::vector<retry_ref> retried;
  std::vector<timer_change> timers;   ///< timers set or cancelled
  std::uint64_t appended[2] = {0, 0}; ///< by priority
};

/// One event handed to a key actor. Shared with the stage supervisor,
/// which keeps it until the commit in case the key actor must be restarted.
struct dispatch {
  keys::queue_pos pos;
  std::shared_ptr<const sluice::event> ev;
};

/// What a stage supervisor knows of one live key that LMDB does not.
struct key_snapshot {
  std::string key;
  bool live = false;    ///< it has an entry (an actor, or work in flight)
  bool actor = false;   ///< a key actor is running for it
  bool express = false; ///< that actor has its own thread (urgent work)
  std::uint32_t in_flight[2] = {0, 0}; ///< dispatched, by priority
  std::uint32_t parked = 0;            ///< waiting behind a retry
  bool retrying = false;               ///< its failed event waits
  std::uint32_t restarts = 0;          ///< its actor's restarts
};

/// A stage supervisor's live view, for `actors` and `stages`.
struct stage_snapshot {
  bool paused = false;
  std::size_t live_keys = 0;
  std::size_t in_flight = 0;
  std::vector<key_snapshot> keys; ///< the busiest first, at most `limit`
};

/// Stage id -> stage supervisor, sent to the store actor once the stages
/// run.
struct stage_supervisor_table {
  std::vector<std::pair<std::uint32_t, caf::actor>> supervisors;
  /// Stage id -> name (for metrics): a topology applied live adds stages.
  std::vector<std::pair<std::uint32_t, std::string>> names;
};

} // namespace sluice::msg

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::write_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::completion)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::msg::stage_commit)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::msg::dispatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::msg::stage_supervisor_table)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::msg::key_snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::msg::stage_snapshot)
