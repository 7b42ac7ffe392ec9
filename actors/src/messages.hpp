// Every message that actors of one node exchange, named in one place. All
// are local to a process (cluster traffic is protobuf bytes, see cluster/).
#pragma once

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/store/store.hpp"

namespace sluice::msg {

// store actor
using append_atom =
    caf::atom_constant<caf::atom("append")>; // (write_batch) -> ok after commit
using complete_atom = caf::atom_constant<caf::atom("complete")>; // (completion)
using flush_atom =
    caf::atom_constant<caf::atom("flush")>; // () -> ok after commit
using routers_atom = caf::atom_constant<caf::atom("routers")>; // (router_table)
using tick_atom = caf::atom_constant<caf::atom("tick")>; // commit window ends

// stage supervisor (router)
using committed_atom =
    caf::atom_constant<caf::atom("committed")>;          // (stage_commit)
using pump_atom = caf::atom_constant<caf::atom("pump")>; // ()
using stats_atom =
    caf::atom_constant<caf::atom("stats")>; // () -> stage_snapshot
using wake_atom =
    caf::atom_constant<caf::atom("wake")>; // () retries or timers due

// key actor
using process_atom = caf::atom_constant<caf::atom("process")>; // (dispatch)
using rebind_atom = caf::atom_constant<caf::atom("rebind")>;   // (key)
using stage_actor_atom =
    caf::atom_constant<caf::atom("stageactor")>; // (actor) restarted

// feed source
using read_atom = caf::atom_constant<caf::atom("read")>;

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

/// Stage id -> router, sent to the store actor once the stages run.
struct router_table {
  std::vector<std::pair<std::uint32_t, caf::actor>> routers;
};

} // namespace sluice::msg

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::write_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::completion)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::msg::stage_commit)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::msg::dispatch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::msg::router_table)
